// One saga: status, what it waits for (and why it is stuck), timeline, dead letters, events.
"use strict";

const orderId = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop());
document.getElementById("order-id").textContent = orderId;
document.title = "Saga " + orderId;

function showBadges(saga) {
  document.getElementById("badges").replaceChildren(...[
    badge(saga.status), badge(saga.finished ? "finished" : "unfinished"),
    saga.stuck ? badge("stuck") : null,
    saga.needs_operator ? badge("needs an operator", "stuck") : null,
    saga.stuck && !saga.needs_operator ? badge("its deadline will cancel it", "running") : null,
    saga.cancelled_by_deadline ? badge("cancelled by its deadline", "stuck") : null,
  ].filter(Boolean));
  const parts = [`customer ${saga.customer_id || "—"}`, `flow v${saga.flow_version}` +
    (saga.mode === "orchestrated" ? " (orchestrated)" : ""),
    `started ${clock(saga.started_at)}`,
    saga.finished ? `finished ${clock(saga.finished_at)} after ${seconds(saga.duration_seconds)}`
                  : `running for ${seconds(saga.age_seconds)}`,
    `${saga.events} events`];
  if (saga.deadline_at) parts.push(`deadline ${clock(saga.deadline_at)}` +
    (saga.deadline_left_seconds === null ? ""
     : saga.deadline_left_seconds >= 0 ? ` (${seconds(saga.deadline_left_seconds)} left)`
     : ` (passed ${seconds(-saga.deadline_left_seconds)} ago)`));
  if (saga.compensations.length) parts.push("compensations: " + saga.compensations.join(" → "));
  document.getElementById("summary").textContent = parts.join(" · ");
}

function showWaiting(saga) {
  document.getElementById("waiting").replaceChildren(...saga.waiting_for.map(wait =>
    el("div", {class: "panel waiting" + (wait.stuck ? " stuck" : ""), "data-testid": "wait",
               "data-stuck": wait.stuck ? "true" : "false"},
      el("p", {}, el("strong", {text: wait.stuck ? "Stuck: " : "Waiting: "}), wait.text),
      el("p", {class: "muted", text: `step ${wait.step}; deadline ${seconds(wait.deadline_seconds)}` +
        (wait.stuck ? `, overdue by ${seconds(wait.overdue_seconds)}`
                    : `, ${seconds(-wait.overdue_seconds)} left`)}),
      wait.cause ? el("p", {"data-testid": "cause", text: wait.cause}) : null,
      wait.stuck ? el("p", {"data-testid": "resolution", text: wait.resolved_by_deadline
        ? "The order's deadline will cancel it (compensations run as usual)."
        : "Needs an operator: no deadline ends this wait."}) : null)));
}

function showLetters(saga) {
  const section = document.getElementById("letters");
  if (!saga.dead_letters.length) { section.replaceChildren(); return; }
  const replay = saga.replay_command, hint = saga.dead_letters_hint;
  section.replaceChildren(
    el("h2", {text: "Dead letters and parked events"}),
    replay ? el("p", {class: "replay"}, "Once the cause is fixed:",
                el("code", {"data-testid": "replay-command", text: replay}), copyButton(replay))
           : null,
    hint ? el("p", {"data-testid": "letters-hint", text: hint}) : null,
    saga.dead_letters_pending ? null
      : el("p", {class: "muted", "data-testid": "letters-done",
                 text: "Nothing pending: every dead letter of this order was replayed or dismissed."}),
    el("table", {},
      el("thead", {}, el("tr", {}, ...["when", "service", "kind", "from", "tries", "reason",
                                       "state"].map(text => el("th", {text})))),
      el("tbody", {}, ...saga.dead_letters.map(letter => el("tr", {"data-testid": "dead-letter"},
        el("td", {class: "num", text: clock(letter.at)}),
        el("td", {text: letter.service}),
        el("td", {text: letter.parked ? "parked (handler failed)" : letter.kind}),
        el("td", {text: `${letter.source.topic}:${letter.source.partition}:${letter.source.offset}`}),
        el("td", {class: "num", text: letter.attempts}),
        el("td", {text: letter.reason}),
        el("td", {"data-testid": "letter-state", title: letter.decision ? letter.decision.reason : null,
                  text: letter.decision && letter.decision.reason && letter.state !== "replayed"
                    ? `${letter.state}: ${letter.decision.reason}` : letter.state}))))));
}

function showEvents(saga) {
  const ids = new Map(saga.timeline.map(e => [e.event_id, e.event_type]));
  document.getElementById("events").replaceChildren(...saga.timeline.map(event =>
    el("tr", {"data-event-type": event.event_type, "data-kind": event.kind},
      el("td", {class: "num", text: clock(event.occurred_at)}),
      el("td", {class: "num", text: event.after_cause_seconds === null ? "—"
                                    : "+" + seconds(event.after_cause_seconds)}),
      el("td", {text: event.producer + (event.instance ? ` (${event.instance})` : "")}),
      el("td", {}, event.event_type, event.compensation || event.pivot ? " " : null,
         event.compensation ? badge("compensation", "compensating") : null,
         event.pivot ? badge("pivot", "finished") : null),
      el("td", {}, el("code", {text: event.event_id})),
      el("td", {text: event.caused_by ? (ids.get(event.caused_by) || event.caused_by) : "—"}))));
}

async function refresh() {
  const {status, body} = await getJSON("/api/sagas/" + encodeURIComponent(orderId));
  document.getElementById("missing").hidden = status !== 404;
  if (status === 200) {
    showBadges(body);
    showWaiting(body);
    drawTimeline(document.getElementById("timeline"), body);
    showLetters(body);
    showEvents(body);
  }
  await showHealth();
}

live(refresh);
