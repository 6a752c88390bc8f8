"""The chaos monkey: every few seconds a random process of the platform dies by kill -9 and is
started again, as an orchestrator would; once, past 40 % of the work, the broker is killed and
restarted; once, past 60 %, PostgreSQL is crash-stopped and restarted. A process that dies on its
own is restarted too and counted apart."""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.chaos.stack import DurableBroker, RestartablePostgres
from tests.support.platform import RunningPlatform

BROKER_AT, POSTGRES_AT = 0.4, 0.6


@dataclass
class Monkey:
    platform: RunningPlatform
    broker: DurableBroker
    postgres: RestartablePostgres
    rng: random.Random
    kills: Counter[str] = field(default_factory=Counter)
    died_alone: Counter[str] = field(default_factory=Counter)
    broker_restarts: int = 0
    postgres_restarts: int = 0

    @property
    def total_kills(self) -> int:
        return sum(self.kills.values())

    def run(
        self, every: float, progress: Callable[[], float], finished: Callable[[], bool]
    ) -> None:
        """Runs on the main thread: the broker is started with a death signal tied to the thread
        that starts it, so a restart from a short-lived thread would kill it again."""
        while not finished():
            time.sleep(every)
            self.revive()
            done = progress()
            if done >= BROKER_AT and not self.broker_restarts:
                self.broker.restart()
                self.broker_restarts += 1
            elif done >= POSTGRES_AT and not self.postgres_restarts:
                self.postgres.restart()
                self.postgres_restarts += 1
            else:
                self.kill_one()

    def kill_one(self) -> None:
        name = self.rng.choice(sorted(self.platform.procs))
        self.platform.kill9(name)
        self.kills[name] += 1
        self.platform.start(name)

    def revive(self) -> None:
        """Start again whatever died while nobody was killing it."""
        for name in sorted(self.platform.running):
            if self.platform.is_dead(name):
                self.died_alone[name] += 1
                self.platform.start(name)
