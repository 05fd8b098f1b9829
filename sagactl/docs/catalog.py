"""Render docs/events.md from the declared choreography: the contract any client can follow."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Mapping, Sequence

from sagactl.docs.schemas import schema_path
from sagactl.docs.wire import CHANGING, HEADER
from shared.choreography import (
    Reaction,
    ServiceSpec,
    consumers_of,
    producers_of,
    reactions_to,
)
from shared.events import CATALOG, COMMANDS, Payload
from shared.events.examples import example_event
from shared.orchestration import FLOWS
from shared.saga import SagaDefinition, compensation_chain


def render(sagas: Mapping[int, SagaDefinition], specs: Sequence[ServiceSpec],
           orchestrated: Sequence[ServiceSpec] = ()) -> str:
    """``sagas``: every version of the saga's flow (``shared.saga.SAGAS``); ``orchestrated``:
    every participant's declaration when the orchestrator runs the saga (``SAGA_MODE``)."""
    parts = [HEADER, CHANGING, _flows(sagas, specs), _reactions(specs),
             _orchestrated_flows(), "## Topics\n"]
    parts += [_topic(payload, orchestrated if payload in COMMANDS else specs)
              for payload in CATALOG.values()]
    parts += ["## Shapes used inside payloads\n", *_shapes()]
    return "\n".join(parts).rstrip() + "\n"


def _flows(sagas: Mapping[int, SagaDefinition], specs: Sequence[ServiceSpec]) -> str:
    latest = max(sagas)
    intro = ("A saga keeps the version of the flow it started with (`saga_version` in every "
             f"event's envelope); new sagas start with the latest, version {latest}. "
             "Compensations run in reverse order of the steps; after the pivot the saga only "
             "moves forward. How a step is added: [adding-a-step.md](adding-a-step.md).")
    lines = ["## The saga\n", textwrap.fill(intro, width=95), ""]
    for version in sorted(sagas, reverse=True):
        lines += _flow(version, sagas[version], [spec.in_version(version) for spec in specs],
                       " (the latest)" if version == latest else "")
    return "\n".join(lines)


def _flow(version: int, saga: SagaDefinition, specs: Sequence[ServiceSpec], note: str
          ) -> list[str]:
    lines = [f"### Flow version {version}{note}\n",
             "| step | service | success | failure | compensation |", "|---|---|---|---|---|"]
    for number, step in enumerate(saga.steps, start=1):
        pivot = " (pivot)" if step.action is saga.pivot else ""
        undo = "nothing to undo" if step.changes_nothing else _name(step.compensation)
        lines.append(f"| {number} | {step.service} | `{step.action.event_type()}`{pivot} | "
                     f"{_name(step.failure)} | {undo} |")
    lines += ["", "After a failure, as the declarations make them run:", ""]
    lines += [f"* `{failure.event_type()}` → "
              + (" → ".join(f"`{p.event_type()}`" for p in
                            compensation_chain(failure, saga, specs)) or "nothing to undo")
              for failure in saga.failures]
    return [*lines, ""]


def _orchestrated_flows() -> str:
    lines = ["## The same saga, orchestrated\n", textwrap.fill(
        "With SAGA_MODE=orchestrated, orchestrator_service owns each saga's state and sends "
        "each step's service a command; the service replies with the event it emits in the "
        "choreography. Same steps, pivot and compensations; a cancellation is accepted until "
        "ShipOrder is sent (docs/choosing.md).", width=95), ""]
    for version, flow in sorted(FLOWS.items(), reverse=True):
        lines += [f"### Flow version {version}, orchestrated\n",
                  "| step | service | command | replies | undone by |", "|---|---|---|---|---|"]
        for number, step in enumerate(flow.steps, start=1):
            command = _name(step.command) if step.command else "(the order is placed)"
            also = "".join(f" + {_name(extra)}" for extra in step.also)
            replies = ", ".join(_name(reply) for reply in step.replies)
            lines.append(f"| {number} | {step.step.service} | {command}{also} | {replies} | "
                         f"{_name(step.undo) if step.undo else '—'} |")
        lines.append("")
    return "\n".join(lines)


