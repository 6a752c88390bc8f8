"""Event contracts between services. The single source of truth for message shapes: the JSON Schema
and AsyncAPI documents under contracts/ are generated from these models (``make contracts``)."""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field

from shared.contracts.base import Contract, Event

Cents = Annotated[int, Field(description="Money in minor units (cents).")]
NonNegativeCents = Annotated[int, Field(ge=0, description="Money in minor units (cents), >= 0.")]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code.")]
Quantity = Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=3)]
Percent = Annotated[Decimal, Field(ge=0, le=100, max_digits=7, decimal_places=4)]


class Address(Contract):
    line1: str = Field(min_length=1)
    line2: str = ""
    city: str = Field(min_length=1)
    region: str = Field(min_length=1, description="State or province.")
    postal_code: str = Field(min_length=1)
    country: str = Field(default="US", pattern=r"^[A-Z]{2}$")


class CustomerSnapshot(Contract):
    """What the invoice needs to know about the customer, as it was when the fact happened."""

    customer_id: str
    name: str
    email: str | None = None
    phone: str | None = None
    billing_address: Address
    customer_type: Literal["residential", "commercial", "property_manager"] = "residential"
    payment_terms: Literal["due_on_receipt", "net_15", "net_30", "net_45", "net_60", "custom"] = (
        "due_on_receipt"
    )
    payment_terms_days: int = Field(ge=0)
    tax_exempt: bool = False
    tax_exemption_certificate: str | None = None


class JobLineItem(Contract):
    line_id: str
    description: str
    quantity: Quantity
    unit_price_cents: NonNegativeCents
    taxable: bool
    tax_rate_percent: Percent
    added_by: str | None = None
    """Who added the line in the field; None when it came with the job."""
    added_at: datetime | None = None
    pricebook_item_id: str | None = None
    """The shop's pricebook item the line was priced from; None for a custom line."""
    tax_rate_id: str | None = None
    tax_rate_name: str | None = None
    """The shop's named tax rate the line carries; None for a percent typed on the line."""


class LaborEntry(Contract):
    """Time on the job: hours × hourly rate, or a flat amount when ``flat_amount_cents`` is set."""

    entry_id: str
    technician: str
    hours: Quantity
    hourly_rate_cents: NonNegativeCents
    taxable: bool = False
    tax_rate_percent: Percent = Decimal(0)
    added_by: str | None = None
    added_at: datetime | None = None
    flat_amount_cents: NonNegativeCents | None = None
    tax_rate_id: str | None = None
    tax_rate_name: str | None = None


class TaxRate(Contract):
    """One of the shop's named tax rates, so invoicing can re-tax a line without calling jobs."""

    tax_rate_id: str
    name: str
    percent: Percent
    is_default: bool = False


class JobNote(Contract):
    note_id: str
    author: str
    text: str
    added_at: datetime


class JobClosed(Event):
    """A technician closed a job.

    Carries everything invoicing needs, so invoicing never calls jobs."""

    schema_version: Literal[1] = 1
    job_id: str
    shop_id: str
    closed_at: datetime
    currency: Currency = "USD"
    customer: CustomerSnapshot
    service_address: Address
    service_location_id: str | None = None
    line_items: list[JobLineItem]
    labor: list[LaborEntry]
    technicians: list[str] = Field(default_factory=list)
    notes: list[JobNote] = Field(default_factory=list)
    tax_rates: list[TaxRate] = Field(
        default_factory=list, description="All the shop's named tax rates when the job closed."
    )
    closing: int = Field(
        default=1,
        ge=1,
        description="1 for the first closing; a job reopened and closed again sends 2, 3, ...",
    )

    @property
    def subject(self) -> str:
        return self.job_id


