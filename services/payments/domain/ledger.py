"""The money side of a payable invoice: what the customer may pay now, and what was paid,
is clearing and was refunded — from payments' own record of its PaymentIntents and refunds.
Standard library and the shared money function only."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from services.payments.domain.model import PayableInvoice
from shared.contracts import PaymentMethod
from shared.money import Balance, invoice_balance

MINIMUM_PAYMENT_CENTS = 100
"""A part payment is at least $1.00 (or the whole balance when less is owed)."""
ChargeStatus = Literal["created", "processing", "succeeded", "failed"]
RESERVATION = timedelta(minutes=15)
"""How long a started payment holds its amount against the balance while the customer finishes
it (3-D Secure) or Stripe answers; after this it no longer holds anything (money that still
arrives beyond the balance is given back)."""


class PaymentRefused(Exception):
    """What the customer asked for cannot be paid; ``field`` says which input and why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class NotPayable(Exception):
    """Void, or nothing is owed."""


@dataclass
class Charge:
    """One payment attempt: one PaymentIntent."""

    charge_id: str
    invoice_id: str
    shop_id: str
    amount_cents: int
    method: PaymentMethod
    status: ChargeStatus = "created"
    intent_id: str | None = None
    refunded_cents: int = 0
    created_at: datetime | None = None

    def reserves(self, now: datetime) -> bool:
        """A started payment not yet settled holds its amount until it fails or expires."""
        fresh = self.created_at is None or now - self.created_at < RESERVATION
        return self.status == "created" and fresh

    @property
    def kept_cents(self) -> int:
        return self.amount_cents - self.refunded_cents if self.status == "succeeded" else 0


@dataclass
class Ledger:
    charges: list[Charge] = field(default_factory=list)

    @property
    def received_cents(self) -> list[int]:
        return [c.amount_cents for c in self.charges if c.status == "succeeded"]

    @property
    def refunded_cents(self) -> list[int]:
        return [c.refunded_cents for c in self.charges if c.refunded_cents]

    @property
    def clearing_cents(self) -> int:
        return sum(c.amount_cents for c in self.charges if c.status == "processing")

    def balance(self, invoice: PayableInvoice) -> Balance:
        total = invoice.totals.total_cents if invoice.totals else 0
        return invoice_balance(total, self.received_cents, self.refunded_cents)

    def reserved_cents(self, now: datetime, apart_from: str = "") -> int:
        """Started payments still holding their amount (``apart_from``: the attempt asking)."""
        return sum(
            c.amount_cents for c in self.charges if c.charge_id != apart_from and c.reserves(now)
        )

    def payable_now(self, invoice: PayableInvoice, now: datetime, apart_from: str = "") -> int:
        """What may be paid now: the balance less what is clearing (ACH) and what payments
        started in other tabs, by other payers or by retries still hold."""
        held = self.clearing_cents + self.reserved_cents(now, apart_from)
        return self.balance(invoice).balance_cents - held

    def money_to_give_back(self, invoice: PayableInvoice) -> list[tuple[Charge, int]]:
        """Money kept that nothing is owed for: everything kept on a void invoice, what was paid
        beyond the balance on another (a payment that landed after its reservation expired). Taken
        from the newest payments first, each at most what is left of it."""
        kept = sum(c.kept_cents for c in self.charges)
        excess = kept if invoice.voided_at else -self.balance(invoice).balance_cents
        owed_back: list[tuple[Charge, int]] = []
        for charge in reversed(self.charges):
            if excess <= 0:
                break
            amount = min(charge.kept_cents, excess)
            if amount > 0:
                owed_back.append((charge, amount))
                excess -= amount
        return owed_back


def check_payment(
    invoice: PayableInvoice,
    ledger: Ledger,
    amount_cents: int,
    method: PaymentMethod,
    now: datetime,
    attempt: str = "",
) -> None:
    """The server decides what may be paid, whatever the browser sends: a method the invoice
    allows, and an amount between the minimum and what is owed now."""
    owed = check_payable(invoice, ledger, method, now, attempt)
    minimum = min(owed, MINIMUM_PAYMENT_CENTS)
    if amount_cents < minimum:
        raise PaymentRefused("amount_cents", f"at least {minimum} cents")
    if amount_cents > owed:
        raise PaymentRefused("amount_cents", f"at most the {owed} cents owed")


def check_payable(
    invoice: PayableInvoice,
    ledger: Ledger,
    method: PaymentMethod,
    now: datetime,
    attempt: str = "",
) -> int:
    """Something is owed, on an invoice that is not void, by a method it allows; how much."""
    if not invoice.payable:
        raise NotPayable("this invoice was voided" if invoice.voided_at else "not payable")
    owed = ledger.payable_now(invoice, now, attempt)
    if owed <= 0:
        if ledger.payable_now(invoice, now + RESERVATION, attempt) > 0:
            raise NotPayable(
                "a payment of this invoice is already under way: if it does not go through,"
                " you can pay again in a few minutes"
            )
        raise NotPayable("nothing is owed on this invoice")
    if method not in invoice.allowed_payment_methods:
        allowed = " or ".join(invoice.allowed_payment_methods)
        raise PaymentRefused("method", f"this invoice can be paid by {allowed} only")
    return owed


def check_refund(charge: Charge, amount_cents: int) -> None:
    """Never more than was paid minus what was already refunded (Stripe's emulator would
    accept it; the shop's books would not)."""
    if charge.status != "succeeded":
        raise PaymentRefused("payment_id", "only a payment that went through can be refunded")
    left = charge.amount_cents - charge.refunded_cents
    if amount_cents <= 0:
        raise PaymentRefused("amount_cents", "must be above zero")
    if amount_cents > left:
        raise PaymentRefused("amount_cents", f"at most the {left} cents not yet refunded")
