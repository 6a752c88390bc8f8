"""Use cases of the invoicing service, named for what they do in the shop."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from services.invoicing.domain.model import TenantMismatch, invoice_id_for_job
from services.invoicing.service_layer.unit_of_work import UnitOfWork
from shared.contracts import JobClosed
from shared.envelope import Envelope

SOURCE = "/services/invoicing"
Clock = Callable[[], datetime]


def when_job_is_closed_draft_invoice(envelope: Envelope, uow: UnitOfWork, clock: Clock) -> None:
    """A closed job becomes a draft invoice in the office's queue (once, however often told)."""
    job = envelope.event
    assert isinstance(job, JobClosed)
    if job.shop_id != envelope.tenant:
        raise TenantMismatch(
            f"JobClosed for shop {job.shop_id} arrived as tenant {envelope.tenant}"
        )
    invoice = uow.invoices.get(invoice_id_for_job(job.shop_id, job.job_id))
    if invoice.version > 0:
        return
    invoice.draft_from_closed_job(job, clock())
    uow.invoices.save(invoice, envelope, SOURCE)
