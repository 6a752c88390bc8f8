"""A reopened job's draft leaves the queue and comes back redrafted when the job closes again,
whatever order the JobClosed and JobReopened topics deliver in, and however often."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from services.invoicing.domain.model import InvoiceStatus, invoice_id_for_job
from services.invoicing.service_layer import handlers
from shared import contracts
from shared.envelope import Envelope
from tests.unit import builders
from tests.unit.fakes import FakeInvoicingUnitOfWork

pytestmark = pytest.mark.unit

NOW = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
JOB = "job-7"
INVOICE = invoice_id_for_job("shop-1", JOB)


def clock() -> datetime:
    return NOW


def closed(closing: int, price: int) -> Envelope:
    event = builders.job_closed(
        JOB, closing=closing, line_items=[builders.line_item(unit_price_cents=price)], labor=[]
    )
    return builders.job_closed_envelope(event)


def reopened(closing: int) -> Envelope:
    event = contracts.JobReopened(
        job_id=JOB, shop_id="shop-1", reopened_at=NOW, reopens_closing=closing, reason="permit"
    )
    return Envelope(event=event, tenant="shop-1", source="/services/jobs")


def deliver(uow: FakeInvoicingUnitOfWork, envelope: Envelope) -> None:
    if isinstance(envelope.event, contracts.JobClosed):
        handlers.when_job_is_closed_draft_invoice(envelope, uow, clock)
    else:
        handlers.when_job_is_reopened_withdraw_draft(envelope, uow, clock)


def history(uow: FakeInvoicingUnitOfWork) -> list[str]:
    return [env.type for env in uow.invoices.streams.get(INVOICE, [])]


def test_close_reopen_close_drafts_withdraws_and_redrafts_with_the_new_lines() -> None:
    uow = FakeInvoicingUnitOfWork()
    for envelope in (closed(1, 1000), reopened(1), closed(2, 2500)):
        deliver(uow, envelope)
    assert history(uow) == ["InvoiceDrafted", "InvoiceDraftWithdrawn", "InvoiceDrafted"]
    invoice = uow.invoices.get(INVOICE)
    assert (invoice.status, invoice.total_cents, invoice.closing) == (
        InvoiceStatus.DRAFT,
        2500 + 181,  # 7.25 % tax, half up
        2,
    )
    withdrawn = uow.invoices.streams[INVOICE][1].event
    assert isinstance(withdrawn, contracts.InvoiceDraftWithdrawn)
    assert (withdrawn.reopens_closing, withdrawn.reason) == (1, "job reopened: permit")


@pytest.mark.parametrize(
    "order", list(itertools.permutations([closed(1, 1000), reopened(1), closed(2, 2500)]))
)
def test_any_delivery_order_with_duplicates_ends_on_the_latest_closing(
    order: tuple[Envelope, ...],
) -> None:
    uow = FakeInvoicingUnitOfWork()
    for envelope in (*order, *order):  # and everything again
        deliver(uow, envelope)
    invoice = uow.invoices.get(INVOICE)
    assert (invoice.status, invoice.closing) == (InvoiceStatus.DRAFT, 2)
    last = uow.invoices.streams[INVOICE][-1].event
    assert isinstance(last, contracts.InvoiceDrafted)
    assert last.lines[0].unit_price_cents == 2500
    assert history(uow).count("InvoiceDrafted") <= 2


def test_a_reopening_seen_before_its_closing_keeps_that_closing_out_of_the_queue() -> None:
    uow = FakeInvoicingUnitOfWork()
    deliver(uow, reopened(1))
    deliver(uow, closed(1, 1000))
    assert uow.invoices.get(INVOICE).status is InvoiceStatus.WITHDRAWN
    assert history(uow) == ["InvoiceDraftWithdrawn"]


def test_a_stale_reopening_does_not_withdraw_a_later_draft() -> None:
    uow = FakeInvoicingUnitOfWork()
    deliver(uow, closed(2, 2500))
    deliver(uow, reopened(1))
    assert history(uow) == ["InvoiceDrafted"]


def test_flat_rate_labor_is_one_charge_that_still_says_the_hours() -> None:
    entry = builders.labor_entry(hours="2.50").model_copy(update={"flat_amount_cents": 25000})
    uow = FakeInvoicingUnitOfWork()
    deliver(
        uow, builders.job_closed_envelope(builders.job_closed(JOB, line_items=[], labor=[entry]))
    )
    drafted = uow.invoices.streams[INVOICE][0].event
    assert isinstance(drafted, contracts.InvoiceDrafted)
    line = drafted.lines[0]
    assert (line.description, line.quantity, line.unit_price_cents, line.total_cents) == (
        "Labor — Ana Silva (2.5 h, flat rate)",
        Decimal(1),
        25000,
        25000,
    )
