"""The invoicing service: drafting an invoice from a closed job, domain and handler on fakes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from services.invoicing.domain.model import (
    Invoice,
    InvoiceAlreadyExists,
    InvoiceStatus,
    TenantMismatch,
    invoice_id_for_job,
)
from services.invoicing.service_layer import handlers
from shared.contracts import InvoiceDrafted, JobClosed
from tests.unit import builders
from tests.unit.fakes import FakeInvoicingUnitOfWork

pytestmark = pytest.mark.unit

NOW = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
CARD_MAX = 500_000


def clock() -> datetime:
    return NOW


def draft(job: JobClosed) -> InvoiceDrafted:
    invoice = Invoice(invoice_id_for_job(job.shop_id, job.job_id))
    invoice.draft_from_closed_job(job, NOW, CARD_MAX)
    assert len(invoice.pending) == 1
    event = invoice.pending[0]
    assert isinstance(event, InvoiceDrafted)
    return event


# --- the Invoice aggregate ---------------------------------------------------------------------


def test_draft_has_one_line_per_item_then_one_per_labor_entry() -> None:
    job = builders.job_closed(
        line_items=[builders.line_item("li-1"), builders.line_item("li-2", description="Valve")],
        labor=[builders.labor_entry("lab-1"), builders.labor_entry("lab-2", technician="Bo")],
    )
    event = draft(job)
    assert [(line.line_id, line.kind) for line in event.lines] == [
        ("li-1", "item"),
        ("li-2", "item"),
        ("lab-1", "labor"),
        ("lab-2", "labor"),
    ]
    assert [line.description for line in event.lines] == [
        "Water heater",
        "Valve",
        "Labor — Ana Silva",
        "Labor — Bo",
    ]


def test_draft_carries_the_job_and_customer_as_they_were() -> None:
    job = builders.job_closed(shop_id="shop-9", currency="CAD")
    event = draft(job)
    assert event.invoice_id == invoice_id_for_job(job.shop_id, job.job_id)
    assert (event.shop_id, event.job_id, event.source) == ("shop-9", job.job_id, "job")
    assert event.drafted_at == NOW
    assert event.currency == "CAD"
    assert event.customer == job.customer
    assert event.service_address == job.service_address


def test_item_line_amounts_are_quantity_times_price_with_tax_per_line() -> None:
    job = builders.job_closed(
        line_items=[
            builders.line_item("a", quantity="1", unit_price_cents=129900, rate="7.25"),
            builders.line_item("b", quantity="3", unit_price_cents=333, rate="7.25"),
            builders.line_item("c", quantity="2", unit_price_cents=500, taxable=False, rate="7.25"),
        ],
        labor=[],
    )
    lines = {line.line_id: line for line in draft(job).lines}
    # 129900 * 7.25% = 9417.75 -> 9418
    assert (lines["a"].subtotal_cents, lines["a"].tax_cents, lines["a"].total_cents) == (
        129900,
        9418,
        139318,
    )
    # 999 * 7.25% = 72.4275 -> 72
    assert (lines["b"].subtotal_cents, lines["b"].tax_cents, lines["b"].total_cents) == (
        999,
        72,
        1071,
    )
    assert (lines["c"].subtotal_cents, lines["c"].tax_cents, lines["c"].taxable) == (
        1000,
        0,
        False,
    )
    assert lines["b"].quantity == Decimal(3) and lines["b"].unit_price_cents == 333


def test_labor_line_is_hours_times_hourly_rate() -> None:
    job = builders.job_closed(
        line_items=[],
        labor=[
            builders.labor_entry("l1", hours="2.5", rate_cents=11000),
            builders.labor_entry("l2", hours="0.33", rate_cents=9999, taxable=True, rate="10"),
        ],
    )
    l1, l2 = draft(job).lines
    assert (l1.quantity, l1.unit_price_cents, l1.subtotal_cents, l1.tax_cents) == (
        Decimal("2.5"),
        11000,
        27500,
        0,
    )
    # 0.33 h x 9999 = 3299.67 -> 3300; tax 10% = 330
    assert (l2.quantity, l2.unit_price_cents, l2.subtotal_cents, l2.tax_cents) == (
        Decimal("0.33"),
        9999,
        3300,
        330,
    )
    assert l2.total_cents == 3630


def test_totals_are_the_sum_of_the_lines() -> None:
    job = builders.job_closed(
        line_items=[builders.line_item("a"), builders.line_item("b", "3", 333)],
        labor=[builders.labor_entry(taxable=True, rate="5")],
    )
    event = draft(job)
    assert event.totals.subtotal_cents == sum(line.subtotal_cents for line in event.lines)
    assert event.totals.tax_cents == sum(line.tax_cents for line in event.lines)
    assert event.totals.total_cents == sum(line.total_cents for line in event.lines)
    assert event.totals.total_cents == 129900 + 9418 + 999 + 72 + 27500 + 1375


def test_tax_exempt_customer_pays_no_tax_on_any_line() -> None:
    job = builders.job_closed(
        customer=builders.customer_snapshot(tax_exempt=True),
        line_items=[builders.line_item("a", rate="7.25"), builders.line_item("b", rate="10")],
        labor=[builders.labor_entry(taxable=True, rate="5")],
    )
    event = draft(job)
    assert all(line.tax_cents == 0 and not line.taxable for line in event.lines)
    assert event.totals.tax_cents == 0
    assert event.totals.total_cents == event.totals.subtotal_cents == 2 * 129900 + 27500


def test_job_without_lines_drafts_an_empty_invoice() -> None:
    event = draft(builders.job_closed(line_items=[], labor=[]))
    assert event.lines == []
    assert (event.totals.subtotal_cents, event.totals.tax_cents, event.totals.total_cents) == (
        0,
        0,
        0,
    )


def test_invoice_id_is_derived_from_the_job_deterministically() -> None:
    first = invoice_id_for_job("shop-1", "job-1")
    assert first == invoice_id_for_job("shop-1", "job-1")
    assert first != invoice_id_for_job("shop-1", "job-2")
    assert uuid.UUID(first).version == 5


def test_a_drafted_invoice_cannot_be_drafted_again() -> None:
    job = builders.job_closed()
    invoice = Invoice.from_history(invoice_id_for_job(job.shop_id, job.job_id), [draft(job)])
    assert invoice.status is InvoiceStatus.DRAFT and invoice.version == 1
    with pytest.raises(InvoiceAlreadyExists):
        invoice.draft_from_closed_job(job, NOW, CARD_MAX)
    assert invoice.pending == []


def test_history_folds_into_state() -> None:
    job = builders.job_closed(shop_id="shop-3")
    drafted = draft(job)
    invoice = Invoice.from_history(drafted.invoice_id, [drafted])
    assert (invoice.shop_id, invoice.total_cents, invoice.version) == (
        "shop-3",
        drafted.totals.total_cents,
        1,
    )


line_items = st.lists(
    st.builds(
        builders.line_item,
        line_id=st.uuids().map(str),
        quantity=st.decimals(Decimal("0.001"), Decimal(1000), places=3).map(str),
        unit_price_cents=st.integers(0, 10_000_000),
        taxable=st.booleans(),
        rate=st.decimals(Decimal(0), Decimal(100), places=4).map(str),
    ),
    max_size=8,
)
labor_entries = st.lists(
    st.builds(
        builders.labor_entry,
        entry_id=st.uuids().map(str),
        hours=st.decimals(Decimal("0.01"), Decimal(100), places=2).map(str),
        rate_cents=st.integers(0, 1_000_000),
        taxable=st.booleans(),
        rate=st.decimals(Decimal(0), Decimal(100), places=4).map(str),
    ),
    max_size=4,
)


@hypothesis_settings(max_examples=100, deadline=None, database=None)
@given(items=line_items, labor=labor_entries, exempt=st.booleans())
def test_any_draft_adds_up(items: list, labor: list, exempt: bool) -> None:  # type: ignore[type-arg]
    job = builders.job_closed(
        customer=builders.customer_snapshot(tax_exempt=exempt), line_items=items, labor=labor
    )
    event = draft(job)
    assert len(event.lines) == len(items) + len(labor)
    for line in event.lines:
        assert line.total_cents == line.subtotal_cents + line.tax_cents
        if not line.taxable:
            assert line.tax_cents == 0
    assert event.totals.total_cents == event.totals.subtotal_cents + event.totals.tax_cents
    assert event.totals.total_cents == sum(line.total_cents for line in event.lines)
    if exempt:
        assert event.totals.tax_cents == 0


# --- the handler -------------------------------------------------------------------------------


def test_handler_drafts_an_invoice_caused_by_the_job_closed_envelope() -> None:
    uow = FakeInvoicingUnitOfWork()
    cause = builders.job_closed_envelope(correlation_id="corr-7")
    job = cause.event
    assert isinstance(job, JobClosed)

    handlers.when_job_is_closed_draft_invoice(cause, uow, clock)

    invoice_id = invoice_id_for_job(job.shop_id, job.job_id)
    (envelope,) = uow.invoices.streams[invoice_id]
    assert isinstance(envelope.event, InvoiceDrafted)
    assert envelope.event.invoice_id == invoice_id
    assert envelope.event.drafted_at == NOW
    assert envelope.tenant == job.shop_id
    assert envelope.source == handlers.SOURCE
    assert envelope.causation_id == cause.id
    assert envelope.correlation_id == "corr-7"
    assert envelope.id != cause.id
    stored = uow.invoices.get(invoice_id)
    assert (stored.status, stored.version) == (InvoiceStatus.DRAFT, 1)


def test_handler_is_a_no_op_when_the_invoice_already_exists() -> None:
    uow = FakeInvoicingUnitOfWork()
    job = builders.job_closed()
    cause = builders.job_closed_envelope(job)
    handlers.when_job_is_closed_draft_invoice(cause, uow, clock)

    # The same fact again (a redelivery) and the same job in a new envelope (a re-publish).
    handlers.when_job_is_closed_draft_invoice(cause, uow, clock)
    again = builders.job_closed_envelope(job)
    assert again.id != cause.id
    handlers.when_job_is_closed_draft_invoice(again, uow, clock)

    assert uow.invoices.saves == 1
    assert [len(stream) for stream in uow.invoices.streams.values()] == [1]


def test_each_job_gets_its_own_invoice() -> None:
    uow = FakeInvoicingUnitOfWork()
    for _ in range(3):
        handlers.when_job_is_closed_draft_invoice(builders.job_closed_envelope(), uow, clock)
    assert len(uow.invoices.streams) == 3


def test_handler_refuses_an_event_whose_tenant_is_not_its_shop() -> None:
    uow = FakeInvoicingUnitOfWork()
    envelope = builders.job_closed_envelope(builders.job_closed(shop_id="shop-1"), tenant="shop-2")
    with pytest.raises(TenantMismatch):
        handlers.when_job_is_closed_draft_invoice(envelope, uow, clock)
    assert uow.invoices.streams == {}
    assert uow.invoices.saves == 0
