"""The loop beside the payments consumer that asks Stripe about charges it has not settled (a
lost webhook), every PAYMENT_CHECK_SECONDS."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from services.payments import bootstrap
from services.payments.adapters.postgres import PooledUnitOfWork
from services.payments.service_layer import reconciling, refunds

log = logging.getLogger(__name__)
BEAT_SECONDS = 2.0


class StripeCheck:
    def __init__(self, every_seconds: float) -> None:
        self.every = every_seconds
        self.last_beat = 0.0

    def run(self, stop: threading.Event) -> None:
        """Beats often (the worker's readiness watches it), also between the charges of a pass,
        and asks every ``every`` seconds."""
        next_pass = 0.0
        while not stop.is_set():
            self.last_beat = time.monotonic()
            self.give_back()
            if self.last_beat >= next_pass:
                next_pass = self.last_beat + self.every
                self.ask(stop)
            stop.wait(min(self.every, BEAT_SECONDS))

    def ask(self, stop: threading.Event) -> None:
        try:
            settled = reconciling.ask_stripe_about_unsettled(
                lambda: PooledUnitOfWork(bootstrap.wiring.pool),
                bootstrap.gateway(),
                bootstrap.utc_now,
                timedelta(seconds=self.every),
                keep_going=lambda: self._still_running(stop),
            )
        except Exception:  # the database is away: ask again next time
            log.exception("asking Stripe about unsettled charges failed")
        else:
            if settled:
                log.warning("acted on %d charges whose webhook never came", settled)

    def give_back(self) -> None:
        """Money kept that nothing is owed for (a void invoice, a payment beyond the balance)."""
        try:
            made = refunds.give_back_money_kept(
                lambda: PooledUnitOfWork(bootstrap.wiring.pool),
                bootstrap.gateway(),
                bootstrap.utc_now,
            )
        except Exception:  # the database is away: next beat
            log.exception("giving back money kept for nothing failed")
        else:
            if made:
                log.warning("gave back %d payments nothing was owed for", made)

    def _still_running(self, stop: threading.Event) -> bool:
        self.last_beat = time.monotonic()
        return not stop.is_set()
