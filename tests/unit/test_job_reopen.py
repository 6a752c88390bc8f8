"""Technicians, notes, and reopening a closed job before its invoice goes out."""

from __future__ import annotations

import pytest

from services.jobs.domain.model import (
    InvoiceAlreadySent,
    JobAlreadyClosed,
    JobNotClosed,
    JobStatus,
    TenantMismatch,
)
from services.jobs.service_layer import commands, handlers
from shared import contracts
from shared.envelope import Envelope
from tests.unit.builders import address, customer_snapshot
from tests.unit.fakes import FakeJobsUnitOfWork
from tests.unit.test_jobs import NOW, SHOP, a_customer, clock, create_job_cmd

pytestmark = pytest.mark.unit


def closed_job(uow: FakeJobsUnitOfWork) -> str:
    job_id = handlers.create_job(SHOP, create_job_cmd(), uow).job_id
    handlers.close_job(SHOP, commands.CloseJob(job_id=job_id), uow, clock)
    return job_id


def invoice_sent(job_id: str | None, shop_id: str = SHOP, tenant: str = SHOP) -> Envelope:
    event = contracts.InvoiceSent(
        invoice_id="inv-1",
        shop_id=shop_id,
        job_id=job_id,
        invoice_number="INV-1",
        sent_at=NOW,
        due_date=NOW.date(),
        customer=customer_snapshot(),
        service_address=address(),
        lines=[],
        totals=contracts.InvoiceTotals(subtotal_cents=0, tax_cents=0, total_cents=0),
        allowed_payment_methods=["card"],
        pay_url="http://pay/p/x",
    )
    return Envelope(event=event, tenant=tenant, source="/services/invoicing")


def test_reopening_publishes_job_reopened_and_the_next_close_is_closing_two() -> None:
    uow = FakeJobsUnitOfWork([a_customer()])
    job_id = closed_job(uow)
    reopened = handlers.reopen_job(
        SHOP, job_id, commands.ReopenJob(reason="forgot the permit"), uow, clock
    )
    assert (reopened.status, reopened.closed_at, reopened.closings) == (
        JobStatus.IN_PROGRESS,
        None,
        1,
    )
    event = uow.published[-1].envelope.event
    assert isinstance(event, contracts.JobReopened)
    assert (event.job_id, event.reopens_closing, event.reason) == (job_id, 1, "forgot the permit")
    handlers.close_job(SHOP, commands.CloseJob(job_id=job_id), uow, clock)
    again = uow.published[-1].envelope.event
    assert isinstance(again, contracts.JobClosed) and again.closing == 2
    assert [type(p.envelope.event).__name__ for p in uow.published] == [
        "JobClosed",
        "JobReopened",
        "JobClosed",
    ]
    versions = [p.version for p in uow.published]
    assert versions == sorted(set(versions))  # one stream, strictly increasing


def test_only_a_closed_job_reopens() -> None:
    uow = FakeJobsUnitOfWork([a_customer()])
    job_id = handlers.create_job(SHOP, create_job_cmd(), uow).job_id
    with pytest.raises(JobNotClosed):
        handlers.reopen_job(SHOP, job_id, commands.ReopenJob(), uow, clock)
    assert uow.published == []


def test_once_the_invoice_is_sent_the_job_cannot_be_reopened() -> None:
    uow = FakeJobsUnitOfWork([a_customer()])
    job_id = closed_job(uow)
    handlers.when_invoice_is_sent_stop_reopening(invoice_sent(job_id), uow.jobs)
    handlers.when_invoice_is_sent_stop_reopening(invoice_sent(job_id), uow.jobs)  # redelivered
    stored = uow.jobs.get(SHOP, job_id)
    assert stored is not None and stored.invoice_sent and stored.version == 3
    with pytest.raises(InvoiceAlreadySent):
        handlers.reopen_job(SHOP, job_id, commands.ReopenJob(), uow, clock)
    assert len(uow.published) == 1


def test_invoice_sent_for_another_shop_or_without_a_job_changes_nothing() -> None:
    uow = FakeJobsUnitOfWork([a_customer()])
    job_id = closed_job(uow)
    handlers.when_invoice_is_sent_stop_reopening(invoice_sent(job_id, "other", "other"), uow.jobs)
    with pytest.raises(TenantMismatch):  # the body names another shop than the envelope
        handlers.when_invoice_is_sent_stop_reopening(invoice_sent(job_id, SHOP, "other"), uow.jobs)
    handlers.when_invoice_is_sent_stop_reopening(invoice_sent(None), uow.jobs)
    stored = uow.jobs.get(SHOP, job_id)
    assert stored is not None and not stored.invoice_sent


def test_technicians_are_assigned_once_each_and_travel_in_job_closed() -> None:
    uow = FakeJobsUnitOfWork([a_customer()])
    job_id = handlers.create_job(SHOP, create_job_cmd(), uow).job_id
    job = handlers.assign_technicians(
        SHOP, job_id, commands.AssignTechnicians(technicians=["Ana", "Bo", "Ana"]), uow
    )
    assert job.technicians == ["Ana", "Bo"]
    handlers.add_note(
        SHOP, job_id, commands.AddNote(author="Ana", text="Gate code 4411"), uow, clock
    )
    handlers.close_job(SHOP, commands.CloseJob(job_id=job_id), uow, clock)
    event = uow.published[-1].envelope.event
    assert isinstance(event, contracts.JobClosed)
    assert event.technicians == ["Ana", "Bo"]
    assert [(n.author, n.text, n.added_at) for n in event.notes] == [("Ana", "Gate code 4411", NOW)]
    with pytest.raises(JobAlreadyClosed):
        handlers.assign_technicians(SHOP, job_id, commands.AssignTechnicians(technicians=[]), uow)
    after = handlers.add_note(
        SHOP, job_id, commands.AddNote(author="Office", text="Paid"), uow, clock
    )
    assert [n.text for n in after.notes] == ["Gate code 4411", "Paid"]
