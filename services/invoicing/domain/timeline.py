"""An invoice's history in plain words: who did what, when (internal notes included)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared.contracts import (
    Event,
    InvoiceDrafted,
    InvoiceDraftWithdrawn,
    InvoiceSent,
    InvoiceUpdated,
    InvoiceViewed,
    InvoiceVoided,
    MessageDelivered,
    MessageFailed,
    PayLinkReplaced,
    PaymentFailed,
    PaymentInitiated,
    PaymentReceived,
    RefundIssued,
    ReminderSent,
)
from shared.money import format_cents


@dataclass(frozen=True)
class Entry:
    at: datetime
    who: str
    what: str
    kind: str
    note: str | None = None


def timeline(events: list[Event]) -> list[Entry]:
    """Oldest first, one entry per event of the history."""
    return [entry for event in events if (entry := describe(event)) is not None]


def describe(event: Event) -> Entry | None:
    kind = type(event).__name__
    if isinstance(event, InvoiceDrafted):
        who = event.drafted_by or "FieldPay"
        source = {"job": "from the closed job", "estimate": "from the approved estimate"}
        what = f"drafted {source.get(event.source, 'from scratch')}"
        return Entry(
            event.drafted_at, who, f"{what}, {format_cents(event.totals.total_cents)}", kind
        )
    if isinstance(event, InvoiceDraftWithdrawn):
        return Entry(event.withdrawn_at, "FieldPay", f"draft withdrawn: {event.reason}", kind)
    if isinstance(event, InvoiceUpdated):
        what = event.summary if not event.sent else f"corrected after sending: {event.summary}"
        return Entry(event.updated_at, event.updated_by, what, kind, event.note)
    if isinstance(event, InvoiceSent):
        what = f"sent {event.invoice_number}, due {event.due_date.isoformat()}"
        return Entry(event.sent_at, event.sent_by or "staff", what, kind)
    if isinstance(event, InvoiceVoided):
        reason = f": {event.reason}" if event.reason else ""
        return Entry(event.voided_at, event.voided_by, f"voided{reason}", kind)
    if isinstance(event, PayLinkReplaced):
        reason = f": {event.reason}" if event.reason else ""
        what = f"revoked the pay link and issued a new one{reason}"
        return Entry(event.replaced_at, event.replaced_by, what, kind)
    return _payment_entry(event, kind) or _message_entry(event, kind)


def _payment_entry(event: Event, kind: str) -> Entry | None:
    if isinstance(event, InvoiceViewed):
        return Entry(event.viewed_at, "customer", "opened the pay link", kind)
    if isinstance(event, PaymentInitiated):
        what = f"started paying {format_cents(event.amount_cents)} by {_method(event.method)}"
        return Entry(event.initiated_at, "customer", what, kind)
    if isinstance(event, PaymentReceived):
        what = f"paid {format_cents(event.amount_cents)} by {_method(event.method)}"
        return Entry(event.received_at, "customer", what, kind)
    if isinstance(event, PaymentFailed):
        reason = f" ({event.reason})" if event.reason else ""
        what = f"payment of {format_cents(event.amount_cents)} failed{reason}"
        return Entry(event.failed_at, "payments", what, kind)
    if isinstance(event, RefundIssued):
        why = f": {event.reason}" if event.reason else ""
        what = f"refunded {format_cents(event.amount_cents)}{why}"
        return Entry(event.refunded_at, event.refunded_by or "staff", what, kind)
    return None


def _method(method: str) -> str:
    return "card" if method == "card" else "bank debit (ACH)"


CHANNELS = {"sms": "text", "email": "email"}
FAILURES = {
    "refused": "was refused by the provider",
    "failed": "could not be sent",
    "undelivered": "was not delivered",
    "bounced": "bounced",
    "dropped": "was dropped by the email provider",
    "opted_out": "was not sent: the customer replied STOP",
}
KINDS = {"invoice_sent": "invoice", "reminder": "reminder", "nudge": "nudge"}


def _message_entry(event: Event, kind: str) -> Entry | None:
    if isinstance(event, ReminderSent):
        how = " and ".join(CHANNELS[c] for c in event.channels)
        if event.requested_by:
            what = f"nudged the customer by {how} ({format_cents(event.balance_cents)} left)"
            return Entry(event.sent_at, event.requested_by, what, kind)
        when = _step(event.step_days or 0)
        what = f"reminder {when} sent by {how} ({format_cents(event.balance_cents)} left)"
        return Entry(event.sent_at, "FieldPay", what, kind)
    if isinstance(event, MessageDelivered):
        what = f"{KINDS[event.kind]} {CHANNELS[event.channel]} to {event.to} delivered"
        return Entry(event.delivered_at, "FieldPay", what, kind)
    if isinstance(event, MessageFailed):
        why = f" ({event.reason})" if event.reason else ""
        what = (
            f"{KINDS[event.kind]} {CHANNELS[event.channel]} to {event.to} {FAILURES[event.status]}"
        )
        return Entry(event.failed_at, "FieldPay", what + why, kind)
    return None


def _step(days: int) -> str:
    if days == 0:
        return "on the due date"
    unit = "day" if abs(days) == 1 else "days"
    return f"{abs(days)} {unit} {'before' if days < 0 else 'after'} the due date"
