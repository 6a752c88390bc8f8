"""Use cases of the notifications service."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from services.notifications.domain.delivery import failure_fact, opt_out_reply, outcome_fact
from services.notifications.domain.messages import (
    NUDGE_GAP,
    Channel,
    Message,
    check_nudge,
    messages_for,
    nudges_for,
    shop_name,
)
from services.notifications.domain.reminders import Automations, due_reminder, reminder_for
from services.notifications.domain.standing import Standing
from services.notifications.service_layer.providers import (
    Email,
    EmailProvider,
    LookupUnavailable,
    ProviderRefused,
    ProviderUnreachable,
    SmsProvider,
)
from services.notifications.service_layer.store import (
    Claimed,
    DeliveryStore,
    InvoiceFacts,
    MessageQueue,
    MessageStore,
    NudgeStore,
    ReminderStore,
)
from shared.contracts import (
    InvoiceSent,
    InvoiceUpdated,
    InvoiceVoided,
    PayLinkReplaced,
    PaymentFailed,
    PaymentInitiated,
    PaymentReceived,
    ReminderSent,
    ShopBranding,
)
from shared.envelope import Envelope
from shared.faults import crash_point
from shared.invoice_pdf import PdfInvoice
from shared.invoice_pdf import render as render_pdf
from shared.metrics import REMINDERS_SKIPPED

log = logging.getLogger(__name__)


class TenantMismatch(Exception):
    pass


class UnknownInvoice(Exception):
    pass


class UnknownMessage(Exception):
    pass


# --- facts from invoicing and payments ----------------------------------------------------------


def when_invoice_is_sent_queue_messages(envelope: Envelope, queue: MessageQueue) -> int:
    """An SMS and an email (those the customer has) queued once per invoice, however often the
    event comes; the sender sends them."""
    sent = envelope.event
    assert isinstance(sent, InvoiceSent)
    _same_shop(sent.shop_id, envelope)
    return queue.queue(sent, messages_for(sent))


PAYMENT_STATES = {
    PaymentInitiated: "clearing",
    PaymentReceived: "received",
    PaymentFailed: "failed",
}


def when_invoice_changes_record_it(envelope: Envelope, facts: InvoiceFacts) -> None:
    """Corrections, replaced pay links, voids and payments: what reminders need to know, in any
    order."""
    event = envelope.event
    _same_shop(getattr(event, "shop_id", ""), envelope)
    if isinstance(event, InvoiceUpdated):
        if event.sent:
            facts.correct(event)
    elif isinstance(event, InvoiceVoided):
        facts.void(event)
    elif isinstance(event, PayLinkReplaced):
        facts.new_pay_link(event)
    elif isinstance(event, PaymentInitiated | PaymentReceived | PaymentFailed):
        state = PAYMENT_STATES[type(event)]
        facts.payment(event.payment_id, event.invoice_id, event.shop_id, event.amount_cents, state)


def _same_shop(shop_id: str, envelope: Envelope) -> None:
    if shop_id != envelope.tenant:
        raise TenantMismatch(f"{envelope.type} for {shop_id} came as {envelope.tenant}")


# --- the sender ---------------------------------------------------------------------------------


def send_next(store: MessageStore, sms: SmsProvider, email: EmailProvider, now: datetime) -> bool:
    """Send the oldest pending message; False when there is none. A message is marked as being
    sent (and committed) before the provider is called; one left so by a crash, a timeout or an
    unclear answer is settled with the provider (``reconcile``), never blindly sent again."""
    claimed = store.claim_next()
    if claimed is None:
        return False
    message = claimed.message
    crash_point("notifications.after_claim")
    if message.channel == "sms" and claimed.opted_out:
        store.failed(claimed, failure_fact(message, "opted_out", now, "the customer replied STOP"))
        return True
    try:
        if message.channel == "sms":
            provider_id = sms.send(message.recipient, message.body, message.message_id)
        else:
            provider_id = email.send(invoice_email(claimed))
    except ProviderRefused as exc:
        store.failed(claimed, failure_fact(message, "refused", now, str(exc)))
    except ProviderUnreachable as exc:
        store.retry_later(claimed, repr(exc))
    except Exception:
        log.warning("unclear answer from the provider: left to reconcile", exc_info=True)
    else:
        crash_point("notifications.after_provider")
        store.sent(claimed, provider_id)
    return True


def reconcile(
    store: MessageStore, sms: SmsProvider, email: EmailProvider, now: datetime, grace: timedelta
) -> int:
    """Messages a dead sender left half-sent: asked of the provider. Found → sent; not there →
    sent again; the provider cannot tell → unknown (never a second copy). How many were settled."""
    settled = 0
    for claimed in store.stuck(now - grace):
        message = claimed.message
        try:
            if message.channel == "sms":
                since = (claimed.claimed_at or now) - timedelta(minutes=1)
                found = sms.find(message.recipient, message.body, since)
            else:
                found = email.find(message.message_id)
        except LookupUnavailable as exc:
            store.unknown(claimed, f"the sender stopped mid-send; {exc}")
        except Exception:  # the provider is unreachable now: ask again next time
            continue
        else:
            if found:
                store.sent(claimed, found)
            else:
                store.retry_later(claimed, "not at the provider after a crash")
        settled += 1
    return settled


def invoice_email(claimed: Claimed) -> Email:
    sent, message = claimed.invoice, claimed.message
    balance = sent.totals.total_cents if message.balance_cents is None else message.balance_cents
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
        paid_cents=sent.totals.total_cents - balance,
        balance_cents=balance,
        pay_url=sent.pay_url,
    )
    pdf = render_pdf(page, sent.shop or ShopBranding(name=sent.shop_id))
    return Email(
        to=message.recipient,
        subject=message.subject,
        text=message.body,
        pdf_name=f"{sent.invoice_number}.pdf",
        pdf=pdf,
        from_name=shop_name(sent),
        reference=message.message_id,
    )


# --- reminders and nudges -----------------------------------------------------------------------


def nudge(
    shop_id: str,
    invoice_id: str,
    channels: list[Channel],
    by: str,
    store: NudgeStore,
    now: datetime,
) -> list[Message]:
    """Send now on the chosen channels; refused if any message went out within the hour (the
    invoice is locked while deciding, so two nudges at once cannot both pass)."""
    with store.locked(shop_id, invoice_id) as standing:
        if standing is None:
            raise UnknownInvoice(invoice_id)
        check_nudge(standing, channels, now)
        messages = nudges_for(standing, channels)
        store.add(messages, _reminder_sent(standing, messages, now, None, by))
    return messages


def send_due_reminders(store: ReminderStore, now: datetime) -> int:
    """One pass of the scheduler at ``now`` (the injected clock): each invoice's due step queued
    once. Each invoice on its own: one that fails (a date out of range, a bad template) is
    logged, counted and skipped, and every other invoice of every shop still gets its reminder.
    How many messages were queued."""
    automations: dict[str, Automations] = {}
    queued = 0
    for standing in store.standings():
        try:
            queued += _queue_due_step(standing, automations, store, now)
        except Exception:  # this invoice only; the pass goes on
            log.exception("reminder for invoice %s skipped", standing.invoice.invoice_id)
            REMINDERS_SKIPPED.inc()
    return queued


def _queue_due_step(
    standing: Standing, automations: dict[str, Automations], store: ReminderStore, now: datetime
) -> int:
    shop = standing.invoice.shop_id
    if shop not in automations:
        automations[shop] = store.automations(shop)
    due = due_reminder(standing, automations[shop], now)
    if due is None:
        return 0
    messages = reminder_for(standing, due, now)
    fact = _reminder_sent(standing, messages, now, due.step.days, None)
    return store.queue_reminder(messages, fact, now - NUDGE_GAP)


def _reminder_sent(
    standing: Standing, messages: list[Message], now: datetime, days: int | None, by: str | None
) -> ReminderSent:
    ids = "+".join(m.message_id for m in messages)
    return ReminderSent(
        reminder_id=str(uuid.uuid5(uuid.NAMESPACE_URL, ids)),
        invoice_id=standing.invoice.invoice_id,
        shop_id=standing.invoice.shop_id,
        sent_at=now,
        channels=[m.channel for m in messages],
        step_days=days,
        requested_by=by,
        balance_cents=standing.balance_cents,
    )


# --- delivery reports and replies ----------------------------------------------------------------


def when_provider_reports(
    store: DeliveryStore,
    outcome: str,
    at: datetime,
    reason: str = "",
    *,
    message_id: str = "",
    provider_id: str = "",
) -> bool:
    """Delivered / failed / bounced from a verified webhook: one fact per message (the first final
    report wins). False when it was known already."""
    sent = store.by_message_id(message_id) if message_id else None
    sent = sent or (store.by_provider_id(provider_id) if provider_id else None)
    if sent is None:
        raise UnknownMessage(message_id or provider_id)
    return store.report(outcome_fact(sent.message, outcome, at, reason))


def when_customer_replies(
    store: DeliveryStore, phone: str, body: str, reply_id: str
) -> bool | None:
    """STOP: no more texts to that number; START: texts again. The decision, or None (not a
    STOP or START, or a reply already acted on: a replayed STOP cannot undo a later START)."""
    decision = opt_out_reply(body)
    if decision is None or not store.opt_out(phone, decision, reply_id):
        return None
    return decision
