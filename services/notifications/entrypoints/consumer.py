"""The notifications service's worker process: a consumer that queues the SMS and email of each
InvoiceSent and keeps what reminders need to know (corrections, new pay links, voids, payments),
and a sender that hands queued messages to Twilio and SendGrid (and settles any a crash left
half-sent)."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import psycopg

from services.notifications import bootstrap
from services.notifications.adapters.postgres import PooledMessageStore, QueueOnConnection
from services.notifications.service_layer import handlers
from services.notifications.service_layer.providers import EmailProvider, SmsProvider
from services.notifications.service_layer.store import MessageStore
from shared.consumer import Consumer, Handler
from shared.contracts import (
    Event,
    InvoiceSent,
    InvoiceUpdated,
    InvoiceVoided,
    PayLinkReplaced,
    PaymentFailed,
    PaymentInitiated,
    PaymentReceived,
)
from shared.envelope import Envelope
from shared.kafka import PROMPT_FETCH_WAIT_MS

GROUP = "notifications"
IDLE_SECONDS = 0.05
INVOICE_FACTS: tuple[type[Event], ...] = (
    InvoiceUpdated,
    InvoiceVoided,
    PayLinkReplaced,
    PaymentInitiated,
    PaymentReceived,
    PaymentFailed,
)


def on_invoice_sent(conn: psycopg.Connection, envelope: Envelope) -> None:
    handlers.when_invoice_is_sent_queue_messages(envelope, QueueOnConnection(conn))


def on_invoice_fact(conn: psycopg.Connection, envelope: Envelope) -> None:
    handlers.when_invoice_changes_record_it(envelope, QueueOnConnection(conn))


class Sender:
    """Sends what is queued, oldest first; naps briefly when there is nothing. Every so often it
    settles messages a dead sender left half-sent."""

    def __init__(
        self, store: MessageStore, sms: SmsProvider, email: EmailProvider, grace: timedelta
    ) -> None:
        self.store, self.sms, self.email, self.grace = store, sms, email, grace
        self.last_beat = 0.0
        self.last_reconcile = 0.0

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.last_beat = time.monotonic()
            if self.last_beat - self.last_reconcile > min(self.grace.total_seconds(), 30) / 2:
                self.last_reconcile = self.last_beat
                handlers.reconcile(
                    self.store, self.sms, self.email, bootstrap.utc_now(), self.grace
                )
            if not handlers.send_next(self.store, self.sms, self.email, bootstrap.utc_now()):
                stop.wait(IDLE_SECONDS)


def build_consumer() -> Consumer:
    routes: dict[type[Event], Handler] = {InvoiceSent: on_invoice_sent}
    routes.update({fact: on_invoice_fact for fact in INVOICE_FACTS})
    return bootstrap.wiring.consumer(
        GROUP,
        routes,
        poison=(handlers.TenantMismatch,),
        fetch_max_wait_ms=PROMPT_FETCH_WAIT_MS,  # the customer's text once the invoice is sent
    )


def main() -> None:
    grace = timedelta(seconds=bootstrap.wiring.settings.message_reconcile_seconds)
    store = PooledMessageStore(bootstrap.wiring.pool)
    sender = Sender(store, bootstrap.sms(), bootstrap.email(), grace)
    bootstrap.wiring.run_consumer(build_consumer, default_port=9107, extra=[sender])


if __name__ == "__main__":
    main()