class JobReopened(Event):
    """A closed job was reopened before its invoice was sent; its draft no longer stands.

    Invoicing withdraws the draft of closing ``reopens_closing``; the next JobClosed (closing
    ``reopens_closing + 1``) drafts it again."""

    schema_version: Literal[1] = 1
    job_id: str
    shop_id: str
    reopened_at: datetime
    reopens_closing: int = Field(ge=1)
    reason: str = ""

    @property
    def subject(self) -> str:
        return self.job_id


class EstimateApproved(Event):
    """The customer approved an estimate. Carries the full lines and customer snapshot, so
    invoicing can turn it into an invoice (+ Invoice) without calling jobs."""

    schema_version: Literal[1] = 1
    estimate_id: str
    shop_id: str
    approved_at: datetime
    approved_by: str = Field(description="Who approved it, as the office recorded it.")
    currency: Currency = "USD"
    customer: CustomerSnapshot
    service_address: Address
    service_location_id: str | None = None
    line_items: list[JobLineItem]
    labor: list[LaborEntry]
    tax_rates: list[TaxRate] = Field(default_factory=list)
    notes: str = ""

    @property
    def subject(self) -> str:
        return self.estimate_id


class InvoiceLine(Contract):
    line_id: str
    kind: Literal["item", "labor", "charge"]
    description: str
    quantity: Quantity
    unit_price_cents: NonNegativeCents
    taxable: bool
    tax_rate_percent: Percent
    subtotal_cents: Cents
    tax_cents: Cents
    total_cents: Cents
    tax_rate_name: str | None = None
    added_by: str | None = Field(
        default=None, description="The technician who added it in the field, if one did."
    )
    added_at: datetime | None = None


PaymentMethod = Literal["card", "ach"]


class ShopBranding(Contract):
    """How the shop looks to its customers: on the PDF, the pay page, emails and texts."""

    name: str
    logo_url: str | None = None
    color: str = Field(default="#1f6feb", pattern=r"^#[0-9a-fA-F]{6}$")
    time_zone: str = "America/Los_Angeles"


class InvoiceTotals(Contract):
    subtotal_cents: Cents
    tax_cents: Cents
    total_cents: Cents


class InvoiceDrafted(Event):
    """A draft invoice is waiting in the office's queue."""

    schema_version: Literal[1] = 1
    invoice_id: str
    shop_id: str
    source: Literal["job", "estimate", "scratch"]
    job_id: str | None = None
    drafted_at: datetime
    currency: Currency = "USD"
    customer: CustomerSnapshot
    service_address: Address
    lines: list[InvoiceLine]
    totals: InvoiceTotals
    closing: int | None = Field(
        default=None, description="For a job's invoice: the job closing it was drafted from."
    )
    estimate_id: str | None = None
    allowed_payment_methods: list[PaymentMethod] = Field(default=["card", "ach"], min_length=1)
    drafted_by: str | None = Field(default=None, description="Staff who drafted it; None: auto.")

    @property
    def subject(self) -> str:
        return self.invoice_id


class InvoiceDraftWithdrawn(Event):
    """The draft left the office's queue: its job was reopened. A later InvoiceDrafted for the
    same invoice brings it back with the job's new lines. It can come before any InvoiceDrafted
    of that invoice (the reopening was seen first): then there is simply nothing to remove."""

    schema_version: Literal[1] = 1
    invoice_id: str
    shop_id: str
    job_id: str | None = None
    withdrawn_at: datetime
    reopens_closing: int = Field(
        ge=1, description="The job closing reopened; drafts from it or earlier no longer stand."
    )
    reason: str

    @property
    def subject(self) -> str:
        return self.invoice_id


