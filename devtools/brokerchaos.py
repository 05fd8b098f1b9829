"""Broker faults for `make chaos CHAOS_ARGS=--cluster`: the leader of the busiest partitions and
the active controller SIGKILLed and started again, a broker frozen (SIGSTOP) past its session
timeout and thawed.

One fault at a time, and the next only once every node is back and every partition in sync:
with three replicas and ``min.insync.replicas=2`` a single lost broker must cost neither a
saga nor an acknowledged write, and that is the claim tested. Two brokers down at once stops
writes by design (no acknowledgement without two replicas), which chaos does not try.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable

from localkafka import KafkaNode, LocalKafka
from localkafka.config import BROKER_SESSION_TIMEOUT_MS
from shared.deadletters import DLT_SUFFIX

FREEZE_SECONDS = BROKER_SESSION_TIMEOUT_MS / 1000 + 3


def schedule(kills: int, freezes: int) -> list[str]:
    """Kills alternate between the busiest leader and the active controller; a freeze follows
    each pair of kills (the rest at the end)."""
    faults, killed, frozen = [], 0, 0
    while killed < kills or frozen < freezes:
        if killed < kills:
            faults.append(("leader", "controller")[killed % 2])
            killed += 1
        if (killed % 2 == 0 or killed >= kills) and frozen < freezes:
            faults.append("freeze")
            frozen += 1
    return faults


class BrokerFaults:
    def __init__(self, kafka: LocalKafka, prefix: str, *, kills: int, freezes: int,
                 down: float, say: Callable[[str], None]) -> None:
        self.kafka, self.prefix, self.down, self.say = kafka, prefix, down, say
        self.pending = deque(schedule(kills, freezes))
        self.kills = self.freezes = 0
        self._away: tuple[KafkaNode, float] | None = None  # a node killed or frozen, until when

    @property
    def done(self) -> bool:
        return not self.pending and self._away is None

    def step(self, placed: int) -> None:
        """Bring a node back when its time is up, or start the next fault when the cluster is
        whole again. Call it from the thread that started the cluster: a node started again
        dies with the thread that started it."""
        if self._away is not None:
            node, until = self._away
            if time.monotonic() >= until:
                self._bring_back(node)
            return
        if self.pending and self._in_sync():
            try:
                self._fault(self.pending[0], placed)
            except OSError as error:  # the cluster could not say who leads: next time
                self.say(f"broker fault postponed: {error}")
            else:
                self.pending.popleft()

    def finish(self) -> None:
        """Every node back now (before the run settles)."""
        if self._away is not None:
            self._bring_back(self._away[0])

    def _fault(self, kind: str, placed: int) -> None:
        controller = self.kafka.active_controller()
        node = (self.kafka.node(controller) if kind == "controller"
                else self._busiest_leader(avoid=controller))
        role = ", the active controller" if node.node_id == controller and kind != "controller" else ""
        what = f"node {node.node_id} ({kind}{role})"
        if kind == "freeze":
            node.freeze()
            self.freezes += 1
            self._away = (node, time.monotonic() + FREEZE_SECONDS)
            self.say(f"SIGSTOP broker {what} for {FREEZE_SECONDS:.0f}s, past its session "
                     f"timeout ({placed} orders placed)")
        else:
            node.kill()
            self.kills += 1
            self._away = (node, time.monotonic() + self.down)
            self.say(f"SIGKILL broker {what} for {self.down:.0f}s ({placed} orders placed)")

    def _bring_back(self, node: KafkaNode) -> None:
        if node.frozen:
            node.thaw()
            self.say(f"SIGCONT broker node {node.node_id}")
        else:
            self.kafka.start_node(node.node_id)
            self.say(f"broker node {node.node_id} started again")
        self._away = None

    def _busiest_leader(self, avoid: int) -> KafkaNode:
        """The node leading most partitions of this run's saga topics (another than ``avoid``
        if any other leads some)."""
        leaders = Counter(p.leader for p in self.kafka.metadata(None).partitions
                          if p.topic.startswith(self.prefix) and not p.topic.endswith(DLT_SUFFIX)
                          and p.leader >= 0)
        ranked = [node for node, _ in leaders.most_common() if node != avoid] or [avoid]
        return self.kafka.node(ranked[0])

    def _in_sync(self) -> bool:
        try:
            state = self.kafka.metadata(None)
        except OSError:
            return False
        return (len(state.brokers) == len(self.kafka.nodes)
                and all(p.in_sync for p in state.partitions))
