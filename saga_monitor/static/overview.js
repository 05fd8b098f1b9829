// The overview: counts by status, throughput and durations, stuck first, search and paging.
"use strict";

const LIMIT = 50;
const query = new URLSearchParams(location.search);
const form = document.getElementById("search");
form.q.value = query.get("q") || "";
form.status.value = query.get("status") || "";
let offset = Number(query.get("offset") || 0);

function remember() {
  const params = new URLSearchParams();
  if (form.q.value) params.set("q", form.q.value);
  if (form.status.value) params.set("status", form.status.value);
  if (offset) params.set("offset", offset);
  history.replaceState(null, "", params.toString() ? "?" + params : location.pathname);
  return params;
}

function cards(stats) {
  const shown = [["stuck", stats.stuck], ...Object.entries(stats.by_status), ["all", stats.sagas]];
  document.getElementById("cards").replaceChildren(...shown.map(([status, count]) => {
    const card = el("div", {class: "card " + status + (form.status.value === status ||
                    (status === "all" && !form.status.value) ? " active" : ""),
                    "data-testid": "count-" + status},
                    el("div", {class: "muted", text: status}), el("div", {class: "n", text: count}));
    card.addEventListener("click", () => {
      form.status.value = status === "all" ? "" : status;
      offset = 0;
      refresh();
    });
    return card;
  }));
}

function rates(stats) {
  document.getElementById("window").textContent = seconds(stats.window_seconds);
  const d = stats.duration_seconds;
  const entries = [
    ["completed / s", stats.completed_per_second], ["cancelled / s", stats.cancelled_per_second],
    ["duration p50", seconds(d.p50)], ["duration p90", seconds(d.p90)],
    ["duration p99", seconds(d.p99)], ["duration max", seconds(d.max)], ["finished", d.count],
  ];
  document.getElementById("rates").replaceChildren(
    ...entries.flatMap(([name, value]) => [el("dt", {text: name}), el("dd", {text: value})]));
  const svg = document.getElementById("throughput");
  const series = stats.throughput, most = Math.max(1, ...series.map(b => b.completed + b.cancelled));
  const width = 420 / series.length, ns = "http://www.w3.org/2000/svg";
  svg.replaceChildren(...series.flatMap((bucket, i) => [["completed", "#059669", 0],
      ["cancelled", "#9ca3af", bucket.completed]].map(([name, color, below]) => {
    const rect = document.createElementNS(ns, "rect");
    const h = 66 * bucket[name] / most, y = 68 - 66 * below / most - h;
    Object.entries({x: i * width + 1, y, width: width - 2, height: h, fill: color}).forEach(
      ([k, v]) => rect.setAttribute(k, v));
    const title = document.createElementNS(ns, "title");
    title.textContent = `${bucket[name]} ${name}, ${seconds(bucket.seconds_ago)} ago`;
    rect.append(title);
    return rect;
  })));
}

function rowFor(saga) {
  const waiting = saga.waiting_for.map(w => w.services.join(", ") + " (" + w.step + ")").join("; ");
  return el("tr", {class: saga.stuck ? "stuck" : "", "data-order-id": saga.order_id},
    el("td", {}, el("a", {href: "/sagas/" + encodeURIComponent(saga.order_id),
                          text: saga.order_id})),
    el("td", {text: saga.customer_id || "—"}),
    el("td", {}, badge(saga.status), saga.stuck ? badge("stuck") : null,
       saga.needs_operator ? badge("needs an operator", "stuck") : null,
       saga.cancelled_by_deadline ? badge("deadline", "cancelled") : null,
       saga.dead_letters_pending ? badge("dead letter", "stuck") : null),
    el("td", {class: "num", text: clock(saga.started_at)}),
    el("td", {class: "num", text: saga.finished ? seconds(saga.duration_seconds)
                                                : seconds(saga.age_seconds) + " (running)"}),
    el("td", {text: saga.last_event ? saga.last_event.event_type : "—"}),
    el("td", {text: waiting || "—"}));
}

async function refresh() {
  const params = remember();
  params.set("limit", LIMIT);
  params.set("offset", offset);
  const [{body: stats}, {body: page}] = await Promise.all([
    getJSON("/api/stats"), getJSON("/api/sagas?" + params)]);
  cards(stats);
  rates(stats);
  document.getElementById("rows").replaceChildren(...page.sagas.map(rowFor));
  const last = Math.min(page.total, offset + page.sagas.length);
  document.getElementById("range").textContent =
    page.total ? `${offset + 1}–${last} of ${page.total}` : "no saga matches";
  document.getElementById("previous").disabled = offset === 0;
  document.getElementById("next").disabled = last >= page.total;
  await showHealth();
}

form.addEventListener("submit", event => { event.preventDefault(); offset = 0; refresh(); });
form.status.addEventListener("change", () => { offset = 0; refresh(); });
document.getElementById("previous").addEventListener("click", () => {
  offset = Math.max(0, offset - LIMIT); refresh();
});
document.getElementById("next").addEventListener("click", () => { offset += LIMIT; refresh(); });
live(refresh);
