// The timeline of one saga as SVG: one lane per service, each event at its time (kept at least
// a marker apart), arrows from cause to effect labelled with the time between them,
// compensations and the pivot marked, dead letters on the lane of the service that gave up,
// and what the saga waits for on the lane of the service that must react.
"use strict";

const NS = "http://www.w3.org/2000/svg";
const LABEL = 150, LANE = 62, TOP = 34, MIN_GAP = 60, SPAN = 760, RIGHT = 190;
const COLORS = {step: "var(--running)", failure: "var(--compensating)",
                compensation: "var(--compensation)", notification: "var(--notification)",
                cancellation: "var(--cancellation)"};

function svgEl(tag, attributes, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (name === "text") node.textContent = value; else node.setAttribute(name, value);
  }
  node.append(...children.filter(Boolean));
  return node;
}

function title(text) { return svgEl("title", {text}); }

function drawTimeline(container, saga) {
  const lanes = [...saga.lanes];
  for (const letter of saga.dead_letters) {
    if (!lanes.includes(letter.service)) lanes.push(letter.service);
  }
  const laneY = name => TOP + lanes.indexOf(name) * LANE + LANE / 2;
  const items = [
    ...saga.timeline.map(e => ({type: "event", e, t: Date.parse(e.occurred_at), lane: e.producer})),
    ...saga.dead_letters.map(d => ({type: "letter", d, t: Date.parse(d.at), lane: d.service})),
  ].sort((a, b) => a.t - b.t);
  const t0 = items.length ? items[0].t : 0;
  const span = items.length ? Math.max(1, items[items.length - 1].t - t0) : 1;
  let x = LABEL + 20;
  for (const item of items) {
    x = Math.max(LABEL + 20 + (item.t - t0) * SPAN / span, item === items[0] ? x : x + MIN_GAP);
    item.x = x;
    item.y = laneY(item.lane);
  }
  const byId = new Map(items.filter(i => i.type === "event").map(i => [i.e.index, i]));
  const waits = saga.waiting_for.map((wait, n) => ({wait, x: x + 90 + n * 40,
    y: laneY(wait.services[0] || lanes[0]),
    from: items.find(i => i.type === "event" && i.e.event_id === wait.event_id)}));
  const width = Math.max(x, ...waits.map(w => w.x)) + RIGHT;
  const height = TOP + lanes.length * LANE + 10;

  const svg = svgEl("svg", {width, height, "data-testid": "timeline-svg"},
    svgEl("defs", {}, ...["#475569", "#dc2626"].map((color, i) => svgEl("marker",
      {id: "arrow" + i, viewBox: "0 0 10 10", refX: 18, refY: 5, markerWidth: 7, markerHeight: 7,
       orient: "auto-start-reverse"}, svgEl("path", {d: "M 0 0 L 10 5 L 0 10 z", fill: color})))));
  lanes.forEach((name, i) => svg.append(
    svgEl("line", {x1: LABEL, x2: width - 20, y1: TOP + i * LANE + LANE / 2,
                   y2: TOP + i * LANE + LANE / 2, stroke: "#e5e7eb"}),
    svgEl("text", {x: 8, y: TOP + i * LANE + LANE / 2 + 4, class: "lane-label", text: name})));
  if (items.length) {
    svg.append(svgEl("text", {x: LABEL + 20, y: 14, class: "delta", text: clock(new Date(t0).toISOString())}),
               svgEl("text", {x: items[items.length - 1].x, y: 14, class: "delta",
                              "text-anchor": "middle", text: "+" + seconds(span / 1000)}));
  }
  for (const item of items) {
    if (item.type !== "event" || item.e.cause_index === null || !byId.has(item.e.cause_index)) continue;
    const from = byId.get(item.e.cause_index);
    svg.append(svgEl("line", {x1: from.x, y1: from.y, x2: item.x, y2: item.y, stroke: "#475569",
                              "stroke-width": 1.3, "marker-end": "url(#arrow0)",
                              "data-testid": "arrow"}),
               svgEl("text", {x: (from.x + item.x) / 2 + 4, y: (from.y + item.y) / 2 - 4,
                              class: "delta", text: "+" + seconds(item.e.after_cause_seconds)}));
  }
  items.forEach((item, n) => svg.append(item.type === "event" ? eventMark(item, n) : letterMark(item)));
  for (const {wait, x, y, from} of waits) {
    if (from) {
      svg.append(svgEl("line", {x1: from.x, y1: from.y, x2: x, y2: y, "stroke-dasharray": "4 4",
        stroke: wait.stuck ? "#dc2626" : "#475569", "marker-end": `url(#arrow${wait.stuck ? 1 : 0})`}));
    }
    svg.append(svgEl("g", {"data-testid": "awaited", "data-step": wait.step},
      title(wait.text),
      svgEl("circle", {cx: x, cy: y, r: 9, fill: "#fff", "stroke-dasharray": "3 2",
                       stroke: wait.stuck ? "#dc2626" : "#475569", "stroke-width": 2}),
      svgEl("text", {x, y: y + 4, "text-anchor": "middle", text: "?"}),
      svgEl("text", {x: x + 14, y: y + 4, text: (wait.stuck ? "stuck: " : "awaiting ") + wait.step})));
  }
  container.replaceChildren(svg);
}

function eventMark(item, n) {
  const {e, x, y} = item;
  const color = COLORS[e.kind] || COLORS.step;
  const shape = e.pivot
    ? svgEl("polygon", {points: `${x},${y - 12} ${x + 12},${y} ${x},${y + 12} ${x - 12},${y}`,
                        fill: color, stroke: "#111827", "stroke-width": 1.5})
    : svgEl("circle", {cx: x, cy: y, r: 8, fill: color,
                       stroke: e.compensation ? "#111827" : "none", "stroke-width": 2,
                       "stroke-dasharray": e.compensation ? "3 2" : "none"});
  return svgEl("g", {"data-testid": "event", "data-event-type": e.event_type, "data-kind": e.kind,
                     "data-pivot": e.pivot ? "true" : "false"},
    title(`${e.event_type} by ${e.producer} at ${clock(e.occurred_at)}` +
          (e.after_cause_seconds !== null ? `, ${seconds(e.after_cause_seconds)} after its cause` : "")),
    shape,
    svgEl("text", {x, y: n % 2 ? y - 15 : y + 23, "text-anchor": "middle",
                   text: e.event_type + (e.pivot ? " (pivot)" : "")}));
}

function letterMark(item) {
  const {d, x, y} = item;
  return svgEl("g", {"data-testid": "letter-mark"},
    title(`${d.kind} by ${d.service} after ${d.attempts} attempt(s): ${d.reason}`),
    svgEl("text", {x, y: y + 6, "text-anchor": "middle", class: "dead", "font-size": 18,
                   text: "✕"}),
    svgEl("text", {x, y: y + 23, "text-anchor": "middle", class: "dead",
                   text: d.parked ? "parked" : "dead letter"}));
}
