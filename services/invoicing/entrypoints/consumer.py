"""The invoicing service's consumer process: JobClosed → draft invoice; JobReopened → the draft
is withdrawn until the job closes again; EstimateApproved → invoicing's copy for + Invoice; facts
from payments (viewed, paid, failed, refunded) → the invoice's history and status."""

from __future__ import annotations

import psycopg

from services.invoicing import bootstrap
from services.invoicing.adapters.postgres import PostgresUnitOfWork
from services.invoicing.domain.model import (
    EXTERNAL_FACTS,
    InvoiceAlreadyExists,
    InvoiceStatus,
    TenantMismatch,
    invoice_id_for_job,
)
from services.invoicing.service_layer import handlers
from shared.consumer import Consumer, Handler
from shared.contracts import (
    EstimateApproved,
    Event,
    JobClosed,
    JobReopened,
    PaymentReceived,
)
from shared.envelope import Envelope
from shared.eventstore import EventTooLarge
from shared.kafka import PROMPT_FETCH_WAIT_MS
from shared.metrics import SEND_TO_PAID_SECONDS

GROUP = "invoicing"


def on_job_closed(conn: psycopg.Connection, envelope: Envelope) -> None:
    handlers.when_job_is_closed_draft_invoice(envelope, PostgresUnitOfWork(conn), bootstrap.utc_now)


def on_job_reopened(conn: psycopg.Connection, envelope: Envelope) -> None:
    handlers.when_job_is_reopened_withdraw_draft(
        envelope, PostgresUnitOfWork(conn), bootstrap.utc_now
    )


def on_estimate_approved(conn: psycopg.Connection, envelope: Envelope) -> None:
    handlers.when_estimate_is_approved_keep_it(envelope, PostgresUnitOfWork(conn))


def on_payment_fact(conn: psycopg.Connection, envelope: Envelope) -> None:
    changed = handlers.when_payments_report_record_it(envelope, PostgresUnitOfWork(conn))
    fact = envelope.event
    if changed is None or not isinstance(fact, PaymentReceived) or changed.sent_at is None:
        return
    if changed.base_status() is InvoiceStatus.PAID:  # this payment settled it: send-to-paid
        SEND_TO_PAID_SECONDS.observe((fact.received_at - changed.sent_at).total_seconds())


def invoice_streams(envelope: Envelope) -> list[str]:
    """The invoice stream an event will load, so a batch reads them all at once."""
    event = envelope.event
    if isinstance(event, JobClosed | JobReopened):
        return [invoice_id_for_job(event.shop_id, event.job_id)]
    invoice_id = getattr(event, "invoice_id", None)
    return [invoice_id] if isinstance(invoice_id, str) else []


def build_consumer() -> Consumer:
    routes: dict[type[Event], Handler] = {
        JobClosed: on_job_closed,
        JobReopened: on_job_reopened,
        EstimateApproved: on_estimate_approved,
    }
    routes.update({fact: on_payment_fact for fact in EXTERNAL_FACTS})
    return bootstrap.wiring.consumer(
        GROUP,
        routes,
        poison=(TenantMismatch, InvoiceAlreadyExists, EventTooLarge),
        streams_for=invoice_streams,
        fetch_max_wait_ms=PROMPT_FETCH_WAIT_MS,  # the office waits for the closed job's draft
    )


def main() -> None:
    bootstrap.wiring.run_consumer(build_consumer, default_port=9103)


if __name__ == "__main__":
    main()
