"""Payments' copy of payable invoices and the pay link: corrections and voids in any order,
the first real open is InvoiceViewed once, previews and HEAD requests are not views."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest

from services.payments.domain.model import PayableInvoice, is_a_real_open
from services.payments.service_layer import handlers
from shared import contracts
from shared.envelope import Envelope
from tests.unit import builders
from tests.unit.fakes import FakePaymentsUnitOfWork

pytestmark = pytest.mark.unit
NOW = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)
SHOP = "shop-1"
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"


def line(cents: int) -> contracts.InvoiceLine:
    return contracts.InvoiceLine(
        line_id="l1",
        kind="charge",
        description="Call-out",
        quantity=1,
        unit_price_cents=cents,
        taxable=False,
        tax_rate_percent=0,
        subtotal_cents=cents,
        tax_cents=0,
        total_cents=cents,
    )


def totals(cents: int) -> contracts.InvoiceTotals:
    return contracts.InvoiceTotals(subtotal_cents=cents, tax_cents=0, total_cents=cents)


def sent(cents: int = 10_000) -> contracts.InvoiceSent:
    return contracts.InvoiceSent(
        invoice_id="inv-1",
        shop_id=SHOP,
        invoice_number="INV-1",
        sent_at=NOW,
        due_date=date(2026, 4, 1),
        customer=builders.customer_snapshot(),
        service_address=builders.address(),
        lines=[line(cents)],
        totals=totals(cents),
        allowed_payment_methods=["card", "ach"],
        pay_url="http://pay/p/tok-0123456789abcdef",
        pay_token="tok-0123456789abcdef",
        shop=contracts.ShopBranding(name="Northwind HVAC"),
    )


def corrected(cents: int, minutes: int, sent_already: bool = True) -> contracts.InvoiceUpdated:
    return contracts.InvoiceUpdated(
        invoice_id="inv-1",
        shop_id=SHOP,
        updated_at=NOW + timedelta(minutes=minutes),
        updated_by="Olivia",
        change="line_changed",
        summary="price",
        sent=sent_already,
        customer=builders.customer_snapshot(),
        service_address=builders.address(),
        lines=[line(cents)],
        totals=totals(cents),
        allowed_payment_methods=["card"],
        due_date=date(2026, 4, 1),
    )


def voided() -> contracts.InvoiceVoided:
    return contracts.InvoiceVoided(
        invoice_id="inv-1", shop_id=SHOP, voided_at=NOW + timedelta(hours=1), voided_by="O"
    )


def deliver(uow: FakePaymentsUnitOfWork, event: contracts.Event, tenant: str = SHOP) -> None:
    handlers.when_invoicing_tells_keep_copy(Envelope(event=event, tenant=tenant, source="/i"), uow)


def stored(uow: FakePaymentsUnitOfWork) -> PayableInvoice:
    found = uow.invoices.get("inv-1")
    assert found is not None
    return found


@pytest.mark.parametrize(
    "order", list(itertools.permutations([sent(), corrected(9_000, 5), corrected(8_000, 9)]))
)
def test_the_newest_content_wins_in_any_order(order: tuple[contracts.Event, ...]) -> None:
    uow = FakePaymentsUnitOfWork()
    for event in order:
        deliver(uow, event)
    copy = stored(uow)
    assert copy.totals is not None and copy.totals.total_cents == 8_000
    assert copy.pay_token == "tok-0123456789abcdef" and copy.payable
    assert copy.allowed_payment_methods == ["card"]


def test_draft_edits_are_not_the_customers_business_and_voids_stick() -> None:
    uow = FakePaymentsUnitOfWork()
    deliver(uow, corrected(1, 1, sent_already=False))
    assert uow.invoices.get("inv-1") is None
    deliver(uow, voided())
    deliver(uow, sent())
    assert not stored(uow).payable and stored(uow).voided_at is not None


def test_a_tenant_mismatch_is_refused() -> None:
    uow = FakePaymentsUnitOfWork()
    with pytest.raises(handlers.TenantMismatch):
        deliver(uow, sent(), tenant="other-shop")


@pytest.mark.parametrize(
    ("method", "agent", "real"),
    [
        ("GET", IPHONE, True),
        ("HEAD", IPHONE, False),
        ("GET", "facebookexternalhit/1.1 Facebot Twitterbot/1.0", False),  # iMessage preview
        ("GET", "WhatsApp/2.23.20.0", False),
        ("GET", "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", False),
        ("GET", "", False),
        ("GET", "curl/8.5.0", False),
        ("GET", "python-requests/2.32.3", False),
        ("GET", "Go-http-client/1.1", False),
        ("GET", "Microsoft Office Existence Discovery", False),
        ("GET", "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328)", False),
        ("GET", "Viber/21.2.0.0 (Android)", False),
        ("GET", "Signal-Android/7.5.1 Android/34", False),
        ("GET", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131", True),
        ("GET", "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Mobile", True),
    ],
)
def test_what_counts_as_a_real_open(method: str, agent: str, real: bool) -> None:
    assert is_a_real_open(method, agent) is real


def test_the_first_real_open_is_viewed_once() -> None:
    uow = FakePaymentsUnitOfWork()
    deliver(uow, sent())
    token = "tok-0123456789abcdef"

    def clock() -> datetime:
        return NOW

    assert handlers.open_pay_link(token, "GET", "WhatsApp/2", uow, clock) is not None
    assert uow.published == []
    for _ in range(3):
        handlers.open_pay_link(token, "GET", IPHONE, uow, clock)
    (viewed,) = uow.published
    assert isinstance(viewed.envelope.event, contracts.InvoiceViewed)
    assert (viewed.aggregate_id, viewed.version, viewed.envelope.tenant) == (
        "viewed:inv-1",
        1,
        SHOP,
    )
    assert uow.invoices.opens["inv-1"] == 3
    assert handlers.open_pay_link("unknown-token-000000", "GET", IPHONE, uow, clock) is None
