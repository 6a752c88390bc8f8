"""The notifications service's worker process: a consumer that queues the SMS and email of each
InvoiceSent, and a sender that hands queued messages to Twilio and SendGrid."""

from __future__ import annotations

import threading
import time

import psycopg

from services.notifications import bootstrap
from services.notifications.adapters.postgres import PooledMessageStore, QueueOnConnection
from services.notifications.service_layer import handlers
from services.notifications.service_layer.providers import EmailProvider, SmsProvider
from services.notifications.service_layer.store import MessageStore
from shared.consumer import Consumer
from shared.contracts import InvoiceSent
from shared.envelope import Envelope

GROUP = "notifications"
IDLE_SECONDS = 0.05


def on_invoice_sent(conn: psycopg.Connection, envelope: Envelope) -> None:
    handlers.when_invoice_is_sent_queue_messages(envelope, QueueOnConnection(conn))


class Sender:
    """Sends what is queued, oldest first; naps briefly when there is nothing."""

    def __init__(self, store: MessageStore, sms: SmsProvider, email: EmailProvider) -> None:
        self.store, self.sms, self.email = store, sms, email
        self.last_beat = 0.0

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.last_beat = time.monotonic()
            if not handlers.send_next(self.store, self.sms, self.email):
                stop.wait(IDLE_SECONDS)


def build_consumer() -> Consumer:
    return bootstrap.wiring.consumer(
        GROUP, {InvoiceSent: on_invoice_sent}, poison=(handlers.TenantMismatch,)
    )


def main() -> None:
    sender = Sender(PooledMessageStore(bootstrap.wiring.pool), bootstrap.sms(), bootstrap.email())
    bootstrap.wiring.run_consumer(build_consumer, default_port=9107, extra=[sender])


if __name__ == "__main__":
    main()
