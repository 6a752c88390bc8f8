"""Revoking a pay link on fakes: invoicing replaces the link of a sent invoice that is still owed
(PayLinkReplaced, a fresh 128-bit token, the timeline says who and why); payments' copy answers
only the newest link whatever order the events come in, the old one is known as revoked and
takes no payment, while a payment started on it before still settles; notifications sends every
later message, and any still queued, with the new link."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest

from services.invoicing.domain.model import CannotReplacePayLink, Invoice, UnknownInvoice
from services.invoicing.domain.timeline import timeline
from services.invoicing.service_layer import handlers as invoicing
from services.notifications.domain.messages import messages_for, relinked
from services.notifications.domain.standing import corrected
from services.payments.service_layer import handlers as payments
from services.payments.service_layer import reconciling
from services.payments.service_layer.gateway import WebhookNotice
from shared import contracts
from shared.contracts import pay_token_digest
from tests.unit import builders
from tests.unit.fakes import FakeGateway, FakeInvoicingUnitOfWork, FakePaymentsUnitOfWork
from tests.unit.test_invoice_lifecycle import NOW, SHOP, clock, drafted, send
from tests.unit.test_pay_link import deliver, sent

pytestmark = pytest.mark.unit
OLD = "tok-0123456789abcdef"  # the token tests.unit.test_pay_link.sent() carries
NEW = "new-tok-0123456789abcd"
NEWER = "newer-tok-0123456789ab"


def replaced(number: int, token: str, revoked: str, minutes: int = 5) -> contracts.PayLinkReplaced:
    return contracts.PayLinkReplaced(
        invoice_id="inv-1",
        shop_id="shop-1",
        replaced_at=NOW + timedelta(minutes=minutes),
        replaced_by="Olivia",
        reason="texted to the wrong number",
        link_number=number,
        pay_url=f"http://pay/p/{token}",
        pay_token=token,
        revoked_token_sha256=pay_token_digest(revoked),
    )


# --- invoicing ------------------------------------------------------------------------------------


def sent_invoice() -> Invoice:
    invoice = drafted()
    send(invoice)
    return invoice


def test_a_sent_invoice_gets_a_new_link_and_the_event_names_the_old_one_by_digest() -> None:
    invoice = sent_invoice()  # its link's token is "tok"
    history = list(invoice.pending)
    invoice.pending.clear()
    invoice.replace_pay_link(
        pay_token=NEW, pay_url=f"http://pay/p/{NEW}", by="Olivia", now=NOW, reason="wrong person"
    )
    (event,) = invoice.pending
    assert isinstance(event, contracts.PayLinkReplaced)
    assert (event.link_number, event.pay_token, event.pay_url) == (2, NEW, f"http://pay/p/{NEW}")
    assert event.revoked_token_sha256 == pay_token_digest("tok")
    assert '"tok"' not in event.model_dump_json()  # the old secret never travels again
    assert (invoice.pay_token, invoice.pay_url, invoice.link_number) == (NEW, event.pay_url, 2)
    folded = Invoice.from_history(invoice.invoice_id, [*history, event])
    assert (folded.pay_token, folded.pay_url, folded.link_number) == (NEW, event.pay_url, 2)
    (entry,) = timeline([event])
    assert (entry.who, entry.what) == (
        "Olivia",
        "revoked the pay link and issued a new one: wrong person",
    )


def test_revoking_a_numbered_link_twice_replaces_it_once() -> None:
    """The staff page names the link it shows: a double click or a retried request revokes
    that link once; a number never issued is refused."""
    invoice = sent_invoice()
    invoice.pending.clear()
    with pytest.raises(CannotReplacePayLink, match="never issued"):
        invoice.replace_pay_link(pay_token=NEW, pay_url="u", by="O", now=NOW, reason="", revoking=2)
    for token in (NEW, NEWER):
        invoice.replace_pay_link(
            pay_token=token, pay_url=f"u/{token}", by="O", now=NOW, reason="", revoking=1
        )
    (event,) = invoice.pending
    assert isinstance(event, contracts.PayLinkReplaced) and event.pay_token == NEW
    assert (invoice.pay_token, invoice.link_number) == (NEW, 2)


def test_only_a_sent_invoice_with_something_owed_has_a_link_to_replace() -> None:
    def attempt(invoice: Invoice) -> None:
        invoice.replace_pay_link(pay_token=NEW, pay_url="u", by="O", now=NOW, reason="")

    with pytest.raises(UnknownInvoice):
        attempt(Invoice("nothing-here"))
    with pytest.raises(CannotReplacePayLink, match="not been sent"):
        attempt(drafted())
    void = sent_invoice()
    void.void("O", NOW, "duplicate")
    with pytest.raises(CannotReplacePayLink, match="void"):
        attempt(void)
    paid = sent_invoice()
    paid.record(
        contracts.PaymentReceived(
            payment_id="p1",
            invoice_id=paid.invoice_id,
            shop_id=SHOP,
            received_at=NOW,
            amount_cents=paid.total_cents,
            method="card",
        )
    )
    with pytest.raises(CannotReplacePayLink, match="nothing is owed"):
        attempt(paid)


def test_the_handler_issues_fresh_128_bit_tokens_and_another_shop_cannot() -> None:
    uow = FakeInvoicingUnitOfWork()
    invoicing.when_job_is_closed_draft_invoice(builders.job_closed_envelope(), uow, clock)
    invoice_id = next(iter(uow.invoices.streams))
    req = invoicing.Request(SHOP, "Olivia")
    first = invoicing.send_invoice(req, invoice_id, "http://pay/", uow, clock).pay_token
    with pytest.raises(UnknownInvoice):
        other = invoicing.Request("other-shop", "Mallory")
        invoicing.replace_pay_link(other, invoice_id, "", "http://pay", uow, clock)
    tokens = [first]
    for _ in range(2):
        invoice = invoicing.replace_pay_link(req, invoice_id, "again", "http://pay/", uow, clock)
        tokens.append(invoice.pay_token)
    events = [
        e.event for e in uow.invoices.published if isinstance(e.event, contracts.PayLinkReplaced)
    ]
    assert [e.link_number for e in events] == [2, 3]
    assert len(set(tokens)) == 3 and all(len(t or "") >= 22 for t in tokens)  # 16 bytes, base64
    assert [e.revoked_token_sha256 for e in events] == [
        pay_token_digest(t or "") for t in tokens[:2]
    ]
    assert all(e.pay_url == f"http://pay/p/{e.pay_token}" for e in events)


# --- payments -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "order",
    list(itertools.permutations([sent(), replaced(2, NEW, OLD), replaced(3, NEWER, NEW, 9)])),
)
def test_payments_answers_only_the_newest_link_in_any_order_and_twice(
    order: tuple[contracts.Event, ...],
) -> None:
    uow = FakePaymentsUnitOfWork()
    for event in [*order, *order]:
        deliver(uow, event)
    assert uow.invoices.by_token(NEWER) is not None
    for old in (OLD, NEW):
        assert uow.invoices.by_token(old) is None and uow.invoices.revoked(old), old
    assert not uow.invoices.revoked(NEWER) and not uow.invoices.revoked("never-issued-0000")
    copy = uow.invoices.get("inv-1")
    assert copy is not None and copy.link_number == 3 and copy.pay_url == f"http://pay/p/{NEWER}"
    assert copy.totals is not None and copy.totals.total_cents == 10_000


def test_a_replacement_before_the_invoice_itself_opens_nothing_until_it_comes() -> None:
    uow = FakePaymentsUnitOfWork()
    deliver(uow, replaced(2, NEW, OLD))
    assert uow.invoices.by_token(NEW) is None  # no number, no lines yet: no page
    deliver(uow, sent())
    assert uow.invoices.by_token(NEW) is not None and uow.invoices.revoked(OLD)


def test_the_revoked_link_takes_no_payment_but_one_started_before_still_settles() -> None:
    uow, gateway = FakePaymentsUnitOfWork(), FakeGateway()
    deliver(uow, sent(10_000))
    before = payments.start_payment(OLD, "a" * 32, 4_000, "ach", uow, gateway)
    assert payments.open_pay_link(OLD, "GET", "Mozilla/5.0", uow, clock) is not None
    deliver(uow, replaced(2, NEW, OLD))
    assert payments.open_pay_link(OLD, "GET", "Mozilla/5.0", uow, clock) is None
    assert payments.is_revoked_pay_link(OLD, uow)
    assert not payments.is_revoked_pay_link("unknown-token-0000000", uow)
    with pytest.raises(payments.RevokedPayLink):
        payments.start_payment(OLD, "b" * 32, 1_000, "card", uow, gateway)
    with pytest.raises(payments.RevokedPayLink):
        payments.start_card_setup(OLD, "c" * 32, uow, gateway)
    with pytest.raises(payments.UnknownPayLink):
        payments.start_payment("unknown-token-0000000", "d" * 32, 1_000, "card", uow, gateway)
    assert len(gateway.intents) == 1 and gateway.setups == []
    # the intent started on the old link clears after the revocation: money is never refused
    gateway.stripe_says["pi_1"] = ("succeeded", {})
    cleared = WebhookNotice("evt_1", "payment_intent.succeeded", gateway.intent("pi_1"))
    assert reconciling.when_stripe_reports(cleared, uow, gateway, clock)
    assert uow.charges.rows[before.charge_id].status == "succeeded"
    received = [p for p in uow.published if isinstance(p.envelope.event, contracts.PaymentReceived)]
    assert len(received) == 1
    after = payments.start_payment(NEW, "e" * 32, 6_000, "card", uow, gateway)
    assert after.amount_cents == 6_000 and len(gateway.intents) == 2  # the new link pays the rest


# --- notifications --------------------------------------------------------------------------------


def test_later_messages_carry_the_new_link_and_queued_ones_are_relinked() -> None:
    invoice = sent()
    live = corrected(invoice, None, f"http://pay/p/{NEWER}")
    assert live.pay_url == f"http://pay/p/{NEWER}" and live.pay_token is None
    assert all(f"http://pay/p/{NEWER}" in m.body for m in messages_for(live))
    assert corrected(invoice, None, None) == invoice
    queued = messages_for(invoice)
    assert queued and all(invoice.pay_url in m.body for m in queued)
    links = [invoice.pay_url, f"http://pay/p/{NEW}"]
    for message in queued:
        now = relinked(message, links, f"http://pay/p/{NEWER}")
        assert OLD not in now.body and NEW not in now.body and NEWER in now.body
        assert now.body == message.body.replace(invoice.pay_url, f"http://pay/p/{NEWER}")
        assert relinked(now, links, f"http://pay/p/{NEWER}") is now  # nothing left to change
