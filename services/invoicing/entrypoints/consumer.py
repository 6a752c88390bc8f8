"""The invoicing service's consumer process: JobClosed → draft invoice."""

from __future__ import annotations

import os
import sys

import psycopg

from services.invoicing import bootstrap
from services.invoicing.adapters.postgres import PostgresUnitOfWork
from services.invoicing.domain.model import (
    InvoiceAlreadyExists,
    TenantMismatch,
    invoice_id_for_job,
)
from services.invoicing.service_layer import handlers
from shared.consumer import Consumer
from shared.contracts import JobClosed
from shared.envelope import Envelope
from shared.eventstore import EventTooLarge
from shared.kafka import make_consumer, make_producer
from shared.logs import configure_logging
from shared.worker import run_worker

GROUP = "invoicing"


def on_job_closed(conn: psycopg.Connection, envelope: Envelope) -> None:
    handlers.when_job_is_closed_draft_invoice(envelope, PostgresUnitOfWork(conn), bootstrap.utc_now)


def invoice_streams(envelope: Envelope) -> list[str]:
    """The invoice stream a JobClosed will load, so a batch reads them all at once."""
    event = envelope.event
    if isinstance(event, JobClosed):
        return [invoice_id_for_job(event.shop_id, event.job_id)]
    return []


def build_consumer() -> Consumer:
    settings = bootstrap.wiring.settings
    kafka = make_consumer(
        settings.kafka_bootstrap_servers,
        GROUP,
        [JobClosed.topic],
        session_timeout_ms=settings.consumer_session_timeout_ms,
        heartbeat_interval_ms=settings.consumer_heartbeat_interval_ms,
        max_poll_records=settings.consumer_batch_size,
    )
    producer = make_producer(settings.kafka_bootstrap_servers, client_id=f"{GROUP}-dlq")
    return Consumer(
        GROUP,
        bootstrap.wiring.database_url,
        kafka,
        producer,
        {JobClosed: on_job_closed},
        max_attempts=settings.consumer_max_attempts,
        poison=(TenantMismatch, InvoiceAlreadyExists, EventTooLarge),
        streams_for=invoice_streams,
    )


def main() -> None:
    configure_logging("invoicing-consumer", bootstrap.wiring.settings.log_level)
    port = int(os.environ.get("PORT", "9103"))
    sys.exit(run_worker("invoicing-consumer", [build_consumer()], port))


if __name__ == "__main__":
    main()
