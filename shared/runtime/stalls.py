"""Which owned partitions are behind their end and not moving.

A consumer can look busy while one of its partitions is stuck: records of the others keep
arriving, so the whole-consumer watchdog sees progress. (A CI run of the cluster chaos test,
a broker frozen past its session timeout and thawed, ended with every saga of two
partitions unfinished four minutes later while the rest had flowed — the pattern of a
consumer that no longer fetched them.) Comparing each partition's position with its end
offset finds it, whatever the cause.

The evidence is only what was observed: a partition counts as stalled from the first look
that found it behind to the last look that found it behind *at the same position*, in an
unbroken run of looks. While the broker cannot be asked, nothing new is observed and the
stall does not grow; and a gap in the looks starts the evidence over, so a consumer is not
restarted for a broker that was down either (it gets its chance to resume by itself).
"""

from __future__ import annotations

from aiokafka import TopicPartition


class StallDetector:
    def __init__(self, max_gap: float) -> None:
        #: Looks further apart than this (seconds) are not one run of evidence.
        self.max_gap = max_gap
        # Per partition behind its end: (position, first seen there, last seen there).
        self._behind: dict[TopicPartition, tuple[int, float, float]] = {}

    def observe(self, tp: TopicPartition, position: int | None, end: int, now: float) -> None:
        """``position``: the next offset to read (None: not known — the broker did not say,
        which is no evidence of a stall: nothing is recorded, as if this look had not been)."""
        if position is None:
            return
        if end == 0 or position >= end:
            self._behind.pop(tp, None)
            return
        seen = self._behind.get(tp)
        unbroken = seen is not None and seen[0] == position and now - seen[2] <= self.max_gap
        first = seen[1] if unbroken else now
        self._behind[tp] = (position, first, now)

    def forget(self, partitions: set[TopicPartition]) -> None:
        for tp in partitions:
            self._behind.pop(tp, None)

    def stalled(self) -> dict[TopicPartition, float]:
        """Seconds each partition behind its end has been seen not moving."""
        return {tp: last - first for tp, (_, first, last) in self._behind.items()
                if last > first}