def _reactions(specs: Sequence[ServiceSpec]) -> str:
    lines = ["### Who reacts to what\n", "| service | consumes | may emit | in flow versions |",
             "|---|---|---|---|"]
    for spec in specs:
        for payload, reaction in spec.reactions.items():
            emitted = ", ".join(f"`{p.event_type()}`" for p in reaction.emits) or "—"
            lines.append(f"| {spec.name} | `{payload.event_type()}` | {emitted} | "
                         f"{_versions_of(reaction)} |")
        for payload in spec.originates:
            lines.append(f"| {spec.name} | (its own initiative) | `{payload.event_type()}` | "
                         "all |")
    return "\n".join(lines) + "\n"


def _versions_of(reaction: Reaction) -> str:
    return "all" if reaction.versions is None else ", ".join(map(str, sorted(reaction.versions)))


def _topic(payload: type[Payload], specs: Sequence[ServiceSpec]) -> str:
    name = payload.event_type()
    key = f"payload `{payload.key_field}`" if payload.key_field else "order id"
    reacting = [f"{service} → {', '.join(p.event_type() for p in r.emits) or 'no event'}"
                + ("" if r.versions is None else f" (flow versions {_versions_of(r)})")
                for service, r in reactions_to(payload, specs)]
    lines = [f"### `{name}`\n", (payload.__doc__ or "").strip(), "",
             f"* **Producers:** {', '.join(producers_of(payload, specs)) or '—'}",
             f"* **Consumers:** {', '.join(consumers_of(payload, specs)) or '—'}",
             f"* **Reactions:** {'; '.join(reacting) or '—'}",
             f"* **Key:** {key}", f"* **Schema:** {_versions(payload)}", "",
             "| field | type | required | description |",
             "|---|---|---|---|"]
    lines += _fields(payload.model_json_schema(mode="serialization"))
    example = json.dumps(json.loads(example_event(payload).model_dump_json()), indent=2)
    lines += ["", "Example message value:", "", "```json", example, "```", ""]
    return "\n".join(lines)


def _versions(payload: type[Payload]) -> str:
    name, current = payload.event_type(), payload.schema_version
    older = ", ".join(f"[v{v}]({schema_path(name, v)})" for v in range(1, current))
    return (f"version {current}, [`{schema_path(name, current)}`]({schema_path(name, current)})"
            + (f"; older versions, upcast on read: {older}" if older else ""))


def _shapes() -> list[str]:
    definitions: dict[str, dict] = {}
    for payload in CATALOG.values():
        definitions.update(payload.model_json_schema(mode="serialization").get("$defs", {}))
    return [f"### `{name}`\n\n| field | type | required | description |\n|---|---|---|---|\n"
            + "\n".join(_fields(definitions[name])) + "\n" for name in sorted(definitions)]


def _fields(schema: dict) -> list[str]:
    required = set(schema.get("required", []))
    rows = []
    for field, spec in schema.get("properties", {}).items():
        description = spec.get("description") or ""
        if spec.get("readOnly"):
            description = (description + " Computed; ignored on input.").strip()
        rows.append(f"| `{field}` | {_type(spec)} | "
                    f"{'yes' if field in required and not spec.get('readOnly') else 'no'} | "
                    f"{description} |")
    return rows


def _type(spec: dict) -> str:
    if "$ref" in spec:
        name = spec["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    if "anyOf" in spec:
        return " or ".join(_type(option) for option in spec["anyOf"])
    if spec.get("type") == "array":
        return f"list of {_type(spec.get('items', {}))}"
    if "enum" in spec:
        return " or ".join(f"`{value}`" for value in spec["enum"])
    if "decimal_places" in spec or spec.get("readOnly") and spec.get("type") == "string":
        return "decimal string"
    if "pattern" in spec:
        return f"string `{spec['pattern']}`"
    if spec.get("type") == "integer" and ("exclusiveMinimum" in spec or "maximum" in spec):
        low = spec.get("exclusiveMinimum", -1) + 1 if "exclusiveMinimum" in spec else "…"
        return f"integer {low}–{spec.get('maximum', '…')}"
    return spec.get("type", "any")


def _name(payload: type[Payload] | None) -> str:
    return f"`{payload.event_type()}`" if payload else "—"