class InvoiceUpdated(Event):
    """Staff changed an invoice (a draft, or a correction to a sent one). Carries the whole
    resulting invoice, so a consumer's copy is simply replaced."""

    schema_version: Literal[1] = 1
    invoice_id: str
    shop_id: str
    updated_at: datetime
    updated_by: str
    change: Literal[
        "bill_to",
        "service_address",
        "line_added",
        "line_changed",
        "line_removed",
        "payment_methods",
        "due_date",
        "note",
    ]
    summary: str = Field(description="The change in plain words, for the timeline.")
    sent: bool = Field(description="True: a correction to an invoice the customer already has.")
    customer: CustomerSnapshot
    service_address: Address
    lines: list[InvoiceLine]
    totals: InvoiceTotals
    allowed_payment_methods: list[PaymentMethod] = Field(min_length=1)
    payment_methods_chosen: bool = False
    due_date: date | None = Field(
        default=None, description="Set by staff (an override), or fixed at Send."
    )
    note: str | None = Field(default=None, description="An internal note (change = note).")

    @property
    def subject(self) -> str:
        return self.invoice_id


class InvoiceSent(Event):
    """Staff sent the invoice: it has a number, a due date and a pay link."""

    schema_version: Literal[1] = 1
    invoice_id: str
    shop_id: str
    job_id: str | None = Field(default=None, description="The job it bills, if any.")
    invoice_number: str
    sent_at: datetime
    sent_by: str | None = None
    due_date: date
    currency: Currency = "USD"
    customer: CustomerSnapshot
    service_address: Address
    lines: list[InvoiceLine]
    totals: InvoiceTotals
    allowed_payment_methods: list[PaymentMethod] = Field(min_length=1)
    pay_url: str
    pay_token: str | None = Field(
        default=None, description="The secret in pay_url (>= 128 bits), for payments' lookup."
    )
    shop: ShopBranding | None = None

    @property
    def subject(self) -> str:
        return self.invoice_id


class InvoiceVoided(Event):
    """Staff voided an unpaid invoice: nothing is owed on it; its pay link says so."""

    schema_version: Literal[1] = 1
    invoice_id: str
    shop_id: str
    voided_at: datetime
    voided_by: str
    reason: str = ""

    @property
    def subject(self) -> str:
        return self.invoice_id


def pay_token_digest(token: str) -> str:
    """How a revoked pay token is named in events and kept: its SHA-256 (hex), never the token."""
    return hashlib.sha256(token.encode()).hexdigest()


class PayLinkReplaced(Event):
    """Staff revoked the invoice's pay link (e.g. the text went to the wrong person) and a new
    one was issued. The old link stops working; later messages carry the new one. Links are
    numbered: InvoiceSent's is 1, each replacement the next; the highest number is the live link
    whatever order these events arrive in."""

    schema_version: Literal[1] = 1
    invoice_id: str
    shop_id: str
    replaced_at: datetime
    replaced_by: str = Field(description="The staff member who revoked the old link.")
    reason: str = ""
    link_number: int = Field(ge=2, description="This link's number (InvoiceSent's link is 1).")
    pay_url: str = Field(description="The new pay link.")
    pay_token: str = Field(description="The secret in the new pay_url (>= 128 bits).")
    revoked_token_sha256: str = Field(
        pattern=r"^[0-9a-f]{64}$",
        description="SHA-256 (hex) of the token revoked: the old link can be recognised (and "
        "answered 'no longer valid') without the secret travelling again.",
    )

    @property
    def subject(self) -> str:
        return self.invoice_id


class InvoiceViewed(Event):
    """The customer opened the pay link."""

    schema_version: Literal[1] = 1
    invoice_id: str
    shop_id: str
    viewed_at: datetime

    @property
    def subject(self) -> str:
        return self.invoice_id


PositiveCents = Annotated[int, Field(gt=0, description="Money in minor units (cents), > 0.")]


class PaymentInitiated(Event):
    """A payment started but has not cleared (ACH takes days): the invoice shows Payment pending
    and reminders pause."""

    schema_version: Literal[1] = 1
    payment_id: str
    invoice_id: str
    shop_id: str
    initiated_at: datetime
    amount_cents: PositiveCents
    currency: Currency = "USD"
    method: PaymentMethod

    @property
    def subject(self) -> str:
        return self.invoice_id


