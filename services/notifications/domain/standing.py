"""What notifications knows of a sent invoice: its latest copy (corrections applied), what has
been paid, whether a payment is clearing or it was voided, and what was sent about it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from shared.contracts import InvoiceSent, InvoiceUpdated, MessageChannel

DEFAULT_ZONE = "America/Los_Angeles"


def corrected(
    sent: InvoiceSent, correction: InvoiceUpdated | None, pay_url: str | None = None
) -> InvoiceSent:
    """The invoice as the customer has it now: a correction after sending replaces what the
    customer owes, their contacts and the due date (the number stays); ``pay_url`` is the live
    pay link when staff replaced the one InvoiceSent carried."""
    if pay_url is not None and pay_url != sent.pay_url:
        sent = sent.model_copy(update={"pay_url": pay_url, "pay_token": None})
    if correction is None or not correction.sent:
        return sent
    return sent.model_copy(
        update={
            "customer": correction.customer,
            "service_address": correction.service_address,
            "lines": correction.lines,
            "totals": correction.totals,
            "allowed_payment_methods": correction.allowed_payment_methods,
            "due_date": correction.due_date or sent.due_date,
        }
    )


@dataclass(frozen=True)
class Standing:
    invoice: InvoiceSent
    paid_cents: int = 0
    clearing: bool = False
    """A payment (ACH) is on its way: reminders pause until it clears or fails."""
    voided: bool = False
    done: frozenset[tuple[str, MessageChannel]] = field(default_factory=frozenset)
    """(reminder step, channel) already queued."""
    last_message_at: datetime | None = None
    opted_out: bool = False
    """The customer's number replied STOP: no texts."""

    @property
    def balance_cents(self) -> int:
        return max(self.invoice.totals.total_cents - self.paid_cents, 0)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.invoice.shop.time_zone if self.invoice.shop else DEFAULT_ZONE)

    @property
    def shop_name(self) -> str:
        return self.invoice.shop.name if self.invoice.shop else self.invoice.shop_id
