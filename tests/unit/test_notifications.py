"""Notifications on fakes: what the customer gets, once per invoice; what happens when a provider
refuses or cannot be reached, or the sender dies mid-send; nudges; delivery reports and STOP."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

import pytest

from services.notifications.domain.delivery import opt_out_reply
from services.notifications.domain.messages import (
    Message,
    NoSuchChannel,
    NothingOwed,
    TooSoon,
    check_nudge,
    masked,
    messages_for,
    nudges_for,
    sms_text,
)
from services.notifications.domain.standing import Standing, corrected
from services.notifications.service_layer import handlers
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
    MessageQueue,
    MessageStore,
    NudgeStore,
    Sent,
)
from shared import contracts
from shared.envelope import Envelope
from tests.unit import builders

pytestmark = pytest.mark.unit
NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)


def sent(shop_name: str = "Northwind HVAC", **customer: object) -> contracts.InvoiceSent:
    return contracts.InvoiceSent(
        invoice_id="inv-1",
        shop_id="shop-1",
        invoice_number="INV-2026-000123",
        sent_at=datetime(2026, 3, 2, tzinfo=UTC),
        due_date=date(2026, 4, 1),
        customer=builders.customer_snapshot(**customer),
        service_address=builders.address(),
        lines=[],
        totals=contracts.InvoiceTotals(subtotal_cents=44_000, tax_cents=819, total_cents=44_819),
        allowed_payment_methods=["card"],
        pay_url="https://pay.example.com/p/AbCdEfGhIjKlMnOpQrStUv",
        pay_token="AbCdEfGhIjKlMnOpQrStUv",
        shop=contracts.ShopBranding(name=shop_name),
    )


class Queue(MessageQueue, MessageStore):
    def __init__(self, opted_out: bool = False) -> None:
        self.opted_out = opted_out
        self.rows: dict[str, tuple[Message, str]] = {}
        self.invoice: contracts.InvoiceSent | None = None
        self.facts: list[contracts.MessageFailed] = []
        self.claimed_at = NOW

    def queue(self, invoice: contracts.InvoiceSent, messages: list[Message]) -> int:
        self.invoice = invoice
        new = [m for m in messages if m.message_id not in self.rows]
        self.rows.update({m.message_id: (m, "pending") for m in new})
        return len(new)

    def claim_next(self) -> Claimed | None:
        for message, status in self.rows.values():
            if status == "pending":
                self.rows[message.message_id] = (message, "sending")
                return self._claimed(message)
        return None

    def _claimed(self, message: Message) -> Claimed:
        assert self.invoice is not None
        return Claimed(message, self.invoice, self.claimed_at, self.opted_out)

    def stuck(self, claimed_before: datetime) -> list[Claimed]:
        if self.claimed_at >= claimed_before:
            return []
        return [self._claimed(m) for m, s in self.rows.values() if s == "sending"]

    def sent(self, claimed: Claimed, provider_id: str) -> None:
        self._set(claimed, "sent")

    def failed(self, claimed: Claimed, fact: contracts.MessageFailed) -> None:
        if self._set(claimed, "failed"):
            self.facts.append(fact)

    def retry_later(self, claimed: Claimed, error: str) -> None:
        self._set(claimed, "pending")

    def unknown(self, claimed: Claimed, error: str) -> None:
        self._set(claimed, "unknown")

    def _set(self, claimed: Claimed, status: str) -> bool:
        """Only while still being sent (as the database adapter guards it)."""
        message, now = self.rows[claimed.message.message_id]
        if now != "sending":
            return False
        self.rows[message.message_id] = (message, status)
        return True

    def statuses(self) -> dict[str, str]:
        return {m.channel: s for m, s in self.rows.values()}


class Providers(SmsProvider, EmailProvider):
    """Both providers; what they accepted is kept (and can be looked up, unless ``blind``)."""

    def __init__(self, fail_with: Exception | None = None, blind: bool = False) -> None:
        self.sent: list[object] = []
        self.fail_with = fail_with
        self.blind = blind

    def send(self, to_or_email: object, body: str = "", reference: str = "") -> str:
        if self.fail_with:
            raise self.fail_with
        self.sent.append(to_or_email if isinstance(to_or_email, Email) else (to_or_email, body))
        return f"id-{len(self.sent)}"

    def find(self, to_or_reference: str, body: str = "", since: object = None) -> str | None:
        if self.blind:
            raise LookupUnavailable("no Email Activity API")
        for i, item in enumerate(self.sent):
            if item == (to_or_reference, body) or (
                isinstance(item, Email) and item.reference == to_or_reference
            ):
                return f"id-{i + 1}"
        return None


def queued(queue: Queue, invoice: contracts.InvoiceSent | None = None) -> Queue:
    envelope = Envelope(event=invoice or sent(), tenant="shop-1", source="/i")
    handlers.when_invoice_is_sent_queue_messages(envelope, queue)
    return queue


def send_all(queue: Queue, providers: Providers) -> None:
    while handlers.send_next(queue, providers, providers, NOW):
        pass


def test_the_text_fits_one_segment_and_always_carries_the_link() -> None:
    (text, _) = [m.body for m in messages_for(sent())]
    assert text == (
        "Northwind HVAC: invoice INV-2026-000123 for $448.19 is ready. "
        "Pay: https://pay.example.com/p/AbCdEfGhIjKlMnOpQrStUv"
    )
    long_name = sms_text(
        sent("The Very Long Name Heating Ventilation and Air Conditioning Co"), "is ready", 44_819
    )
    assert len(long_name) == 160 and long_name.endswith("/p/AbCdEfGhIjKlMnOpQrStUv")


def test_only_the_channels_the_customer_has_and_once_per_invoice() -> None:
    assert [m.channel for m in messages_for(sent())] == ["sms", "email"]
    assert [m.channel for m in messages_for(sent(phone=None))] == ["email"]
    assert messages_for(sent(phone=None, email=None)) == []
    queue = Queue()
    envelope = Envelope(event=sent(), tenant="shop-1", source="/i")
    assert handlers.when_invoice_is_sent_queue_messages(envelope, queue) == 2
    again = Envelope(event=sent(), tenant="shop-1", source="/i")  # redelivered, another envelope
    assert handlers.when_invoice_is_sent_queue_messages(again, queue) == 0
    with pytest.raises(handlers.TenantMismatch):
        handlers.when_invoice_is_sent_queue_messages(
            Envelope(event=sent(), tenant="other", source="/i"), queue
        )


def test_the_sender_sends_each_once_and_keeps_what_it_could_not_send() -> None:
    queue, providers = queued(Queue()), Providers()
    send_all(queue, providers)
    assert queue.statuses() == {"sms": "sent", "email": "sent"}
    (sms, email) = providers.sent
    assert sms == ("+15595550100", messages_for(sent())[0].body)
    assert isinstance(email, Email) and email.pdf.startswith(b"%PDF")
    assert email.subject == "Invoice INV-2026-000123 from Northwind HVAC — $448.19"
    assert email.reference == messages_for(sent())[1].message_id

    refused, down = queued(Queue()), queued(Queue())
    handlers.send_next(refused, Providers(ProviderRefused("unknown number")), Providers(), NOW)
    assert refused.statuses()["sms"] == "failed"
    assert [(f.status, f.reason, f.to) for f in refused.facts] == [
        ("refused", "unknown number", "•••0100")
    ]
    masked_too = queued(Queue())
    refusal = ProviderRefused("The 'To' number +15595550100 is not a valid phone number")
    handlers.send_next(masked_too, Providers(refusal), Providers(), NOW)
    assert masked_too.facts[0].reason == "The 'To' number •••0100 is not a valid phone number"
    handlers.send_next(down, Providers(ProviderUnreachable("refused")), Providers(), NOW)
    assert down.statuses()["sms"] == "pending"  # never reached Twilio: tried again later
    unclear = queued(Queue())
    handlers.send_next(unclear, Providers(TimeoutError("read timed out")), Providers(), NOW)
    assert unclear.statuses()["sms"] == "sending"  # may have gone: the provider will be asked


def test_a_sender_that_died_mid_send_is_settled_with_the_provider_never_sent_twice() -> None:
    grace = timedelta(minutes=2)
    providers = Providers()
    # Died after the provider took the text, before it was marked: found there → sent, not again.
    took_it = queued(Queue())
    claimed = took_it.claim_next()
    assert claimed is not None
    providers.send(claimed.message.recipient, claimed.message.body)
    assert handlers.reconcile(took_it, providers, providers, NOW, grace) == 0  # within the grace
    later = NOW + timedelta(minutes=3)
    assert handlers.reconcile(took_it, providers, providers, later, grace) == 1
    assert took_it.statuses()["sms"] == "sent"
    send_all(took_it, providers)
    assert len(providers.sent) == 2  # the email once, the text once

    # Died before the provider had it: not there → sent again, once.
    lost = queued(Queue())
    assert lost.claim_next() is not None
    fresh = Providers()
    handlers.reconcile(lost, fresh, fresh, later, grace)
    send_all(lost, fresh)
    assert lost.statuses() == {"sms": "sent", "email": "sent"} and len(fresh.sent) == 2

    # The provider cannot tell (SendGrid without Email Activity): unknown, not a second copy.
    blind = queued(Queue(), sent(phone=None))
    assert blind.claim_next() is not None
    handlers.reconcile(blind, Providers(), Providers(blind=True), later, grace)
    assert blind.statuses() == {"email": "unknown"}


def standing(invoice: contracts.InvoiceSent | None = None, **facts: object) -> Standing:
    return Standing(invoice or sent(), **facts)  # type: ignore[arg-type]


def test_a_nudge_is_its_own_message_for_what_is_left_and_waits_an_hour_after_the_last() -> None:
    part_paid = standing(paid_cents=40_000)
    with pytest.raises(TooSoon):
        check_nudge(standing(last_message_at=NOW - timedelta(minutes=59)), ["sms"], NOW)
    check_nudge(standing(last_message_at=NOW - timedelta(minutes=61)), ["sms", "email"], NOW)
    with pytest.raises(NoSuchChannel, match="no mobile number"):
        check_nudge(standing(sent(phone=None)), ["sms"], NOW)
    with pytest.raises(NoSuchChannel, match="replied STOP"):
        check_nudge(standing(opted_out=True), ["sms"], NOW)
    with pytest.raises(NothingOwed, match="paid in full"):
        check_nudge(standing(paid_cents=44_819), ["email"], NOW)
    with pytest.raises(NothingOwed, match="void"):
        check_nudge(standing(voided=True), ["email"], NOW)
    first, second = nudges_for(part_paid, ["sms"]), nudges_for(part_paid, ["sms"])
    assert first[0].message_id != second[0].message_id and first[0].kind == "nudge"
    assert "$48.19 is waiting for you" in first[0].body
    (email,) = nudges_for(part_paid, ["email"])
    assert email.subject == "Reminder: invoice INV-2026-000123 from Northwind HVAC — $48.19"
    assert email.balance_cents == 4_819 and "/p/AbCdEfGhIjKlMnOpQrStUv" in email.body


class OneInvoice(NudgeStore):
    def __init__(self, found: Standing | None) -> None:
        self.found = found
        self.added: list[tuple[list[Message], contracts.ReminderSent]] = []

    @contextmanager
    def locked(self, shop_id: str, invoice_id: str) -> Iterator[Standing | None]:
        yield self.found if self.found and self.found.invoice.shop_id == shop_id else None

    def add(self, messages: list[Message], fact: contracts.ReminderSent) -> None:
        self.added.append((messages, fact))


def test_a_nudge_records_who_asked_and_another_shop_cannot_nudge() -> None:
    store = OneInvoice(standing())
    messages = handlers.nudge("shop-1", "inv-1", ["sms", "email"], "Ana", store, NOW)
    ((queued_, fact),) = store.added
    assert queued_ == messages and fact.requested_by == "Ana" and fact.step_days is None
    assert fact.channels == ["sms", "email"] and fact.balance_cents == 44_819
    with pytest.raises(handlers.UnknownInvoice):
        handlers.nudge("shop-2", "inv-1", ["sms"], "Eve", store, NOW)


def test_a_correction_after_sending_changes_what_is_owed_and_when() -> None:
    invoice = sent()
    fix = contracts.InvoiceUpdated(
        invoice_id="inv-1",
        shop_id="shop-1",
        updated_at=NOW,
        updated_by="Ana",
        change="due_date",
        summary="due date moved",
        sent=True,
        customer=builders.customer_snapshot(phone="+15595550177"),
        service_address=builders.address(),
        lines=[],
        totals=contracts.InvoiceTotals(subtotal_cents=10_000, tax_cents=0, total_cents=10_000),
        allowed_payment_methods=["card", "ach"],
        due_date=date(2026, 5, 1),
    )
    now = corrected(invoice, fix)
    assert (now.totals.total_cents, now.due_date, now.customer.phone) == (
        10_000,
        date(2026, 5, 1),
        "+15595550177",
    )
    assert now.pay_url == invoice.pay_url and now.invoice_number == invoice.invoice_number
    assert corrected(invoice, fix.model_copy(update={"sent": False})) == invoice


class Deliveries(DeliveryStore):
    def __init__(self, messages: list[Message]) -> None:
        self.messages = {m.message_id: Sent(m, f"SM{i}") for i, m in enumerate(messages)}
        self.facts: dict[str, contracts.MessageDelivered | contracts.MessageFailed] = {}
        self.stopped: set[str] = set()
        self.replies: set[str] = set()

    def by_message_id(self, message_id: str) -> Sent | None:
        return self.messages.get(message_id)

    def by_provider_id(self, provider_id: str) -> Sent | None:
        return next((s for s in self.messages.values() if s.provider_id == provider_id), None)

    def report(self, fact: contracts.MessageDelivered | contracts.MessageFailed) -> bool:
        if fact.message_id in self.facts:
            return False
        self.facts[fact.message_id] = fact
        return True

    def opt_out(self, phone: str, opted_out: bool, reply_id: str) -> bool:
        if reply_id in self.replies:
            return False
        self.replies.add(reply_id)
        (self.stopped.add if opted_out else self.stopped.discard)(phone)
        return True


def test_delivery_reports_become_one_fact_per_message_with_the_recipient_masked() -> None:
    sms, email = messages_for(sent())
    store = Deliveries([sms, email])
    assert handlers.when_provider_reports(store, "delivered", NOW, provider_id="SM0")
    assert not handlers.when_provider_reports(store, "undelivered", NOW, provider_id="SM0")
    assert handlers.when_provider_reports(
        store, "bounced", NOW, "550 no such user", message_id=email.message_id
    )
    delivered, bounced = store.facts[sms.message_id], store.facts[email.message_id]
    assert isinstance(delivered, contracts.MessageDelivered) and delivered.to == "•••0100"
    assert isinstance(bounced, contracts.MessageFailed) and bounced.status == "bounced"
    assert bounced.to == "p•••@example.com" and bounced.reason == "550 no such user"
    with pytest.raises(handlers.UnknownMessage):
        handlers.when_provider_reports(store, "delivered", NOW, provider_id="SMnope")


def test_stop_and_start_replies() -> None:
    assert [opt_out_reply(w) for w in ("STOP", " stop ", "Unsubscribe", "START", "ok thanks")] == [
        True,
        True,
        True,
        False,
        None,
    ]
    store = Deliveries([])
    handlers.when_customer_replies(store, "+15595550100", "STOP", "SM1")
    assert store.stopped == {"+15595550100"}
    handlers.when_customer_replies(store, "+15595550100", "Thanks!", "SM2")
    assert store.stopped == {"+15595550100"}
    assert handlers.when_customer_replies(store, "+15595550100", "start", "SM3") is False
    assert store.stopped == set()
    replayed = handlers.when_customer_replies(store, "+15595550100", "STOP", "SM1")
    assert replayed is None and store.stopped == set()  # a replayed STOP cannot undo a START
    assert masked("dana@example.com") == "d•••@example.com" and masked("+15595550142") == "•••0142"


def test_an_opted_out_number_gets_no_text_and_the_failure_is_told() -> None:
    stopped, providers = queued(Queue(opted_out=True)), Providers()
    send_all(stopped, providers)
    assert stopped.statuses() == {"sms": "failed", "email": "sent"}
    assert [f.status for f in stopped.facts] == ["opted_out"]
    assert all(isinstance(s, Email) for s in providers.sent)


def test_two_senders_settling_the_same_message_cannot_undo_each_other() -> None:
    queue, providers = queued(Queue()), Providers()
    claimed = queue.claim_next()
    assert claimed is not None
    queue.sent(claimed, "SM1")
    queue.retry_later(claimed, "a slower reconcile")  # too late: already settled
    assert queue.statuses()["sms"] == "sent"
    send_all(queue, providers)
    assert [type(m).__name__ for m in providers.sent] == ["Email"]
