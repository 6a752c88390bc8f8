"""The invoice aggregate, event-sourced: its history is its truth; state is folded from events.

Its events are the published contracts (shared.contracts), which are plain frozen value objects.
Facts from payments (viewed, paid, failed, refunded) are recorded in the same history, so every
status a user sees is derived from one list of events, in whatever order they arrived."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from shared.contracts import (
    Address,
    CustomerSnapshot,
    EstimateApproved,
    Event,
    InvoiceDrafted,
    InvoiceDraftWithdrawn,
    InvoiceLine,
    InvoiceSent,
    InvoiceTotals,
    InvoiceUpdated,
    InvoiceViewed,
    InvoiceVoided,
    JobClosed,
    JobLineItem,
    JobReopened,
    LaborEntry,
    MessageDelivered,
    MessageFailed,
    PayLinkReplaced,
    PaymentFailed,
    PaymentInitiated,
    PaymentMethod,
    PaymentReceived,
    RefundIssued,
    ReminderSent,
    ShopBranding,
    pay_token_digest,
)
from shared.money import (
    Balance,
    LineAmounts,
    format_cents,
    invoice_balance,
    invoice_totals,
    line_amounts,
)

LineKind = Literal["item", "labor", "charge"]
INVOICE_NAMESPACE = uuid.UUID("5b0f8c8e-7a51-4a4f-9d0e-6f1f3c0f2a11")
BOTH_METHODS: list[PaymentMethod] = ["card", "ach"]
EXTERNAL_FACTS = (
    InvoiceViewed,
    PaymentInitiated,
    PaymentReceived,
    PaymentFailed,
    RefundIssued,
    ReminderSent,
    MessageDelivered,
    MessageFailed,
)
"""Facts other services publish that the invoice records in its history (not re-published)."""
PaymentFact = PaymentInitiated | PaymentReceived | PaymentFailed


class InvoiceStatus(StrEnum):
    NONE = "none"
    DRAFT = "draft"
    WITHDRAWN = "withdrawn"
    """The job was reopened: out of the queue until it closes again."""
    SENT = "sent"
    VIEWED = "viewed"
    PAYMENT_PENDING = "payment_pending"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    OVERDUE = "overdue"
    VOID = "void"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"


class InvoiceAlreadyExists(Exception):
    pass


class TenantMismatch(Exception):
    """An event names one shop in its body and another in its envelope: never processed."""


class UnknownInvoice(Exception):
    pass


class UnknownLine(Exception):
    pass


class NotEditable(Exception):
    """The invoice cannot change now (void, or its job was reopened)."""


class OutOfBounds(Exception):
    """A value no invoice can have (a due date decades away, a total above the shop's maximum);
    ``field`` names it and ``reason`` says why, in the shop's words."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


DUE_WITHIN = timedelta(days=5 * 365 + 1)
"""A due date is within five years of the invoice's date (either way)."""
DEFAULT_MAX_INVOICE_CENTS = 100_000_000
"""$1,000,000: above this an invoice is a typo, not a job (the shop can raise it)."""


def due_date_problem(due: date, issued: date) -> str | None:
    if abs(due - issued) <= DUE_WITHIN:
        return None
    return "must be within 5 years of the invoice's date"


def total_problem(total_cents: int, max_cents: int) -> str | None:
    if total_cents <= max_cents:
        return None
    return f"the total may be at most {format_cents(max_cents)} (the shop's maximum)"


class BelowAmountPaid(Exception):
    """A correction may not bring the total below what the customer has already paid."""


class CannotSend(Exception):
    """The review found errors (listed in ``problems`` as (code, message))."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(message for _, message in problems))
        self.problems = problems


class AlreadySent(Exception):
    pass


class CannotVoid(Exception):
    pass


class CannotReplacePayLink(Exception):
    """Only a sent invoice with something still owed has a pay link worth replacing."""


def invoice_id_for_job(shop_id: str, job_id: str) -> str:
    """One invoice per closed job: the id is derived from the shop and the job, so a replay
    cannot make two."""
    return str(uuid.uuid5(INVOICE_NAMESPACE, f"job:{shop_id}:{job_id}"))


def invoice_id_for_estimate(shop_id: str, estimate_id: str, attempt: int = 1) -> str:
    """One invoice per approved estimate unless staff ask for another (``attempt`` 2, 3, …)."""
    return str(uuid.uuid5(INVOICE_NAMESPACE, f"estimate:{shop_id}:{estimate_id}:{attempt}"))


@dataclass(frozen=True)
class LineInput:
    """A line as staff type it; the amounts are always computed here."""

    description: str
    quantity: Decimal
    unit_price_cents: int
    taxable: bool = True
    tax_rate_percent: Decimal = Decimal(0)
    tax_rate_name: str | None = None
    kind: LineKind = "charge"


@dataclass
class Payment:
    amount_cents: int
    method: PaymentMethod
    state: Literal["pending", "received", "failed"]
    at: datetime


@dataclass(frozen=True)
class Edit:
    """Who changes the invoice and when, and the shop's card limit for default methods."""

    by: str
    now: datetime
    card_max_cents: int
    max_invoice_cents: int = DEFAULT_MAX_INVOICE_CENTS


@dataclass
class Invoice:
    invoice_id: str
    version: int = 0
    status: InvoiceStatus = InvoiceStatus.NONE
    shop_id: str = ""
    source: str = ""
    job_id: str | None = None
    estimate_id: str | None = None
    currency: str = "USD"
    customer: CustomerSnapshot | None = None
    service_address: Address | None = None
    lines: list[InvoiceLine] = field(default_factory=list)
    allowed_payment_methods: list[PaymentMethod] = field(default_factory=lambda: BOTH_METHODS)
    payment_methods_chosen: bool = False
    due_date: date | None = None
    """An override while a draft; the fixed due date once sent."""
    closing: int = 0
    """The job closing the draft was made from (0: none yet)."""
    reopened: int = 0
    """The latest job closing known to be reopened: no closing up to it may be drafted."""
    number: str | None = None
    sent_at: datetime | None = None
    pay_token: str | None = None
    pay_url: str | None = None
    link_number: int = 0
    """1 for the link InvoiceSent carried; each replacement the next (0: not sent)."""
    viewed_at: datetime | None = None
    voided: bool = False
    payments: dict[str, Payment] = field(default_factory=dict)
    refunds: dict[str, int] = field(default_factory=dict)
    told: set[str] = field(default_factory=set)
    """Reminders and delivery reports already in the history (by reminder or message id)."""
    pending: list[Event] = field(default_factory=list)

    @classmethod
    def from_history(cls, invoice_id: str, history: list[Event]) -> Invoice:
        invoice = cls(invoice_id)
        for event in history:
            invoice._apply(event)
            invoice.version += 1
        return invoice

    # --- derived figures ----------------------------------------------------------------------

    @property
    def total_cents(self) -> int:
        return self.totals().total_cents

    def totals(self) -> InvoiceTotals:
        return _totals(self.lines)

    def balance(self) -> Balance:
        received = [p.amount_cents for p in self.payments.values() if p.state == "received"]
        return invoice_balance(self.total_cents, received, self.refunds.values())

    @property
    def pending_cents(self) -> int:
        return sum(p.amount_cents for p in self.payments.values() if p.state == "pending")

    @property
    def is_sent(self) -> bool:
        return self.number is not None

    def status_on(self, today: date) -> InvoiceStatus:
        """What the office sees today: Overdue is a matter of the date, so it is derived here."""
        status = self.base_status()
        owing = status in (InvoiceStatus.SENT, InvoiceStatus.VIEWED, InvoiceStatus.PARTIALLY_PAID)
        late = self.due_date is not None and today > self.due_date
        if owing and late and self.balance().balance_cents > 0:
            return InvoiceStatus.OVERDUE
        return status

    def base_status(self) -> InvoiceStatus:
        """The status from the history alone (everything but Overdue)."""
        if self.voided:
            return InvoiceStatus.VOID
        if not self.is_sent:
            return self.status
        money = self.balance()
        if money.refunded_cents > 0:
            net = money.paid_cents - money.refunded_cents
            return InvoiceStatus.PARTIALLY_REFUNDED if net > 0 else InvoiceStatus.REFUNDED
        if money.paid_cents > 0 and money.balance_cents <= 0:
            return InvoiceStatus.PAID
        if self.pending_cents > 0:
            return InvoiceStatus.PAYMENT_PENDING
        if money.paid_cents > 0:
            return InvoiceStatus.PARTIALLY_PAID
        return InvoiceStatus.VIEWED if self.viewed_at else InvoiceStatus.SENT

    # --- three ways in -------------------------------------------------------------------------

    def is_news(self, job: JobClosed) -> bool:
        """A closing this invoice has not been drafted from yet, while it can still be redrafted.

        Closings are numbered, so a redelivered or late JobClosed is recognised whatever order
        the JobClosed and JobReopened topics deliver in."""
        return self._before_sending() and job.closing > max(self.closing, self.reopened)

    def _before_sending(self) -> bool:
        unsent = self.status in (InvoiceStatus.NONE, InvoiceStatus.DRAFT, InvoiceStatus.WITHDRAWN)
        return unsent and not self.is_sent and not self.voided

    def draft_from_closed_job(self, job: JobClosed, now: datetime, card_max_cents: int) -> None:
        """Draft (or, after the job was reopened and closed again, redraft) from the job."""
        if not self.is_news(job):
            raise InvoiceAlreadyExists(self.invoice_id)
        exempt = job.customer.tax_exempt
        lines = [_item_line(item, exempt) for item in job.line_items]
        lines += [_labor_line(entry, exempt) for entry in job.labor]
        self._record(
            InvoiceDrafted(
                invoice_id=self.invoice_id,
                shop_id=job.shop_id,
                source="job",
                job_id=job.job_id,
                drafted_at=now,
                currency=job.currency,
                customer=job.customer,
                service_address=job.service_address,
                lines=lines,
                totals=_totals(lines),
                closing=job.closing,
                allowed_payment_methods=self._methods_for(lines, card_max_cents),
            )
        )

    def draft_from_estimate(
        self, estimate: EstimateApproved, edit: Edit, drafted_by: str | None = None
    ) -> None:
        """+ Invoice on an approved estimate, from the copy invoicing keeps of its approval."""
        self._must_be_new()
        exempt = estimate.customer.tax_exempt
        lines = [_item_line(item, exempt) for item in estimate.line_items]
        lines += [_labor_line(entry, exempt) for entry in estimate.labor]
        self._record(
            InvoiceDrafted(
                invoice_id=self.invoice_id,
                shop_id=estimate.shop_id,
                source="estimate",
                estimate_id=estimate.estimate_id,
                drafted_at=edit.now,
                drafted_by=drafted_by or edit.by,
                currency=estimate.currency,
                customer=estimate.customer,
                service_address=estimate.service_address,
                lines=lines,
                totals=_totals(lines),
                allowed_payment_methods=self._methods_for(lines, edit.card_max_cents),
            )
        )

    def draft_from_scratch(
        self,
        shop_id: str,
        customer: CustomerSnapshot,
        service_address: Address,
        lines: list[LineInput],
        edit: Edit,
    ) -> None:
        """+ New Invoice: one-off charges for a customer."""
        self._must_be_new()
        priced = [_line_from_input(str(uuid.uuid4()), line) for line in lines]
        _within_maximum(priced, edit)
        self._record(
            InvoiceDrafted(
                invoice_id=self.invoice_id,
                shop_id=shop_id,
                source="scratch",
                drafted_at=edit.now,
                drafted_by=edit.by,
                customer=customer,
                service_address=service_address,
                lines=priced,
                totals=_totals(priced),
                allowed_payment_methods=self._methods_for(priced, edit.card_max_cents),
            )
        )

    def _must_be_new(self) -> None:
        if self.status is not InvoiceStatus.NONE:
            raise InvoiceAlreadyExists(self.invoice_id)

    def withdraw_for_reopened_job(self, job: JobReopened, now: datetime) -> bool:
        """Take the draft out of the queue if it was made from the closing now reopened (or an
        earlier one). Recorded even before that closing's JobClosed arrives (topics are not
        ordered with each other), so it is never drafted. False when nothing changes: already
        known, a later closing already drafted, or the invoice went out."""
        k = job.reopens_closing
        if not self._before_sending() or k <= self.reopened or k < self.closing:
            return False
        self._record(
            InvoiceDraftWithdrawn(
                invoice_id=self.invoice_id,
                shop_id=job.shop_id,
                job_id=job.job_id,
                withdrawn_at=now,
                reopens_closing=k,
                reason=f"job reopened{': ' + job.reason if job.reason else ''}",
            )
        )
        return True

    # --- editing ------------------------------------------------------------------------------

    def change_bill_to(self, address: Address, edit: Edit) -> None:
        customer = self._customer()
        changed = customer.model_copy(update={"billing_address": address})
        self._update(edit, "bill_to", f"bill-to changed to {_one_line(address)}", customer=changed)

    def change_service_address(self, address: Address, edit: Edit) -> None:
        summary = f"service address changed to {_one_line(address)}"
        self._update(edit, "service_address", summary, service_address=address)

    def add_line(self, line_id: str, line: LineInput, edit: Edit) -> None:
        lines = [*self.lines, _line_from_input(line_id, line)]
        summary = f"added {line.description} ({_line_money(lines[-1])})"
        self._update(edit, "line_added", summary, lines=lines)

    def change_line(self, line_id: str, changes: dict[str, object], edit: Edit) -> None:
        """``changes`` are LineInput fields; the line's amounts are computed again."""
        old = self._line(line_id)
        new = _line_from_input(line_id, replace(_input_of(old), **changes))  # type: ignore[arg-type]
        new = new.model_copy(update={"added_by": old.added_by, "added_at": old.added_at})
        lines = [new if line.line_id == line_id else line for line in self.lines]
        summary = f"changed {old.description}: {_line_money(old)} → {_line_money(new)}"
        self._update(edit, "line_changed", summary, lines=lines)

    def remove_line(self, line_id: str, edit: Edit) -> None:
        old = self._line(line_id)
        lines = [line for line in self.lines if line.line_id != line_id]
        self._update(edit, "line_removed", f"removed {old.description}", lines=lines)

    def set_payment_methods(self, methods: list[PaymentMethod], edit: Edit) -> None:
        chosen = [m for m in BOTH_METHODS if m in methods]
        summary = f"payment methods set to {' and '.join(chosen)}"
        self._update(
            edit,
            "payment_methods",
            summary,
            allowed_payment_methods=chosen,
            payment_methods_chosen=True,
        )

    def set_due_date(self, due: date | None, edit: Edit) -> None:
        """An override; None goes back to the customer's payment terms (drafts only)."""
        if due is None and self.is_sent:
            raise NotEditable("a sent invoice keeps a due date; give the new date instead")
        issued = (self.sent_at or edit.now).date()
        if due is not None and (problem := due_date_problem(due, issued)):
            raise OutOfBounds("due_date", problem)
        summary = f"due date set to {due.isoformat()}" if due else "due date from payment terms"
        self._update(edit, "due_date", summary, due_date=due)

    def add_note(self, text: str, edit: Edit) -> None:
        """Internal notes; allowed on any invoice, void included."""
        if self.status is InvoiceStatus.NONE:
            raise UnknownInvoice(self.invoice_id)
        self._record(self._updated(edit, "note", "internal note", note=text))

    def _update(self, edit: Edit, change: str, summary: str, **state: object) -> None:
        self._must_be_editable()
        lines = state.get("lines", self.lines)
        assert isinstance(lines, list)
        if "lines" in state:
            _within_maximum(lines, edit)
        floor = self.balance().paid_cents - self.balance().refunded_cents + self.pending_cents
        if self.is_sent and _totals(lines).total_cents < floor:
            raise BelowAmountPaid(
                f"the total may not go below the {floor} cents already paid or clearing"
            )
        chosen = state.get("payment_methods_chosen", self.payment_methods_chosen)
        if not chosen:
            state["allowed_payment_methods"] = self._methods_for(lines, edit.card_max_cents)
        self._record(self._updated(edit, change, summary, **state))

    def _updated(self, edit: Edit, change: str, summary: str, **state: object) -> InvoiceUpdated:
        lines = state.get("lines", self.lines)
        assert isinstance(lines, list)
        fields: dict[str, object] = {
            "customer": self._customer(),
            "service_address": self.service_address,
            "lines": lines,
            "allowed_payment_methods": self.allowed_payment_methods,
            "payment_methods_chosen": self.payment_methods_chosen,
            "due_date": self.due_date,
            **state,
        }
        return InvoiceUpdated(
            invoice_id=self.invoice_id,
            shop_id=self.shop_id,
            updated_at=edit.now,
            updated_by=edit.by,
            change=change,
            summary=summary,
            sent=self.is_sent,
            totals=_totals(lines),
            **fields,
        )

    def _must_be_editable(self) -> None:
        if self.status is InvoiceStatus.NONE:
            raise UnknownInvoice(self.invoice_id)
        if self.voided:
            raise NotEditable("the invoice is void")
        if self.status is InvoiceStatus.WITHDRAWN:
            raise NotEditable("its job was reopened; the invoice comes back when the job closes")

    def _methods_for(self, lines: list[InvoiceLine], card_max_cents: int) -> list[PaymentMethod]:
        """Card is off by default above the shop's card limit (big-ticket jobs go ACH only)."""
        return ["ach"] if _totals(lines).total_cents > card_max_cents else list(BOTH_METHODS)

    def _line(self, line_id: str) -> InvoiceLine:
        for line in self.lines:
            if line.line_id == line_id:
                return line
        raise UnknownLine(line_id)

    def _customer(self) -> CustomerSnapshot:
        if self.customer is None:
            raise UnknownInvoice(self.invoice_id)
        return self.customer

    # --- send and void -------------------------------------------------------------------------

    def send(
        self,
        *,
        number: str,
        pay_token: str,
        pay_url: str,
        today: date,
        branding: ShopBranding,
        by: str,
        now: datetime,
        problems: list[tuple[str, str]],
    ) -> None:
        """Number it, fix the due date and publish InvoiceSent; ``problems`` are the review's
        errors (any of them refuses the send)."""
        self._must_be_editable()
        if self.is_sent:
            raise AlreadySent(f"invoice {self.number} was sent on {self.sent_at:%Y-%m-%d}")
        if problems:
            raise CannotSend(problems)
        customer = self._customer()
        assert self.service_address is not None
        self._record(
            InvoiceSent(
                invoice_id=self.invoice_id,
                shop_id=self.shop_id,
                job_id=self.job_id,
                invoice_number=number,
                sent_at=now,
                sent_by=by,
                due_date=self.proposed_due_date(today),
                currency=self.currency,
                customer=customer,
                service_address=self.service_address,
                lines=self.lines,
                totals=self.totals(),
                allowed_payment_methods=self.allowed_payment_methods,
                pay_url=pay_url,
                pay_token=pay_token,
                shop=branding,
            )
        )

    def proposed_due_date(self, today: date) -> date:
        """The override, else the send date plus the customer's payment terms."""
        if self.due_date is not None:
            return self.due_date
        return today + timedelta(days=self._customer().payment_terms_days)

    def void(self, by: str, now: datetime, reason: str) -> None:
        if self.status is InvoiceStatus.NONE:
            raise UnknownInvoice(self.invoice_id)
        if self.voided:
            raise CannotVoid("the invoice is already void")
        money = self.balance()
        if money.paid_cents > 0 or self.pending_cents > 0:
            raise CannotVoid("it has payments: refund them first, or correct the invoice")
        self._record(
            InvoiceVoided(
                invoice_id=self.invoice_id,
                shop_id=self.shop_id,
                voided_at=now,
                voided_by=by,
                reason=reason,
            )
        )

    def replace_pay_link(
        self,
        *,
        pay_token: str,
        pay_url: str,
        by: str,
        now: datetime,
        reason: str,
        revoking: int | None = None,
    ) -> None:
        """Revoke the pay link the customer has and issue a new one (the text went to the wrong
        person): the old link stops working, later messages carry the new one. A payment already
        started on the old link still settles to the invoice (money is never refused)."""
        if self.status is InvoiceStatus.NONE:
            raise UnknownInvoice(self.invoice_id)
        if not self.is_sent or self.pay_token is None:
            raise CannotReplacePayLink("the invoice has not been sent: it has no pay link yet")
        if revoking is not None and revoking > self.link_number:
            raise CannotReplacePayLink(f"link {revoking} was never issued")
        if revoking is not None and revoking < self.link_number:
            return  # that link was replaced already: asked twice, revoked once
        if self.voided:
            raise CannotReplacePayLink("the invoice is void: its link already says so")
        if self.balance().balance_cents <= 0:
            raise CannotReplacePayLink("nothing is owed on it: there is nothing to pay")
        if pay_token == self.pay_token:
            raise CannotReplacePayLink("the new link must differ from the old one")
        self._record(
            PayLinkReplaced(
                invoice_id=self.invoice_id,
                shop_id=self.shop_id,
                replaced_at=now,
                replaced_by=by,
                reason=reason,
                link_number=self.link_number + 1,
                pay_url=pay_url,
                pay_token=pay_token,
                revoked_token_sha256=pay_token_digest(self.pay_token),
            )
        )

    # --- facts from payments ------------------------------------------------------------------

    def knows(self, fact: Event) -> bool:
        """Whether recording ``fact`` would change nothing (a redelivery)."""
        if isinstance(fact, InvoiceViewed):
            return self.viewed_at is not None and self.viewed_at <= fact.viewed_at
        if isinstance(fact, RefundIssued):
            return fact.refund_id in self.refunds
        if isinstance(fact, ReminderSent | MessageDelivered | MessageFailed):
            return _told(fact) in self.told
        if isinstance(fact, PaymentFact):
            before = self.payments.get(fact.payment_id)
            return _payment_after(before, fact) == before
        return False

    def record(self, fact: Event) -> bool:
        """Record a fact from payments, in any order with the rest of the history; False when
        it was already known."""
        if not isinstance(fact, EXTERNAL_FACTS) or self.knows(fact):
            return False
        self._record(fact)
        return True

    # --- folding ------------------------------------------------------------------------------

    def _record(self, event: Event) -> None:
        self._apply(event)
        self.pending.append(event)

    def _apply(self, event: Event) -> None:
        if isinstance(event, InvoiceDrafted):
            self._apply_drafted(event)
        elif isinstance(event, InvoiceDraftWithdrawn):
            self.status = InvoiceStatus.WITHDRAWN
            self.shop_id = event.shop_id
            self.reopened = max(self.reopened, event.reopens_closing)
        elif isinstance(event, InvoiceUpdated):
            self._apply_updated(event)
        elif isinstance(event, InvoiceSent):
            self.status = InvoiceStatus.SENT
            self.number, self.sent_at = event.invoice_number, event.sent_at
            self.due_date, self.pay_url, self.pay_token = (
                event.due_date,
                event.pay_url,
                event.pay_token,
            )
            self.link_number = 1
        elif isinstance(event, PayLinkReplaced):
            self.pay_url, self.pay_token = event.pay_url, event.pay_token
            self.link_number = event.link_number
        elif isinstance(event, InvoiceVoided):
            self.voided = True
        else:
            self._apply_fact(event)

    def _apply_drafted(self, event: InvoiceDrafted) -> None:
        self.status = InvoiceStatus.DRAFT
        self.shop_id, self.source, self.currency = event.shop_id, event.source, event.currency
        self.job_id, self.estimate_id = event.job_id, event.estimate_id
        self.customer, self.service_address = event.customer, event.service_address
        self.lines = list(event.lines)
        self.allowed_payment_methods = list(event.allowed_payment_methods)
        self.payment_methods_chosen = False
        self.due_date = None
        self.closing = (event.closing or 1) if event.source == "job" else 0

    def _apply_updated(self, event: InvoiceUpdated) -> None:
        if event.change == "note":
            return
        self.customer, self.service_address = event.customer, event.service_address
        self.lines = list(event.lines)
        self.allowed_payment_methods = list(event.allowed_payment_methods)
        self.payment_methods_chosen = event.payment_methods_chosen
        self.due_date = event.due_date

    def _apply_fact(self, event: Event) -> None:
        if isinstance(event, InvoiceViewed):
            if self.viewed_at is None or event.viewed_at < self.viewed_at:
                self.viewed_at = event.viewed_at
        elif isinstance(event, RefundIssued):
            self.refunds[event.refund_id] = event.amount_cents
        elif isinstance(event, ReminderSent | MessageDelivered | MessageFailed):
            self.told.add(_told(event))
        elif isinstance(event, PaymentFact):
            after = _payment_after(self.payments.get(event.payment_id), event)
            if after is not None:
                self.payments[event.payment_id] = after


def _told(fact: ReminderSent | MessageDelivered | MessageFailed) -> str:
    return fact.reminder_id if isinstance(fact, ReminderSent) else f"message:{fact.message_id}"


def _payment_after(payment: Payment | None, fact: PaymentFact) -> Payment | None:
    """A payment's state after ``fact``, the same in any order: received and failed are final
    over pending; between the two, the later one wins (an ACH return after clearing)."""
    if isinstance(fact, PaymentInitiated):
        return payment or Payment(fact.amount_cents, fact.method, "pending", fact.initiated_at)
    state: Literal["received", "failed"]
    if isinstance(fact, PaymentReceived):
        state, at = "received", fact.received_at
    else:
        state, at = "failed", fact.failed_at
    if payment is None or payment.state == "pending":
        return Payment(fact.amount_cents, fact.method, state, at)
    if payment.state == state or at < payment.at:
        return payment
    if at == payment.at and state == "received":
        return payment  # a tie: failed wins, whichever came first
    return Payment(fact.amount_cents, fact.method, state, at)


def _within_maximum(lines: list[InvoiceLine], edit: Edit) -> None:
    if problem := total_problem(_totals(lines).total_cents, edit.max_invoice_cents):
        raise OutOfBounds("lines", problem)


def _item_line(item: JobLineItem, customer_exempt: bool) -> InvoiceLine:
    line = _line(
        item.line_id,
        "item",
        item.description,
        item.quantity,
        item.unit_price_cents,
        taxable=item.taxable and not customer_exempt,
        rate=item.tax_rate_percent,
    )
    return line.model_copy(
        update={
            "tax_rate_name": item.tax_rate_name,
            "added_by": item.added_by,
            "added_at": item.added_at,
        }
    )


def _labor_line(entry: LaborEntry, customer_exempt: bool) -> InvoiceLine:
    """Hours × rate, or one flat charge that still says how long the work took."""
    if entry.flat_amount_cents is not None:
        description = f"Labor — {entry.technician} ({entry.hours.normalize():f} h, flat rate)"
        quantity, price = Decimal(1), entry.flat_amount_cents
    else:
        description = f"Labor — {entry.technician}"
        quantity, price = entry.hours, entry.hourly_rate_cents
    line = _line(
        entry.entry_id,
        "labor",
        description,
        quantity,
        price,
        taxable=entry.taxable and not customer_exempt,
        rate=entry.tax_rate_percent,
    )
    return line.model_copy(
        update={
            "tax_rate_name": entry.tax_rate_name,
            "added_by": entry.added_by,
            "added_at": entry.added_at,
        }
    )


def _line_from_input(line_id: str, line: LineInput) -> InvoiceLine:
    priced = _line(
        line_id,
        line.kind,
        line.description,
        line.quantity,
        line.unit_price_cents,
        taxable=line.taxable,
        rate=line.tax_rate_percent,
    )
    return priced.model_copy(update={"tax_rate_name": line.tax_rate_name})


def _input_of(line: InvoiceLine) -> LineInput:
    return LineInput(
        description=line.description,
        quantity=line.quantity,
        unit_price_cents=line.unit_price_cents,
        taxable=line.taxable,
        tax_rate_percent=line.tax_rate_percent,
        tax_rate_name=line.tax_rate_name,
        kind=line.kind,
    )


def _line(
    line_id: str,
    kind: LineKind,
    description: str,
    quantity: Decimal,
    unit_price_cents: int,
    *,
    taxable: bool,
    rate: Decimal,
) -> InvoiceLine:
    amounts = line_amounts(quantity, unit_price_cents, taxable, rate)
    return InvoiceLine(
        line_id=line_id,
        kind=kind,
        description=description,
        quantity=quantity,
        unit_price_cents=unit_price_cents,
        taxable=taxable,
        tax_rate_percent=rate,
        subtotal_cents=amounts.subtotal_cents,
        tax_cents=amounts.tax_cents,
        total_cents=amounts.total_cents,
    )


def _totals(lines: list[InvoiceLine]) -> InvoiceTotals:
    totals = invoice_totals(LineAmounts(line.subtotal_cents, line.tax_cents) for line in lines)
    return InvoiceTotals(
        subtotal_cents=totals.subtotal_cents,
        tax_cents=totals.tax_cents,
        total_cents=totals.total_cents,
    )


def _line_money(line: InvoiceLine) -> str:
    return f"{line.quantity.normalize():f} × {format_cents(line.unit_price_cents)}"


def _one_line(address: Address) -> str:
    parts = [address.line1, address.line2, address.city, address.region, address.postal_code]
    return ", ".join(part for part in parts if part)
