"""Topics the relay holds back: every send to them fails, while other topics may work.

A missing ACL on one dead-letter topic, or a topic deleted under a running service, fails
each send to it, however often it is tried. Without this, that one topic's rows failed the
whole relay batch every round: the rows behind them never went out, the rows before them
went out again and again. Now such a topic's rows — the failing ones and every later row of
the same topic, so that its order stays — wait aside and are tried again with a growing
backoff, while every other topic flows. `/health` names the held topics, with the error and
since when.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from aiokafka.errors import TopicAuthorizationFailedError, UnknownTopicOrPartitionError

from shared.outbox import OutgoingMessage

#: Errors that are about one topic, not the broker: hold that topic, keep the others going.
TOPIC_ERRORS = (TopicAuthorizationFailedError, UnknownTopicOrPartitionError)
MAX_BACKOFF = 10.0


class HeldTopics:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._rows: dict[str, list[OutgoingMessage]] = {}
        self._retry_at: dict[str, float] = {}
        #: Per topic failing now or lately: (since, tries, the last error).
        self._failing: dict[str, tuple[float, int, str]] = {}

    def holds(self, topic: str) -> bool:
        return topic in self._rows

    def hold(self, rows: list[OutgoingMessage], error: BaseException) -> None:
        """These rows failed with a topic's error: set every row of their topic aside."""
        now = self.clock()
        for topic in {row.topic for row in rows}:
            since, tries, _ = self._failing.get(topic, (now, 0, ""))
            self._failing[topic] = (since, tries + 1, f"{type(error).__name__}: {error}"[:300])
            self._retry_at[topic] = now + min(MAX_BACKOFF, 0.5 * 2 ** tries)
            self._rows.setdefault(topic, [])
        for row in rows:
            self._rows[row.topic].append(row)

    def add(self, row: OutgoingMessage) -> None:
        """A later row of a held topic waits behind the held ones."""
        self._rows[row.topic].append(row)

    def due(self) -> list[OutgoingMessage]:
        """The rows of topics whose pause is over, to be tried again."""
        now = self.clock()
        released = [topic for topic, at in self._retry_at.items() if at <= now]
        rows = []
        for topic in released:
            del self._retry_at[topic]
            rows += self._rows.pop(topic)
        return rows

    def published(self, topic: str) -> None:
        """A send to this topic worked: it is not failing any more."""
        self._failing.pop(topic, None)

    def seconds_until_due(self) -> float | None:
        return max(0.0, min(self._retry_at.values()) - self.clock()) if self._retry_at else None

    @property
    def count(self) -> int:
        return sum(len(rows) for rows in self._rows.values())

    def report(self) -> dict[str, dict]:
        """Topics failing now: since when (epoch seconds), how many rows wait, why."""
        return {topic: {"since": since, "tries": tries, "rows": len(self._rows.get(topic, ())),
                        "error": error}
                for topic, (since, tries, error) in self._failing.items()}

    def failing_longer_than(self, seconds: float) -> bool:
        now = self.clock()
        return any(now - since > seconds for since, _, _ in self._failing.values())
