"""The reminder scheduler process: every tick, the steps due now (by the clock) are queued for
the sender. Any number of schedulers may run: a step's messages have fixed ids, so a step is
queued once however many look at it, and a restarted scheduler catches up on what it missed."""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime

from services.notifications import bootstrap
from services.notifications.adapters.postgres import PooledReminderStore
from services.notifications.service_layer import handlers
from services.notifications.service_layer.store import ReminderStore
from shared.logs import configure_logging
from shared.metrics import REMINDERS_QUEUED, SCHEDULER_LAST_TICK
from shared.worker import run_worker

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(
        self, store: ReminderStore, clock: Callable[[], datetime], tick_seconds: float
    ) -> None:
        self.store, self.clock, self.tick_seconds = store, clock, tick_seconds
        self.last_beat = 0.0

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.last_beat = time.monotonic()
            try:
                queued = handlers.send_due_reminders(self.store, self.clock())
            except Exception:  # the database is away: try again next tick
                log.exception("reminder pass failed")
            else:
                REMINDERS_QUEUED.inc(queued)
                SCHEDULER_LAST_TICK.set_to_current_time()
            stop.wait(self.tick_seconds)


def main() -> None:
    settings = bootstrap.wiring.settings
    configure_logging("notifications-scheduler", settings.log_level)
    scheduler = Scheduler(
        PooledReminderStore(bootstrap.wiring.pool),
        bootstrap.utc_now,
        settings.reminder_tick_seconds,
    )
    port = int(os.environ.get("PORT", 9108))
    sys.exit(run_worker("notifications-scheduler", [scheduler], port))


if __name__ == "__main__":
    main()
