"""Response models of the invoicing API."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime

from pydantic import BaseModel

from services.invoicing.domain.model import Invoice
from services.invoicing.domain.review import Review
from services.invoicing.domain.settings import ShopSettings
from services.invoicing.domain.timeline import Entry
from shared.contracts import Address, CustomerSnapshot, InvoiceLine, InvoiceTotals


class InvoiceSummary(BaseModel):
    invoice_id: str
    status: str
    source: str
    job_id: str | None
    estimate_id: str | None
    invoice_number: str | None
    customer_id: str
    customer_name: str
    currency: str
    total_cents: int
    balance_cents: int
    due_date: str | None
    drafted_at: str
    sent_at: str | None


class InvoicePage(BaseModel):
    items: list[InvoiceSummary]
    next: str | None
    """Pass as ``after`` for the next page; null on the last page."""


class ProblemOut(BaseModel):
    level: str
    code: str
    message: str
    line_id: str | None


class ReviewOut(BaseModel):
    """The five checks: addresses side by side, lines (field-added marked), tax per line,
    payment methods, due date; ``problems`` lists errors (they block Send) and warnings."""

    bill_to: Address
    service_address: Address
    addresses_differ: bool
    lines_added_in_field: list[str]
    payment_methods: list[str]
    card_max_cents: int
    due_date: date
    due_date_overridden: bool
    payment_terms: str
    problems: list[ProblemOut]
    can_send: bool

    @classmethod
    def of(cls, review: Review) -> ReviewOut:
        return cls.model_validate({**asdict(review), "can_send": review.can_send})


class InvoiceOut(BaseModel):
    invoice_id: str
    shop_id: str
    status: str
    source: str
    job_id: str | None
    estimate_id: str | None
    invoice_number: str | None
    currency: str
    customer: CustomerSnapshot
    service_address: Address
    lines: list[InvoiceLine]
    totals: InvoiceTotals
    paid_cents: int
    refunded_cents: int
    pending_cents: int
    balance_cents: int
    allowed_payment_methods: list[str]
    payment_methods_chosen: bool
    due_date: date | None
    sent_at: datetime | None
    viewed_at: datetime | None
    pay_url: str | None
    link_number: int
    """Which pay link the customer has (1 at sending; each revocation adds one; 0 unsent)."""
    version: int
    review: ReviewOut | None
    """Present until the invoice is sent (and for corrections of a sent, unpaid one)."""

    @classmethod
    def of(cls, invoice: Invoice, review: Review | None, today: date) -> InvoiceOut:
        assert invoice.customer is not None and invoice.service_address is not None
        money = invoice.balance()
        return cls(
            invoice_id=invoice.invoice_id,
            shop_id=invoice.shop_id,
            status=invoice.status_on(today).value,
            source=invoice.source,
            job_id=invoice.job_id,
            estimate_id=invoice.estimate_id,
            invoice_number=invoice.number,
            currency=invoice.currency,
            customer=invoice.customer,
            service_address=invoice.service_address,
            lines=invoice.lines,
            totals=invoice.totals(),
            paid_cents=money.paid_cents,
            refunded_cents=money.refunded_cents,
            pending_cents=invoice.pending_cents,
            balance_cents=money.balance_cents,
            allowed_payment_methods=list(invoice.allowed_payment_methods),
            payment_methods_chosen=invoice.payment_methods_chosen,
            due_date=invoice.due_date,
            sent_at=invoice.sent_at,
            viewed_at=invoice.viewed_at,
            pay_url=invoice.pay_url,
            link_number=invoice.link_number,
            version=invoice.version,
            review=ReviewOut.of(review) if review else None,
        )


class TimelineEntry(BaseModel):
    at: datetime
    who: str
    what: str
    kind: str
    note: str | None

    @classmethod
    def of(cls, entry: Entry) -> TimelineEntry:
        return cls.model_validate(asdict(entry))


class Timeline(BaseModel):
    items: list[TimelineEntry]


class SettingsOut(BaseModel):
    shop_id: str
    name: str
    display_name: str
    number_prefix: str
    card_max_cents: int
    logo_url: str | None
    color: str
    time_zone: str

    @classmethod
    def of(cls, settings: ShopSettings) -> SettingsOut:
        return cls.model_validate({**asdict(settings), "display_name": settings.display_name})
