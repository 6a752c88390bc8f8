"""What the customer receives when an invoice is sent: a text that fits one SMS segment where it
can, and an email with the PDF and the same link. Standard library and the contracts only."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from shared.contracts import InvoiceSent
from shared.money import format_cents

Channel = Literal["sms", "email"]
SMS_SEGMENT = 160
NUDGE_GAP = timedelta(hours=1)
"""A nudge is refused when any message about the invoice went out less than this ago."""


class TooSoon(Exception):
    """A message went out within the hour: nudging now would annoy the customer."""


class NoSuchChannel(Exception):
    """The customer has no phone (or no email) to send to."""


def check_nudge(
    sent: InvoiceSent, channels: list[Channel], last: datetime | None, now: datetime
) -> None:
    if last is not None and now - last < NUDGE_GAP:
        again = (last + NUDGE_GAP).strftime("%H:%M UTC")
        raise TooSoon(f"a message went out less than an hour ago; nudge again after {again}")
    have = {m.channel for m in messages_for(sent)}
    missing = [c for c in channels if c not in have]
    if missing:
        names = " or ".join("mobile number" if c == "sms" else "email" for c in missing)
        raise NoSuchChannel(f"the customer has no {names}")


def nudges_for(sent: InvoiceSent, channels: list[Channel]) -> list[Message]:
    """New messages each time (a nudge is not the InvoiceSent message again)."""
    recipients = {m.channel: m.recipient for m in messages_for(sent)}
    return [
        Message(str(uuid.uuid4()), sent.invoice_id, sent.shop_id, c, recipients[c], "nudge")
        for c in dict.fromkeys(channels)
    ]


MESSAGE_NAMESPACE = uuid.UUID("8f9a1c0e-3b0e-4d7e-9a63-4c1b5f2d7e10")


@dataclass(frozen=True)
class Message:
    message_id: str
    invoice_id: str
    shop_id: str
    channel: Channel
    recipient: str
    kind: str = "invoice_sent"


def message_id(invoice_id: str, kind: str, channel: Channel) -> str:
    """One message per invoice, kind and channel: however often InvoiceSent is delivered."""
    return str(uuid.uuid5(MESSAGE_NAMESPACE, f"{invoice_id}:{kind}:{channel}"))


def messages_for(sent: InvoiceSent) -> list[Message]:
    """Only the channels the customer has."""
    found: list[Message] = []
    if sent.customer.phone:
        found.append(_message(sent, "sms", sent.customer.phone))
    if sent.customer.email:
        found.append(_message(sent, "email", sent.customer.email))
    return found


def _message(sent: InvoiceSent, channel: Channel, recipient: str) -> Message:
    return Message(
        message_id(sent.invoice_id, "invoice_sent", channel),
        sent.invoice_id,
        sent.shop_id,
        channel,
        recipient,
    )


def sms_text(sent: InvoiceSent, kind: str = "invoice_sent") -> str:
    """ "Northwind HVAC: invoice INV-2026-000123 for $448.19 is ready. Pay: <link>" (a nudge: "is
    waiting for you") — the shop's name is shortened before anything else so the link always
    fits in one segment."""
    amount = format_cents(sent.totals.total_cents, sent.currency)
    news = "is waiting for you" if kind == "nudge" else "is ready"
    rest = f": invoice {sent.invoice_number} for {amount} {news}. Pay: {sent.pay_url}"
    name = shop_name(sent)
    room = max(SMS_SEGMENT - len(rest), 8)
    return (name if len(name) <= room else name[: room - 1] + "…") + rest


def email_subject(sent: InvoiceSent, kind: str = "invoice_sent") -> str:
    amount = format_cents(sent.totals.total_cents, sent.currency)
    first = "Reminder: invoice" if kind == "nudge" else "Invoice"
    return f"{first} {sent.invoice_number} from {shop_name(sent)} — {amount}"


def email_text(sent: InvoiceSent) -> str:
    amount = format_cents(sent.totals.total_cents, sent.currency)
    return (
        f"Hello {sent.customer.name},\n\n"
        f"Your invoice {sent.invoice_number} for {amount} is attached, due "
        f"{sent.due_date:%B %d, %Y}.\n\nPay online by card or bank debit: {sent.pay_url}\n\n"
        f"Thank you,\n{shop_name(sent)}\n"
    )


def shop_name(sent: InvoiceSent) -> str:
    return sent.shop.name if sent.shop else sent.shop_id
