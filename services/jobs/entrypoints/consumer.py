"""The jobs service's consumer process: InvoiceSent → the job can no longer be reopened."""

from __future__ import annotations

import psycopg

from services.jobs import bootstrap
from services.jobs.adapters.postgres import PostgresJobs
from services.jobs.domain.model import TenantMismatch
from services.jobs.service_layer import handlers
from shared.consumer import Consumer
from shared.contracts import InvoiceSent
from shared.envelope import Envelope

GROUP = "jobs"


def on_invoice_sent(conn: psycopg.Connection, envelope: Envelope) -> None:
    handlers.when_invoice_is_sent_stop_reopening(envelope, PostgresJobs(conn))


def build_consumer() -> Consumer:
    return bootstrap.wiring.consumer(
        GROUP, {InvoiceSent: on_invoice_sent}, poison=(TenantMismatch,)
    )


def main() -> None:
    bootstrap.wiring.run_consumer(build_consumer, default_port=9102)


if __name__ == "__main__":
    main()
