"""The invoicing service's consumer process: JobClosed → draft invoice; JobReopened → the draft
is withdrawn until the job closes again."""

from __future__ import annotations

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
from shared.contracts import JobClosed, JobReopened
from shared.envelope import Envelope
from shared.eventstore import EventTooLarge

GROUP = "invoicing"


def on_job_closed(conn: psycopg.Connection, envelope: Envelope) -> None:
    handlers.when_job_is_closed_draft_invoice(envelope, PostgresUnitOfWork(conn), bootstrap.utc_now)


def on_job_reopened(conn: psycopg.Connection, envelope: Envelope) -> None:
    handlers.when_job_is_reopened_withdraw_draft(
        envelope, PostgresUnitOfWork(conn), bootstrap.utc_now
    )


def invoice_streams(envelope: Envelope) -> list[str]:
    """The invoice stream a job event will load, so a batch reads them all at once."""
    event = envelope.event
    if isinstance(event, JobClosed | JobReopened):
        return [invoice_id_for_job(event.shop_id, event.job_id)]
    return []


def build_consumer() -> Consumer:
    return bootstrap.wiring.consumer(
        GROUP,
        {JobClosed: on_job_closed, JobReopened: on_job_reopened},
        poison=(TenantMismatch, InvoiceAlreadyExists, EventTooLarge),
        streams_for=invoice_streams,
    )


def main() -> None:
    bootstrap.wiring.run_consumer(build_consumer, default_port=9103)


if __name__ == "__main__":
    main()
