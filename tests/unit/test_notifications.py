"""Notifications on fakes: what the customer gets, once per invoice, and what happens when a
provider refuses or cannot be reached."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from services.notifications.domain.messages import (
    Message,
    NoSuchChannel,
    TooSoon,
    check_nudge,
    email_subject,
    messages_for,
    nudges_for,
    sms_text,
)
from services.notifications.service_layer import handlers
from services.notifications.service_layer.providers import (
    Email,
    EmailProvider,
    ProviderRefused,
    SmsProvider,
)
from services.notifications.service_layer.store import Claimed, MessageQueue, MessageStore
from shared import contracts
from shared.envelope import Envelope
from tests.unit import builders

pytestmark = pytest.mark.unit


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
    def __init__(self) -> None:
        self.rows: dict[str, tuple[Message, str]] = {}
        self.invoice: contracts.InvoiceSent | None = None

    def queue(self, invoice: contracts.InvoiceSent, messages: list[Message]) -> int:
        self.invoice = invoice
        new = [m for m in messages if m.message_id not in self.rows]
        self.rows.update({m.message_id: (m, "pending") for m in new})
        return len(new)

    def claim_next(self) -> Claimed | None:
        for message, status in self.rows.values():
            if status == "pending":
                self.rows[message.message_id] = (message, "sending")
                assert self.invoice is not None
                return Claimed(message, self.invoice)
        return None

    def sent(self, message_id: str, provider_id: str) -> None:
        self._set(message_id, "sent")

    def failed(self, message_id: str, error: str) -> None:
        self._set(message_id, "failed")

    def retry_later(self, message_id: str, error: str) -> None:
        self._set(message_id, "pending")

    def _set(self, message_id: str, status: str) -> None:
        self.rows[message_id] = (self.rows[message_id][0], status)

    def statuses(self) -> dict[str, str]:
        return {m.channel: s for m, s in self.rows.values()}


class Providers(SmsProvider, EmailProvider):
    def __init__(self, fail_with: Exception | None = None) -> None:
        self.sent: list[object] = []
        self.fail_with = fail_with

    def send(self, to_or_email: object, body: str = "") -> str:
        if self.fail_with:
            raise self.fail_with
        self.sent.append(to_or_email if isinstance(to_or_email, Email) else (to_or_email, body))
        return f"id-{len(self.sent)}"


def test_the_text_fits_one_segment_and_always_carries_the_link() -> None:
    text = sms_text(sent())
    assert text == (
        "Northwind HVAC: invoice INV-2026-000123 for $448.19 is ready. "
        "Pay: https://pay.example.com/p/AbCdEfGhIjKlMnOpQrStUv"
    )
    long_name = sms_text(sent("The Very Long Name Heating Ventilation and Air Conditioning Co"))
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
    queue, providers = Queue(), Providers()
    handlers.when_invoice_is_sent_queue_messages(
        Envelope(event=sent(), tenant="shop-1", source="/i"), queue
    )
    while handlers.send_next(queue, providers, providers):
        pass
    assert queue.statuses() == {"sms": "sent", "email": "sent"}
    (sms, email) = providers.sent
    assert sms == ("+15595550100", sms_text(sent()))
    assert isinstance(email, Email) and email.pdf.startswith(b"%PDF")

    refused, down = Queue(), Queue()
    for queue_ in (refused, down):
        handlers.when_invoice_is_sent_queue_messages(
            Envelope(event=sent(), tenant="shop-1", source="/i"), queue_
        )
    handlers.send_next(refused, Providers(ProviderRefused("unknown number")), Providers())
    assert refused.statuses()["sms"] == "failed"
    handlers.send_next(down, Providers(ConnectionError("timeout")), Providers())
    assert down.statuses()["sms"] == "pending"  # tried again later


def test_a_nudge_is_its_own_message_and_waits_an_hour_after_the_last() -> None:
    invoice = sent()
    now = datetime(2026, 3, 2, 12, tzinfo=UTC)
    with pytest.raises(TooSoon):
        check_nudge(invoice, ["sms"], now - timedelta(minutes=59), now)
    check_nudge(invoice, ["sms", "email"], now - timedelta(minutes=61), now)
    with pytest.raises(NoSuchChannel):
        check_nudge(sent(phone=None), ["sms"], None, now)
    first, second = nudges_for(invoice, ["sms"]), nudges_for(invoice, ["sms"])
    assert first[0].message_id != second[0].message_id and first[0].kind == "nudge"
    assert "is waiting for you" in sms_text(invoice, "nudge")
    assert email_subject(invoice, "nudge").startswith("Reminder: invoice INV-2026-000123")
