"""Plain or secure: what a state dir's storage was formatted for, and refusing the other.

Storage formatted for a plain broker has no SCRAM users, so a secure broker on it refuses every
client; storage formatted for a secure one holds SCRAM users and ACLs that a plain broker would
serve to anyone without an authorizer. So a state dir keeps the mode it was formatted in
(``formatted-for``), and starting it in the other mode is refused with one line that says what
to run instead: keep the mode, or start over (``--fresh``: its topics are deleted).
"""

from __future__ import annotations

from pathlib import Path

from localkafka.errors import LocalKafkaError

RECORD = "formatted-for"
SECURE, PLAIN = "secure", "plain"


def formatted_mode(state_dir: Path) -> str | None:
    """What the state dir's storage was formatted for, or None when that is not known. A
    state dir from before the record: the mode of the configuration it last ran with."""
    record = state_dir / RECORD
    if record.exists():
        return record.read_text().strip()
    for config in (state_dir / "server.properties", state_dir / "node-1" / "server.properties"):
        if config.exists():
            return SECURE if "SASL_SSL" in config.read_text() else PLAIN
    return None


def record_mode(state_dir: Path, secure: bool) -> None:
    (state_dir / RECORD).write_text((SECURE if secure else PLAIN) + "\n")


def refuse_other_mode(state_dir: Path, secure: bool, running: bool = False) -> None:
    """One line saying what to run, when the state dir was formatted in the other mode."""
    was = formatted_mode(state_dir)
    if was is None or was == (SECURE if secure else PLAIN):
        return
    keep = "make kafka SECURE=1" if was == SECURE else "make kafka"
    over = "make kafka FRESH=1" + (" SECURE=1" if secure else "")
    stop = "`make kafka-stop`, then " if running else ""
    raise LocalKafkaError(
        f"{state_dir} holds a {was} broker{' that runs' if running else ''}: run `{keep}` to "
        f"keep it, or {stop}`{over}` to start over {'secure' if secure else 'plain'} (deletes "
        f"its topics; python -m localkafka start --fresh{' --secure' if secure else ''})")
