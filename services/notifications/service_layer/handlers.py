"""Use cases of the notifications service."""

from __future__ import annotations

from datetime import datetime

from services.notifications.domain.messages import (
    Channel,
    Message,
    check_nudge,
    email_subject,
    email_text,
    messages_for,
    nudges_for,
    shop_name,
    sms_text,
)
from services.notifications.service_layer.providers import (
    Email,
    EmailProvider,
    ProviderRefused,
    SmsProvider,
)
from services.notifications.service_layer.store import (
    Claimed,
    MessageQueue,
    MessageStore,
    NudgeStore,
)
from shared.contracts import InvoiceSent, ShopBranding
from shared.envelope import Envelope
from shared.invoice_pdf import PdfInvoice
from shared.invoice_pdf import render as render_pdf


class TenantMismatch(Exception):
    pass


def when_invoice_is_sent_queue_messages(envelope: Envelope, queue: MessageQueue) -> int:
    """An SMS and an email (those the customer has) queued once per invoice, however often the
    event comes; the sender sends them."""
    sent = envelope.event
    assert isinstance(sent, InvoiceSent)
    if sent.shop_id != envelope.tenant:
        raise TenantMismatch(f"InvoiceSent for {sent.shop_id} came as {envelope.tenant}")
    return queue.queue(sent, messages_for(sent))


def send_next(store: MessageStore, sms: SmsProvider, email: EmailProvider) -> bool:
    """Send the oldest pending message; False when there is none. A message is marked as being
    sent (and committed) before the provider is called, so a crash never sends it twice."""
    claimed = store.claim_next()
    if claimed is None:
        return False
    message = claimed.message
    try:
        if message.channel == "sms":
            provider_id = sms.send(message.recipient, sms_text(claimed.invoice, message.kind))
        else:
            provider_id = email.send(invoice_email(claimed))
    except ProviderRefused as exc:
        store.failed(message.message_id, str(exc))
    except Exception as exc:
        store.retry_later(message.message_id, repr(exc))
    else:
        store.sent(message.message_id, provider_id)
    return True


def invoice_email(claimed: Claimed) -> Email:
    sent = claimed.invoice
    page = PdfInvoice(
        number=sent.invoice_number,
        issued=sent.sent_at,
        due=sent.due_date,
        status="sent",
        currency=sent.currency,
        customer_name=sent.customer.name,
        bill_to=sent.customer.billing_address,
        service_address=sent.service_address,
        lines=sent.lines,
        totals=sent.totals,
        paid_cents=0,
        balance_cents=sent.totals.total_cents,
        pay_url=sent.pay_url,
    )
    pdf = render_pdf(page, sent.shop or ShopBranding(name=sent.shop_id))
    return Email(
        to=claimed.message.recipient,
        subject=email_subject(sent, claimed.message.kind),
        text=email_text(sent),
        pdf_name=f"{sent.invoice_number}.pdf",
        pdf=pdf,
        from_name=shop_name(sent),
    )


def nudge(
    shop_id: str, invoice_id: str, channels: list[Channel], store: NudgeStore, now: datetime
) -> list[Message]:
    """Send now on the chosen channels; refused if any message went out within the hour (the
    invoice is locked while deciding, so two nudges at once cannot both pass)."""
    with store.locked(shop_id, invoice_id) as found:
        if found is None:
            raise UnknownInvoice(invoice_id)
        sent, last = found
        check_nudge(sent, channels, last, now)
        messages = nudges_for(sent, channels)
        store.add(messages)
    return messages


class UnknownInvoice(Exception):
    pass
