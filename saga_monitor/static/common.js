// Shared by both pages: JSON fetching, live updates, formatting, DOM building. No build step.
"use strict";

async function getJSON(url) {
  const response = await fetch(url, {cache: "no-store"});
  const body = await response.json();
  return {status: response.status, body};
}

// Calls `refresh` now and whenever /api/live says something changed (server-sent events);
// falls back to polling every second when the stream is unavailable.
function live(refresh) {
  let busy = false, again = false;
  const run = async () => {
    if (busy) { again = true; return; }
    busy = true;
    try { await refresh(); } catch (error) { console.error(error); }
    busy = false;
    if (again) { again = false; run(); }
  };
  run();
  if (window.EventSource) {
    const source = new EventSource("/api/live");
    source.addEventListener("change", run);
    let polling = null;
    source.onerror = () => { if (!polling) polling = setInterval(run, 1000); };
    source.onopen = () => { if (polling) { clearInterval(polling); polling = null; } };
  } else {
    setInterval(run, 1000);
  }
}

async function showHealth() {
  const node = document.getElementById("health");
  try {
    const {body} = await getJSON("/api/health");
    node.textContent = body.ready ? "ready" : "not ready";
    node.className = "health " + (body.ready ? "ready" : "not-ready");
    node.title = (body.problems || []).join("\n");
  } catch (error) {
    node.textContent = "unreachable";
    node.className = "health not-ready";
  }
  document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
}

function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "text") node.textContent = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

function badge(text, kind) {
  return el("span", {class: "badge " + (kind || text), "data-testid": "badge-" + text, text});
}

function seconds(value) {
  if (value === null || value === undefined) return "—";
  const abs = Math.abs(value);
  if (abs < 1) return Math.round(value * 1000) + " ms";
  if (abs < 120) return value.toFixed(abs < 10 ? 2 : 1) + " s";
  if (abs < 7200) return (value / 60).toFixed(1) + " min";
  return (value / 3600).toFixed(1) + " h";
}

function clock(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  return date.toLocaleTimeString([], {hour12: false}) + "." +
    String(date.getMilliseconds()).padStart(3, "0");
}

function copyButton(text) {
  const button = el("button", {type: "button", text: "copy"});
  button.addEventListener("click", () => navigator.clipboard && navigator.clipboard.writeText(text));
  return button;
}