class PaymentReceived(Event):
    """Money for an invoice has been received (card captured, or ACH cleared)."""

    schema_version: Literal[1] = 1
    payment_id: str
    invoice_id: str
    shop_id: str
    received_at: datetime
    amount_cents: PositiveCents
    currency: Currency = "USD"
    method: PaymentMethod
    fee_cents: NonNegativeCents | None = Field(default=None, description="Processor fee, if known.")

    @property
    def subject(self) -> str:
        return self.invoice_id


class PaymentFailed(Event):
    """A payment failed or was returned (an ACH return can come after it cleared): the balance is
    open again and reminders resume."""

    schema_version: Literal[1] = 1
    payment_id: str
    invoice_id: str
    shop_id: str
    failed_at: datetime
    amount_cents: PositiveCents
    currency: Currency = "USD"
    method: PaymentMethod
    reason: str = ""

    @property
    def subject(self) -> str:
        return self.invoice_id


class RefundIssued(Event):
    """Money from a payment went back to the customer."""

    schema_version: Literal[1] = 1
    refund_id: str
    payment_id: str
    invoice_id: str
    shop_id: str
    refunded_at: datetime
    amount_cents: PositiveCents
    currency: Currency = "USD"
    reason: str = ""
    refunded_by: str = Field(default="", description="The staff member who refunded it.")
    kind: Literal["credit", "money_back"] = Field(
        default="money_back",
        description=(
            "credit: the invoice asks for less by the refund (it stays settled); money_back: the"
            " money went back and is owed again (a payment taken on the wrong invoice, or money"
            " given back automatically). Events written before this field meant money_back."
        ),
    )

    @property
    def subject(self) -> str:
        return self.invoice_id


MessageChannel = Literal["sms", "email"]
MessageKind = Literal["invoice_sent", "reminder", "nudge"]


class ReminderSent(Event):
    """Notifications reminded the customer about an unpaid invoice: a step of the shop's schedule,
    or a nudge staff asked for. Recipients are masked (no full numbers or addresses in events)."""

    schema_version: Literal[1] = 1
    reminder_id: str
    invoice_id: str
    shop_id: str
    sent_at: datetime
    channels: list[MessageChannel] = Field(min_length=1)
    step_days: int | None = Field(
        default=None, description="Days from the due date (-3 = three days before); None: a nudge."
    )
    requested_by: str | None = Field(default=None, description="Staff who nudged; None: schedule.")
    balance_cents: NonNegativeCents

    @property
    def subject(self) -> str:
        return self.invoice_id


class MessageFact(Event):
    """What every delivery report says: which message, about which invoice, to whom (masked)."""

    message_id: str
    invoice_id: str
    shop_id: str
    channel: MessageChannel
    kind: MessageKind
    to: str = Field(description="Masked recipient, e.g. •••0142 or d•••@example.com.")

    @property
    def subject(self) -> str:
        return self.invoice_id


class MessageDelivered(MessageFact):
    """The provider reports a message reached the customer's phone or mailbox."""

    schema_version: Literal[1] = 1
    delivered_at: datetime


class MessageFailed(MessageFact):
    """A message did not reach the customer: refused, undelivered, bounced, dropped, or the number
    replied STOP."""

    schema_version: Literal[1] = 1
    failed_at: datetime
    status: Literal["refused", "failed", "undelivered", "bounced", "dropped", "opted_out"]
    reason: str = ""


ALL_EVENTS: tuple[type[Event], ...] = (
    JobClosed,
    JobReopened,
    EstimateApproved,
    InvoiceDrafted,
    InvoiceDraftWithdrawn,
    InvoiceUpdated,
    InvoiceSent,
    InvoiceVoided,
    PayLinkReplaced,
    InvoiceViewed,
    PaymentInitiated,
    PaymentReceived,
    PaymentFailed,
    RefundIssued,
    ReminderSent,
    MessageDelivered,
    MessageFailed,
)
EVENTS_BY_TYPE: dict[str, type[Event]] = {cls.__name__: cls for cls in ALL_EVENTS}
