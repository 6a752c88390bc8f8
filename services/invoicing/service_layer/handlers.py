"""Use cases of the invoicing service, named for what they do in the shop."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from services.invoicing.domain.model import TenantMismatch, invoice_id_for_job
from services.invoicing.service_layer.unit_of_work import UnitOfWork
from shared.contracts import JobClosed, JobReopened
from shared.envelope import Envelope

SOURCE = "/services/invoicing"
Clock = Callable[[], datetime]


def when_job_is_closed_draft_invoice(envelope: Envelope, uow: UnitOfWork, clock: Clock) -> None:
    """A closed job becomes a draft invoice in the office's queue (once, however often told)."""
    job = envelope.event
    assert isinstance(job, JobClosed)
    _same_shop(job.shop_id, envelope)
    invoice = uow.invoices.get(invoice_id_for_job(job.shop_id, job.job_id))
    if not invoice.is_news(job):
        return
    invoice.draft_from_closed_job(job, clock())
    uow.invoices.save(invoice, envelope, SOURCE)


def when_job_is_reopened_withdraw_draft(envelope: Envelope, uow: UnitOfWork, clock: Clock) -> None:
    """A reopened job's draft leaves the queue until the job closes again (once, in any order
    with the JobClosed events)."""
    job = envelope.event
    assert isinstance(job, JobReopened)
    _same_shop(job.shop_id, envelope)
    invoice = uow.invoices.get(invoice_id_for_job(job.shop_id, job.job_id))
    if invoice.withdraw_for_reopened_job(job, clock()):
        uow.invoices.save(invoice, envelope, SOURCE)


def _same_shop(shop_id: str, envelope: Envelope) -> None:
    if shop_id != envelope.tenant:
        raise TenantMismatch(
            f"{envelope.type} for shop {shop_id} arrived as tenant {envelope.tenant}"
        )
