"""Paying and refunding on fakes: the server decides amounts and methods, each Stripe event acts
once, a charge's facts are one stream, refunds never exceed what is left."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from services.payments.domain.ledger import Charge, Ledger, NotPayable, PaymentRefused
from services.payments.service_layer import handlers
from services.payments.service_layer.gateway import StripeEvent
from shared import contracts
from tests.unit.fakes import FakeGateway, FakePaymentsUnitOfWork
from tests.unit.test_pay_link import NOW, deliver, sent, voided

pytestmark = pytest.mark.unit
TOKEN = "tok-0123456789abcdef"


def clock() -> datetime:
    return NOW


def start(
    uow: FakePaymentsUnitOfWork,
    gateway: FakeGateway,
    amount: int,
    method: str = "card",
    attempt: str = "a" * 32,
) -> handlers.Started:
    return handlers.start_payment(TOKEN, attempt, amount, method, uow, gateway)  # type: ignore[arg-type]


def stripe_says(uow: FakePaymentsUnitOfWork, kind: str, intent: str, event_id: str) -> bool:
    event = StripeEvent(event_id, f"payment_intent.{kind}", intent, 0, {}, "insufficient funds")
    return handlers.when_stripe_reports(event, uow, clock)


def paid_invoice() -> tuple[FakePaymentsUnitOfWork, FakeGateway]:
    uow, gateway = FakePaymentsUnitOfWork(), FakeGateway()
    deliver(uow, sent(10_000))
    return uow, gateway


def test_the_server_creates_the_intent_for_the_amount_it_allows() -> None:
    uow, gateway = paid_invoice()
    started = start(uow, gateway, 4_000)
    (intent,) = gateway.intents
    assert intent["amount_cents"] == 4_000 and intent["method"] == "card"
    assert intent["idempotency_key"] == f"charge:{'a' * 32}"
    assert intent["metadata"] == {"shop": "shop-1", "invoice": "inv-1", "charge": "a" * 32}
    assert started.client_secret == "pi_1_secret" and gateway.customers == ["cust-1"]
    start(uow, gateway, 1_000, attempt="b" * 32)
    assert gateway.customers == ["cust-1"]  # one Stripe customer per shop customer


@pytest.mark.parametrize(
    ("amount", "method", "field"),
    [(10_001, "card", "amount_cents"), (99, "card", "amount_cents"), (5_000, "ach", "method")],
)
def test_overpayment_tiny_payments_and_disallowed_methods_are_refused(
    amount: int, method: str, field: str
) -> None:
    uow, gateway = paid_invoice()
    uow.invoices.rows["inv-1"].allowed_payment_methods = ["card"]
    with pytest.raises(PaymentRefused) as caught:
        start(uow, gateway, amount, method)
    assert caught.value.field == field and gateway.intents == [] and uow.charges.rows == {}


def test_stripe_events_act_once_and_build_the_balance() -> None:
    uow, gateway = paid_invoice()
    start(uow, gateway, 4_000)
    assert stripe_says(uow, "succeeded", "pi_1", "evt_1")
    assert not stripe_says(uow, "succeeded", "pi_1", "evt_1")  # the same delivery again
    assert not stripe_says(uow, "succeeded", "pi_1", "evt_1b")  # another delivery, same fact
    (received,) = uow.published
    assert isinstance(received.envelope.event, contracts.PaymentReceived)
    assert (received.aggregate_id, received.version) == (f"charge:{'a' * 32}", 2)
    invoice = uow.invoices.rows["inv-1"]
    assert Ledger(uow.charges.for_invoice("inv-1")).payable_now(invoice) == 6_000
    assert not stripe_says(uow, "succeeded", "pi_unknown", "evt_2")  # not ours


def test_an_ach_payment_clears_or_is_returned() -> None:
    uow, gateway = paid_invoice()
    start(uow, gateway, 10_000, "ach")
    assert stripe_says(uow, "processing", "pi_1", "evt_1")
    ledger = Ledger(uow.charges.for_invoice("inv-1"))
    assert ledger.clearing_cents == 10_000 and ledger.payable_now(uow.invoices.rows["inv-1"]) == 0
    with pytest.raises(NotPayable):
        start(uow, gateway, 100, attempt="c" * 32)
    assert stripe_says(uow, "succeeded", "pi_1", "evt_2")
    assert stripe_says(uow, "payment_failed", "pi_1", "evt_3")  # returned after clearing
    kinds = [p.envelope.type for p in uow.published]
    assert kinds == ["PaymentInitiated", "PaymentReceived", "PaymentFailed"]
    assert (
        Ledger(uow.charges.for_invoice("inv-1")).payable_now(uow.invoices.rows["inv-1"]) == 10_000
    )


def test_refunds_never_exceed_what_is_left_of_the_payment() -> None:
    uow, gateway = paid_invoice()
    start(uow, gateway, 8_000)
    stripe_says(uow, "succeeded", "pi_1", "evt_1")
    charge_id = "a" * 32

    def refund(amount: int) -> Charge:
        return handlers.refund_payment(
            "shop-1", charge_id, amount, "goodwill", "Owner", uow, gateway, clock
        )

    assert refund(3_000).refunded_cents == 3_000
    with pytest.raises(PaymentRefused):
        refund(5_001)
    assert refund(5_000).refunded_cents == 8_000
    assert [r[1] for r in gateway.refunds] == [3_000, 5_000]
    refunds = [p.envelope.event for p in uow.published if p.envelope.type == "RefundIssued"]
    assert [r.amount_cents for r in refunds] == [3_000, 5_000]  # type: ignore[attr-defined]
    with pytest.raises(handlers.UnknownPayment):
        handlers.refund_payment("other-shop", charge_id, 1, "", "x", uow, gateway, clock)


def test_a_voided_invoice_takes_no_payment() -> None:
    uow, gateway = paid_invoice()
    deliver(uow, voided())
    with pytest.raises(NotPayable):
        start(uow, gateway, 1_000)
    with pytest.raises(handlers.UnknownPayLink):
        handlers.start_payment("nope-0123456789abc", "d" * 32, 100, "card", uow, gateway)


def test_a_webhook_quicker_than_our_own_write_finds_the_charge_by_its_metadata() -> None:
    uow, gateway = paid_invoice()
    start(uow, gateway, 10_000, "ach")
    uow.charges.rows["a" * 32].intent_id = None  # as if Stripe answered before we stored it
    event = StripeEvent("evt_9", "payment_intent.processing", "pi_1", 0, {"charge": "a" * 32})
    assert handlers.when_stripe_reports(event, uow, clock)
    assert uow.charges.rows["a" * 32].intent_id == "pi_1"
    stranger = StripeEvent(
        "evt_10", "payment_intent.succeeded", "pi_other", 0, {"charge": "a" * 32}
    )
    assert not handlers.when_stripe_reports(stranger, uow, clock)  # another intent's metadata


def test_a_card_saved_on_purpose_pays_later_and_only_for_its_customer() -> None:
    uow, gateway = paid_invoice()
    handlers.start_payment(TOKEN, "a" * 32, 1_000, "card", uow, gateway, "pm_new", save_card=True)
    handlers.start_payment(TOKEN, "b" * 32, 1_000, "card", uow, gateway, "pm_once")
    assert [c.payment_method for c in uow.processor.saved_cards("shop-1", "cust-1")] == ["pm_new"]
    handlers.start_payment(TOKEN, "c" * 32, 1_000, "card", uow, gateway, saved_card="pm_new")
    assert gateway.intents[-1]["payment_method_ref"] == "pm_new"
    with pytest.raises(PaymentRefused) as caught:
        handlers.start_payment(TOKEN, "d" * 32, 1_000, "card", uow, gateway, saved_card="pm_x")
    assert caught.value.field == "saved_card"


def test_a_lost_webhook_is_made_good_by_asking_stripe_once_it_settles() -> None:
    uow, gateway = paid_invoice()
    start(uow, gateway, 10_000, "ach")
    assert stripe_says(uow, "processing", "pi_1", "evt_1")

    def ask() -> int:
        return handlers.ask_stripe_about_unsettled(lambda: uow, gateway, clock, timedelta(0))

    assert ask() == 0  # the bank has not cleared it: nothing to tell
    gateway.stripe_says["pi_1"] = ("succeeded", {})  # cleared; its webhook never came
    assert ask() == 1
    assert ask() == 0  # settled: not asked again
    assert not stripe_says(uow, "succeeded", "pi_1", "evt_late")  # the webhook, late: once
    kinds = [p.envelope.type for p in uow.published]
    assert kinds == ["PaymentInitiated", "PaymentReceived"]
    assert uow.charges.rows["a" * 32].status == "succeeded"


def test_a_failed_debit_whose_webhook_was_lost_opens_the_balance_again() -> None:
    uow, gateway = paid_invoice()
    start(uow, gateway, 10_000, "ach")
    gateway.stripe_says["pi_1"] = ("requires_payment_method", {})
    assert handlers.ask_stripe_about_unsettled(lambda: uow, gateway, clock, timedelta(0)) == 1
    assert [p.envelope.type for p in uow.published] == ["PaymentFailed"]
    invoice = uow.invoices.rows["inv-1"]
    assert Ledger(uow.charges.for_invoice("inv-1")).payable_now(invoice) == 10_000


def test_a_charge_stripe_cannot_answer_for_holds_up_none_of_the_others() -> None:
    uow, gateway = paid_invoice()
    start(uow, gateway, 4_000, "ach", attempt="a" * 32)
    start(uow, gateway, 4_000, "ach", attempt="b" * 32)
    gateway.cannot_answer.add("pi_1")  # e.g. an intent Stripe does not know (404) — every time
    gateway.stripe_says["pi_2"] = ("succeeded", {})
    assert handlers.ask_stripe_about_unsettled(lambda: uow, gateway, clock, timedelta(0)) == 1
    assert gateway.asked == ["pi_1", "pi_2"]
    assert uow.charges.rows["b" * 32].status == "succeeded"
    assert uow.charges.rows["a" * 32].status == "created"  # asked again on its next turn


def test_every_unsettled_charge_gets_its_turn_however_many_never_settle() -> None:
    uow, gateway = paid_invoice()
    for attempt in ("a", "b", "c"):
        start(uow, gateway, 1_000, "ach", attempt=attempt * 32)
        gateway.stripe_says[f"pi_{len(gateway.intents)}"] = ("requires_action", {})

    def one_pass() -> int:
        return handlers.ask_stripe_about_unsettled(
            lambda: uow, gateway, clock, timedelta(0), per_pass=2
        )

    one_pass()
    one_pass()
    assert gateway.asked[:3] == ["pi_1", "pi_2", "pi_3"]  # the one left out goes first next time


def test_a_pass_stops_between_charges_when_the_worker_stops() -> None:
    uow, gateway = paid_invoice()
    start(uow, gateway, 4_000, "ach")
    gateway.stripe_says["pi_1"] = ("succeeded", {})
    stopped = handlers.ask_stripe_about_unsettled(
        lambda: uow, gateway, clock, timedelta(0), keep_going=lambda: False
    )
    assert stopped == 0 and gateway.asked == [] and uow.charges.rows["a" * 32].status == "created"
