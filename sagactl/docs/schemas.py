"""docs/schemas/<EventType>/v<N>.json: the JSON Schema of every version of every catalog event.

The current version's file is generated from its model. An older version's file stays as it was
committed, for as long as its events may wait in a topic, a dead-letter topic or a retry queue:
nothing here writes one, and a missing one is reported. A current version's committed file is
the baseline its model is compared with (:func:`shared.events.compat.breaking_changes`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from shared.events import CATALOG, Payload
from shared.events.compat import breaking_changes, payload_schema

Catalog = Mapping[str, type[Payload]]


def schema_path(event_type: str, version: int) -> str:
    """Relative to the docs folder (and a link from docs/events.md)."""
    return f"schemas/{event_type}/v{version}.json"


def dump(schema: dict) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def current_files(docs: Path, catalog: Catalog = CATALOG) -> dict[Path, str]:
    """What to write: the current version's file of each event, and only that."""
    return {docs / schema_path(name, payload.schema_version): dump(payload_schema(payload))
            for name, payload in catalog.items()}


def breaking(docs: Path, catalog: Catalog = CATALOG) -> list[str]:
    """Each event whose model breaks the committed schema of its own version: the fields, what
    changed, and what to do instead."""
    report = []
    for name, payload in catalog.items():
        version = payload.schema_version
        committed = docs / schema_path(name, version)
        if not committed.exists():
            continue  # a new event, or a new version: nothing of it was published yet
        breaks = breaking_changes(json.loads(committed.read_text()), payload_schema(payload))
        report += [f"{name} v{version}: {change}" for change in breaks]
        if breaks:
            report.append(
                f"  -> {committed} is published: keep {name} v{version} compatible (only add "
                f"optional fields), or make this v{version + 1}: raise {name}.schema_version to "
                f"{version + 1} and add @upcaster({name!r}, {version}) in "
                "shared/events/versions.py")
    return report


def lost_versions(docs: Path, catalog: Catalog = CATALOG) -> list[str]:
    """Older versions whose file is gone, and files of versions the code does not have."""
    lost = [f"{docs / schema_path(name, version)} is missing: an old version's schema stays for "
            "as long as its events may wait somewhere (restore it from git)"
            for name, payload in catalog.items() for version in range(1, payload.schema_version)
            if not (docs / schema_path(name, version)).exists()]
    return lost + [f"{path} is newer than {path.parent.name}'s schema_version "
                   f"{catalog[path.parent.name].schema_version} in the code"
                   for path in sorted(docs.glob("schemas/*/v*.json"))
                   if path.parent.name in catalog
                   and _version(path) > catalog[path.parent.name].schema_version]


def _version(path: Path) -> int:
    digits = path.stem.removeprefix("v")
    return int(digits) if digits.isdigit() else 0
