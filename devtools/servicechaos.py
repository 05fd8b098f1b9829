"""Service faults for `make chaos`: service processes SIGKILLed, and frozen (SIGSTOP) past
their session timeout.

With one process per service a killed one is started again at once: it is a static member of
its group and takes its partitions back. With several instances per service
(``--instances 2``) every other kill is a **failover**: the instance stays down past the
session timeout, so the group gives its partitions to the others, which must finish its sagas;
some failovers are followed by one of a sibling once the first is back (both instances of a
service killed in turn). A process is a victim only while every other instance of its
service runs, unfrozen and healthy: never all instances of a service at once.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Protocol

from devtools.processes import Mesh, ServiceProcess


class Counts(Protocol):
    kills: int
    instance_kills: int
    freezes: int


class ServiceFaults:
    def __init__(self, mesh: Mesh, rng: random.Random, counts: Counts, *,
                 session_timeout: float, say: Callable[[str], None],
                 freeze_for: float = 0.0) -> None:
        self.mesh, self.rng, self.counts, self.say = mesh, rng, counts, say
        self.away = session_timeout + 3  # seconds a failover lasts
        self.frozen_for = max(self.away, freeze_for)  # and a freeze, at least as long
        self.several = any(len(mesh.instances_of(p.name)) > 1 for p in mesh.services.values())
        self._down: dict[str, float] = {}     # instance → when it is started again
        self._sibling_next: str | None = None
        self._thaws: list[threading.Timer] = []

    def kill(self, placed: int) -> None:
        self._bring_back()
        victim = self._sibling() or self._choose()
        if victim is None:
            return
        failover = self.several and (victim.instance == self._sibling_next
                                     or self.counts.kills % 2 == 1)
        victim.kill()
        self.counts.kills += 1
        if not failover:
            self.say(f"SIGKILL {victim.instance} ({placed} orders placed)")
            time.sleep(0.3)
            victim.start()
            return
        self.counts.instance_kills += 1
        self._down[victim.instance] = time.monotonic() + self.away
        in_turn = victim.instance == self._sibling_next
        if in_turn:
            self._sibling_next = None
        elif self._sibling_next is None and self.counts.instance_kills % 3 == 1:
            # Failovers 1, 4, 7, … are followed by one of a sibling, once the first is back.
            self._sibling_next = self.rng.choice(self._siblings(victim)).instance
        self.say(f"SIGKILL {victim.instance}{', after its sibling' if in_turn else ''}, down "
                 f"for {self.away:.0f}s: the other instances take its partitions over "
                 f"({placed} orders placed)")

    def freeze(self, placed: int) -> bool:
        """Longer than the session timeout: the group evicts it; on SIGCONT it must rejoin.
        False when no process may be frozen now."""
        self._bring_back()
        # A freeze past the orders' deadline is one of a participant: the sagas waiting on it
        # meet their deadline, which the order service (awake) enforces.
        victim = self._choose(spare="order_service" if self.frozen_for > self.away else None)
        if victim is None:
            return False
        self.say(f"SIGSTOP {victim.instance} for {self.frozen_for:.0f}s, past the session timeout "
                 f"({placed} orders placed)")
        victim.freeze()
        thaw = threading.Timer(self.frozen_for, victim.thaw)
        thaw.start()
        self._thaws.append(thaw)
        self.counts.freezes += 1
        return True

    def finish(self) -> None:
        """Every process thawed and running again."""
        for thaw in self._thaws:
            thaw.join()
        self._down.clear()
        for process in self.mesh.services.values():
            if not process.alive():
                process.start()

    def _bring_back(self) -> None:
        for name, until in list(self._down.items()):
            if time.monotonic() >= until:
                self.mesh.services[name].start()
                del self._down[name]
                self.say(f"{name} started again")

    def _sibling(self) -> ServiceProcess | None:
        """The instance due to fail over after its sibling, once that one is back."""
        waiting = self._sibling_next and self.mesh.services[self._sibling_next]
        return waiting if waiting and self._may_fault(waiting) else None

    def _choose(self, spare: str | None = None) -> ServiceProcess | None:
        candidates = [p for p in self.mesh.services.values()
                      if p.name != spare and self._may_fault(p)]
        return self.rng.choice(candidates) if candidates else None

    def _may_fault(self, process: ServiceProcess) -> bool:
        return (process.instance not in self._down and not process.frozen
                and all(s.instance not in self._down and not s.frozen and s.alive()
                        and s.healthy() for s in self._siblings(process)))

    def _siblings(self, process: ServiceProcess) -> list[ServiceProcess]:
        return [p for p in self.mesh.instances_of(process.name) if p is not process]
