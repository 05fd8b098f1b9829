"""The prose of docs/events.md: the wire contract and the rules for changing an event."""

HEADER = """\
# Event catalog

Generated from the services' declarations and the payload models by `sagactl docs events`; a
test fails when this file and the code disagree. Do not edit by hand. The same contract, for
tools: the JSON Schema of every payload version in [`schemas/`](schemas/) and an AsyncAPI 3.0
document, [`asyncapi.yaml`](asyncapi.yaml) (how they are checked: [Changing an
event](#changing-an-event)).

## Wire contract

* **One topic per event type**, named exactly after the type (`OrderCreated`, ...), created
  explicitly with a chosen partition count (`SAGA_TOPIC_PARTITIONS`, default 3). A deployment
  may prefix every topic (`SAGA_TOPIC_PREFIX`). Each topic has a dead-letter twin `<topic>.DLT`.
* **Message key**: the order id (UTF-8), so one order's events stay ordered within a topic.
  Reference-data events name their key field below.
* **Value**: a UTF-8 JSON envelope:

| field | type | meaning |
|---|---|---|
| `event_id` | string | **required**, unique per event; consumers deduplicate on it |
| `event_type` | string | the payload type, equal to the topic name |
| `schema_version` | integer | version of the payload schema (per topic below); a JSON number, never `"1"`; left out, it means 1 |
| `occurred_at` | string | ISO 8601 time, UTC |
| `order_id` | string or null | the saga the event belongs to (null only for reference data) |
| `causation_id` | string or null | `event_id` of the event that caused this one |
| `producer` | string | the service or tool that published it |
| `saga_version` | integer | the version of the saga's flow (below), set when the saga starts and carried by every event of it; left out, it means 1 |
| `deadline_at` | string or null | ISO 8601 time, UTC, by which the saga must be over; set when it starts, carried by every event of it |
| `payload` | object | the fields listed per topic below |

* Readers ignore fields they do not know. **Money is a decimal string** (`"19.90"`), never a
  JSON number; an order's total must fit in one (at most `9999999999.99`). Quantities are JSON
  whole numbers (not `"2"`, not `true`). Identifiers match `^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$`.
* An older `schema_version` is upcast to the current one as it is read (see below).
  Anything else (invalid JSON, unknown type, no `event_id`, invalid fields, a newer
  `schema_version`, more than 64 KiB) is moved to `<topic>.DLT` with the reason in headers and
  skipped.

### Taking part with kcat

One message per line (kcat splits its input on newlines); the key is the order id:

```bash
echo '{"event_id": "e-42", "event_type": "OrderCreated", "order_id": "ord-42", "producer": "kcat", "payload": {"customer_id": "alice", "items": [{"sku": "WIDGET-1", "quantity": 2, "unit_price": "9.95"}], "shipping_address": {"name": "Alice", "street": "1 Main St", "city": "Berlin", "country": "DE"}}}' \\
  | kcat -P -b 127.0.0.1:9092 -t OrderCreated -k ord-42
kcat -C -b 127.0.0.1:9092 -t OrderCompleted -o beginning -e -f '%k %s\\n'
```

`schema_version`, `occurred_at` and `causation_id` may be left out; `event_id` may not, and
must be unique (a repeated one is treated as a duplicate delivery and ignored).
"""

CHANGING = """\
## Changing an event

Events outlive the code that wrote them: they wait in topics, in dead-letter topics and in retry
queues, and during a rolling deploy old and new services read each other's events. So every
payload has a `schema_version` (in the envelope), and a change to a payload follows these rules.

* **Compatible, within a version:** adding an optional field (one with a default), and editing
  descriptions and examples. An old consumer ignores the new field (every reader ignores
  fields it does not know); a new consumer reads old events with the default. The version's
  schema file is regenerated in place.
* **Breaking, so a new version:** removing a field, changing its type, adding a required field,
  making a field required or optional, narrowing or widening an enum, tightening or loosening
  a bound or a pattern, changing a default. Any of these means: raise the payload's
  `schema_version` by one and register an upcaster from the previous version in
  `shared/events/versions.py` — a function from the old payload (a dict) to the new one.
  The codec upcasts every older event as it reads it, before validation, whether it comes
  from a topic, back from a dead-letter topic or out of a retry queue; handlers only ever see
  the current version. A service refuses to start if a version has no upcaster.
* **The envelope stays strict:** its fields, their types and their meaning do not change.
* **A version newer than a consumer knows** is not guessed at: it goes to `<topic>.DLT` as
  `unsupported-version`, to be replayed once that consumer is upgraded
  (`sagactl dlq replay --kind unsupported-version`). So a new version is deployed consumers
  first (they read both versions), producers last.
* **Every version's schema stays:** `docs/schemas/<EventType>/v<N>.json`, generated for the
  current version by `sagactl docs events`. An older version's file is never rewritten or
  deleted (its events may still wait somewhere); generation refuses to write a breaking change
  over a committed version.
* **Checked in CI:** `sagactl docs events --check --compat` compares every current model with
  the committed schema of its version and names each breaking change — the event, the version,
  the field, what changed and who would reject what — and what to do. It sees what JSON Schema
  shows; a stricter Python validator (such as "each SKU once") is a breaking change it cannot
  see, so treat it as one.
"""
