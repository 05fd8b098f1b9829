"""Replaying dead letters without trusting them.

Every principal that reads a topic may write its dead-letter topic (a service dead-letters what
it cannot handle), so a letter's headers and bytes are only as trustworthy as the least trusted
reader of that topic. A replay therefore takes nothing from a letter but a pointer: it goes back
only to the topic it was dead-lettered from — its own name without ``.DLT``, a saga topic of the
catalog, never the decisions topic or the monitor's — and what is sent is the original record,
read again at the partition and offset the letter names: its key, value and headers, byte for
byte. A letter that is no copy of that record, or whose record is gone, is skipped with the
reason. So a replay, under any principal, publishes only what someone allowed to write that
topic published there before; the consumers' inboxes drop what they already handled.
"""

from __future__ import annotations

from aiokafka import ConsumerRecord

from sagactl.kafka import Place, publish_each, records_at
from sagactl.letters import DeadLetter, record_decisions
from shared.deadletters import DLT_SUFFIX
from shared.events import CATALOG
from shared.settings import KafkaSettings

Skipped = tuple[DeadLetter, str]


async def replay(settings: KafkaSettings, letters: list[DeadLetter]
                 ) -> tuple[list[DeadLetter], list[Skipped]]:
    """Send each letter's original record back; record a decision for every letter whose
    record the broker acknowledged."""
    pointed = [(letter, origin(letter)) for letter in letters]
    skipped: list[Skipped] = [(d, place) for d, place in pointed if isinstance(place, str)]
    pointed = [(d, place) for d, place in pointed if not isinstance(place, str)]
    originals = await records_at(settings, sorted({place for _, place in pointed}))
    sendable = []
    for letter, place in pointed:
        why = _mismatch(letter, place, originals[place])
        if why:
            skipped.append((letter, why))
        else:
            sendable.append((letter, place))
    refused = await _send_once(settings, [place for _, place in sendable], originals)
    skipped += [(d, f"the broker refused it: {refused[p]}") for d, p in sendable if p in refused]
    replayed = [d for d, place in sendable if place not in refused]
    if replayed:
        await record_decisions(settings, replayed, "replayed", "sagactl dlq replay")
    return replayed, skipped


async def _send_once(settings: KafkaSettings, places: list[Place],
                     originals: dict[Place, ConsumerRecord | None]) -> dict[Place, str]:
    """Each original record once, in order (several services may have dead-lettered the same
    record); why the broker refused those it refused."""
    places = list(dict.fromkeys(places))
    outcomes = await publish_each(settings, [
        (place[0], record.key, record.value, list(record.headers))
        for place in places if (record := originals[place]) is not None])
    return {place: repr(outcome) for place, outcome in zip(places, outcomes, strict=True)
            if isinstance(outcome, Exception)}


def origin(letter: DeadLetter) -> Place | str:
    """Where the letter's original record is (topic, partition, offset), or why the letter
    cannot say: the topic is the letter's own, without ``.DLT``, whatever its headers claim."""
    home = letter.topic.removesuffix(DLT_SUFFIX)
    named, partition, offset = letter.source
    if home == letter.topic or home not in CATALOG:
        return f"{letter.topic} is not the dead-letter topic of a saga topic"
    if named != home:
        return (f"it lies in {letter.topic} but its headers send it to {named or 'nowhere'}: "
                f"a letter goes back only to the topic it was dead-lettered from")
    if not (partition.isdigit() and offset.isdigit()):
        return "its headers name no source partition and offset"
    return home, int(partition), int(offset)


def _mismatch(letter: DeadLetter, place: Place, record: ConsumerRecord | None) -> str | None:
    """Why the original record cannot go back for this letter, or None."""
    where = ":".join(map(str, place))
    if record is None:
        return (f"its original record {where} is no longer on the broker (retention, "
                "compaction or a deleted topic): nothing to send back")
    h = letter.headers
    if not (_copy(letter.key or b"", record.key or b"", "dlt.key-truncated-from" in h)
            and _copy(letter.value, record.value or b"", "dlt.truncated-from" in h)):
        return f"it is no copy of the original record {where} (a forged or damaged letter)"
    return None


def _copy(kept: bytes, original: bytes, cut: bool) -> bool:
    """A letter keeps the original bytes, or (where it says it cut them) their beginning."""
    return original.startswith(kept) if cut else original == kept
