"""What the customer receives: when an invoice is sent, a text that fits one SMS segment where it
can and an email with the PDF and the same link; a nudge staff ask for; a scheduled reminder.
Every message is written (rendered) when it is queued, so what was sent is on record and a retry
sends the very same words. Standard library and the contracts only."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from services.notifications.domain.standing import Standing
from shared.contracts import InvoiceSent, MessageChannel, MessageKind
from shared.money import format_cents

Channel = MessageChannel
SMS_SEGMENT = 160
NUDGE_GAP = timedelta(hours=1)
"""A nudge is refused (and a reminder waits) when any message about the invoice went out less
than this ago."""
MESSAGE_NAMESPACE = uuid.UUID("8f9a1c0e-3b0e-4d7e-9a63-4c1b5f2d7e10")


class TooSoon(Exception):
    """A message went out within the hour: nudging now would annoy the customer."""


class NoSuchChannel(Exception):
    """The customer has no phone (or no email) to send to."""


class NothingOwed(Exception):
    """The invoice is paid or void: there is nothing to remind the customer of."""


@dataclass(frozen=True)
class Message:
    message_id: str
    invoice_id: str
    shop_id: str
    channel: Channel
    recipient: str
    kind: MessageKind = "invoice_sent"
    subject: str = ""
    """Email only."""
    body: str = ""
    """The SMS text, or the email's plain text."""
    balance_cents: int | None = None
    """What the attached PDF shows as left to pay (None: the whole total)."""
    step: str | None = None
    """The reminder step ("+7"), for reminders."""


def relinked(message: Message, revoked_links: list[str], live_link: str) -> Message:
    """A message queued before staff replaced the pay link goes out with the live link: the old
    one no longer works. Nothing else in its words changes."""
    body = message.body
    for old in revoked_links:
        if old and old != live_link:
            body = body.replace(old, live_link)
    return message if body == message.body else replace(message, body=body)


def message_id(invoice_id: str, kind: str, channel: Channel) -> str:
    """One message per invoice, kind (or reminder step) and channel, however often asked."""
    return str(uuid.uuid5(MESSAGE_NAMESPACE, f"{invoice_id}:{kind}:{channel}"))


def masked(recipient: str) -> str:
    """•••0142 for a phone, d•••@example.com for an email: what events and logs may carry."""
    if "@" in recipient:
        local, _, domain = recipient.partition("@")
        return f"{local[:1]}•••@{domain}"
    return "•••" + recipient[-4:]


# --- when the invoice is sent --------------------------------------------------------------------


def messages_for(sent: InvoiceSent) -> list[Message]:
    """Only the channels the customer has."""
    found: list[Message] = []
    amount = sent.totals.total_cents
    if sent.customer.phone:
        body = sms_text(sent, "is ready", amount)
        found.append(_message(sent, "invoice_sent", "sms", sent.customer.phone, body=body))
    if sent.customer.email:
        subject = f"Invoice {sent.invoice_number} from {shop_name(sent)} — {_money(sent, amount)}"
        found.append(
            _message(sent, "invoice_sent", "email", sent.customer.email, subject, email_text(sent))
        )
    return found


def _message(
    sent: InvoiceSent,
    kind: MessageKind,
    channel: Channel,
    recipient: str,
    subject: str = "",
    body: str = "",
) -> Message:
    return Message(
        message_id(sent.invoice_id, kind, channel),
        sent.invoice_id,
        sent.shop_id,
        channel,
        recipient,
        kind,
        subject,
        body,
    )


def sms_text(sent: InvoiceSent, news: str, amount_cents: int) -> str:
    """ "Northwind HVAC: invoice INV-2026-000123 for $448.19 is ready. Pay: <link>" — the shop's
    name is shortened before anything else so the link always fits in one segment."""
    rest = (
        f": invoice {sent.invoice_number} for {_money(sent, amount_cents)} {news}."
        f" Pay: {sent.pay_url}"
    )
    name = shop_name(sent)
    room = max(SMS_SEGMENT - len(rest), 8)
    return (name if len(name) <= room else name[: room - 1] + "…") + rest


def email_text(sent: InvoiceSent) -> str:
    amount = _money(sent, sent.totals.total_cents)
    return (
        f"Hello {sent.customer.name},\n\n"
        f"Your invoice {sent.invoice_number} for {amount} is attached, due "
        f"{sent.due_date:%B %d, %Y}.\n\nPay online by card or bank debit: {sent.pay_url}\n\n"
        f"Thank you,\n{shop_name(sent)}\n"
    )


def shop_name(sent: InvoiceSent) -> str:
    return sent.shop.name if sent.shop else sent.shop_id


def _money(sent: InvoiceSent, cents: int) -> str:
    return format_cents(cents, sent.currency)


# --- reminders and nudges ------------------------------------------------------------------------


def reminder_subject(standing: Standing) -> str:
    sent = standing.invoice
    balance = _money(sent, standing.balance_cents)
    return f"Reminder: invoice {sent.invoice_number} from {standing.shop_name} — {balance}"


def reminder_email_text(standing: Standing, words: str) -> str:
    return (
        f"Hello {standing.invoice.customer.name},\n\n{words}\n\nThank you,\n{standing.shop_name}\n"
    )


def reminder_messages(
    standing: Standing, kind: MessageKind, channels: list[Channel], words: str, key: str
) -> list[Message]:
    """One message per channel; ``words`` already carry the pay link. ``key`` makes the message
    ids: a reminder step's ids repeat (so a step is queued once), a nudge's are new."""
    sent = standing.invoice
    recipients = {"sms": sent.customer.phone, "email": sent.customer.email}
    found = []
    for channel in dict.fromkeys(channels):
        recipient = recipients[channel]
        assert recipient, f"no {channel} for this customer"
        email = channel == "email"
        found.append(
            Message(
                message_id(sent.invoice_id, key, channel),
                sent.invoice_id,
                sent.shop_id,
                channel,
                recipient,
                kind,
                reminder_subject(standing) if email else "",
                reminder_email_text(standing, words) if email else words,
                standing.balance_cents,
                key.removeprefix("reminder:") if kind == "reminder" else None,
            )
        )
    return found


def check_nudge(standing: Standing, channels: list[Channel], now: datetime) -> None:
    if standing.voided:
        raise NothingOwed("the invoice is void: there is nothing to remind the customer of")
    if standing.balance_cents <= 0:
        raise NothingOwed("the invoice is paid in full")
    customer = standing.invoice.customer
    have = {"sms": bool(customer.phone) and not standing.opted_out, "email": bool(customer.email)}
    missing = [c for c in channels if not have[c]]
    if missing:
        names = " or ".join(_no_channel(c, standing) for c in missing)
        raise NoSuchChannel(f"the customer has {names}")
    last = standing.last_message_at
    if last is not None and now - last < NUDGE_GAP:
        again = (last + NUDGE_GAP).strftime("%H:%M UTC")
        raise TooSoon(f"a message went out less than an hour ago; nudge again after {again}")


def _no_channel(channel: Channel, standing: Standing) -> str:
    if channel == "email":
        return "no email"
    if standing.invoice.customer.phone and standing.opted_out:
        return "opted out of texts (replied STOP)"
    return "no mobile number"


def nudges_for(standing: Standing, channels: list[Channel]) -> list[Message]:
    """New messages each time (a nudge is not the InvoiceSent message again)."""
    sent = standing.invoice
    words = sms_text(sent, "is waiting for you", standing.balance_cents)
    return reminder_messages(standing, "nudge", channels, words, f"nudge:{uuid.uuid4()}")
