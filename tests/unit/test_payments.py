"""Paying and refunding on fakes: the server decides amounts and methods, each Stripe event acts
once, a charge's facts are one stream, refunds never exceed what is left."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from services.payments.domain.ledger import Charge, Ledger, NotPayable, PaymentRefused
from services.payments.service_layer import handlers, reconciling, refunds
from services.payments.service_layer.gateway import WebhookNotice
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
    return handlers.start_payment(
        TOKEN,
        attempt,
        amount,
        method,  # type: ignore[arg-type]
        uow,
        gateway,
        clock=clock,
    )


STATUS_OF = {"payment_failed": "requires_payment_method"}


def stripe_says(
    uow: FakePaymentsUnitOfWork, gateway: FakeGateway, kind: str, intent: str, event_id: str
) -> bool:
    """Stripe's intent moves to ``kind`` and its webhook (a true one) comes."""
    gateway.stripe_says[intent] = (STATUS_OF.get(kind, kind), {})
    notice = WebhookNotice(event_id, f"payment_intent.{kind}", gateway.intent(intent))
    return reconciling.when_stripe_reports(notice, uow, gateway, clock)


def owed_now(uow: FakePaymentsUnitOfWork) -> int:
    invoice = uow.invoices.rows["inv-1"]
    return Ledger(uow.charges.for_invoice("inv-1")).payable_now(invoice, NOW)


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
    assert stripe_says(uow, gateway, "succeeded", "pi_1", "evt_1")
    assert not stripe_says(uow, gateway, "succeeded", "pi_1", "evt_1")  # the same delivery again
    assert not stripe_says(uow, gateway, "succeeded", "pi_1", "evt_1b")  # same fact again
    (received,) = uow.published
    assert isinstance(received.envelope.event, contracts.PaymentReceived)
    assert (received.aggregate_id, received.version) == (f"charge:{'a' * 32}", 2)
    assert owed_now(uow) == 6_000
    forged = WebhookNotice("evt_2", "payment_intent.succeeded", gateway.intent("pi_1"))
    forged = WebhookNotice(
        "evt_2", "payment_intent.succeeded", replace(forged.claimed, intent_id="pi_9")
    )
    with pytest.raises(reconciling.WebhookRefused):  # an intent Stripe holds no such
        reconciling.when_stripe_reports(forged, uow, gateway, clock)


def test_an_ach_payment_clears_or_is_returned() -> None:
    uow, gateway = paid_invoice()
    start(uow, gateway, 10_000, "ach")
    assert stripe_says(uow, gateway, "processing", "pi_1", "evt_1")
    ledger = Ledger(uow.charges.for_invoice("inv-1"))
    assert ledger.clearing_cents == 10_000 and owed_now(uow) == 0
    with pytest.raises(NotPayable):
        start(uow, gateway, 100, attempt="c" * 32)
    assert stripe_says(uow, gateway, "succeeded", "pi_1", "evt_2")
    gateway.disputes["dp_1"] = "pi_1"  # the bank returned it after it cleared
    notice = WebhookNotice("evt_3", "charge.dispute.created", gateway.intent("pi_1"), "dp_1")
    assert reconciling.when_stripe_reports(notice, uow, gateway, clock)
    kinds = [p.envelope.type for p in uow.published]
    assert kinds == ["PaymentInitiated", "PaymentReceived", "PaymentFailed"]
    assert uow.published[-1].envelope.event.reason == "disputed: debit_not_authorized"  # type: ignore[attr-defined]
    assert owed_now(uow) == 10_000


def test_refunds_never_exceed_what_is_left_of_the_payment() -> None:
    uow, gateway = paid_invoice()
    start(uow, gateway, 8_000)
    stripe_says(uow, gateway, "succeeded", "pi_1", "evt_1")
    charge_id = "a" * 32

    def refund(amount: int) -> Charge:
        return refunds.refund_payment(
            "shop-1", charge_id, amount, "goodwill", "Owner", uow, gateway, clock
        )

    assert refund(3_000).refunded_cents == 3_000
    with pytest.raises(PaymentRefused):
        refund(5_001)
    assert refund(5_000).refunded_cents == 8_000
    assert [r[1] for r in gateway.refunds] == [3_000, 5_000]
    issued = [p.envelope.event for p in uow.published if p.envelope.type == "RefundIssued"]
    assert [r.amount_cents for r in issued] == [3_000, 5_000]  # type: ignore[attr-defined]
    assert {r.kind for r in issued} == {"credit"}  # type: ignore[attr-defined]
    with pytest.raises(refunds.UnknownPayment):
        refunds.refund_payment("other-shop", charge_id, 1, "", "x", uow, gateway, clock)


def test_a_voided_invoice_takes_no_payment() -> None:
    uow, gateway = paid_invoice()
    deliver(uow, voided())
    with pytest.raises(NotPayable):
        start(uow, gateway, 1_000)
    with pytest.raises(handlers.UnknownPayLink):
        handlers.start_payment("nope-0123456789abc", "d" * 32, 100, "card", uow, gateway)


def test_a_webhook_quicker_than_our_own_write_finds_the_charge_by_its_metadata() -> None:
    uow, gateway = paid_invoice()
    start(uow, gateway, 5_000, "ach")
    uow.charges.rows["a" * 32].intent_id = None  # as if Stripe answered before we stored it
    assert stripe_says(uow, gateway, "processing", "pi_1", "evt_9")
    assert uow.charges.rows["a" * 32].intent_id == "pi_1"
    start(uow, gateway, 100, "card", attempt="b" * 32)  # pi_2, naming its own charge
    gateway.stripe_says["pi_2"] = ("succeeded", {"charge": "a" * 32, "shop": "shop-1"})
    with pytest.raises(reconciling.WebhookRefused):  # another intent's metadata
        reconciling.when_stripe_reports(
            WebhookNotice("evt_10", "payment_intent.succeeded", gateway.intent("pi_2")),
            uow,
            gateway,
            clock,
        )


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
    assert stripe_says(uow, gateway, "processing", "pi_1", "evt_1")
    gateway.stripe_says["pi_1"] = ("processing", {})

    def ask() -> int:
        return reconciling.ask_stripe_about_unsettled(lambda: uow, gateway, clock, timedelta(0))

    assert ask() == 0  # the bank has not cleared it: nothing to tell
    gateway.stripe_says["pi_1"] = ("succeeded", {})  # cleared; its webhook never came
    assert ask() == 1
    assert ask() == 0  # settled: not asked again
    assert not stripe_says(uow, gateway, "succeeded", "pi_1", "evt_late")  # the webhook, late: once
    kinds = [p.envelope.type for p in uow.published]
    assert kinds == ["PaymentInitiated", "PaymentReceived"]
    assert uow.charges.rows["a" * 32].status == "succeeded"


def test_a_failed_debit_whose_webhook_was_lost_opens_the_balance_again() -> None:
    uow, gateway = paid_invoice()
    start(uow, gateway, 10_000, "ach")
    gateway.stripe_says["pi_1"] = ("requires_payment_method", {})
    assert reconciling.ask_stripe_about_unsettled(lambda: uow, gateway, clock, timedelta(0)) == 1
    assert [p.envelope.type for p in uow.published] == ["PaymentFailed"]
    assert owed_now(uow) == 10_000


def test_a_charge_stripe_cannot_answer_for_holds_up_none_of_the_others() -> None:
    uow, gateway = paid_invoice()
    start(uow, gateway, 4_000, "ach", attempt="a" * 32)
    start(uow, gateway, 4_000, "ach", attempt="b" * 32)
    gateway.cannot_answer.add("pi_1")  # e.g. an intent Stripe does not know (404) — every time
    gateway.stripe_says["pi_2"] = ("succeeded", {})
    assert reconciling.ask_stripe_about_unsettled(lambda: uow, gateway, clock, timedelta(0)) == 1
    assert gateway.asked == ["pi_1", "pi_2"]
    assert uow.charges.rows["b" * 32].status == "succeeded"
    assert uow.charges.rows["a" * 32].status == "created"  # asked again on its next turn


def test_every_unsettled_charge_gets_its_turn_however_many_never_settle() -> None:
    uow, gateway = paid_invoice()
    for attempt in ("a", "b", "c"):
        start(uow, gateway, 1_000, "ach", attempt=attempt * 32)
        gateway.stripe_says[f"pi_{len(gateway.intents)}"] = ("requires_action", {})

    def one_pass() -> int:
        return reconciling.ask_stripe_about_unsettled(
            lambda: uow, gateway, clock, timedelta(0), per_pass=2
        )

    one_pass()
    one_pass()
    assert gateway.asked[:3] == ["pi_1", "pi_2", "pi_3"]  # the one left out goes first next time


def test_a_pass_stops_between_charges_when_the_worker_stops() -> None:
    uow, gateway = paid_invoice()
    start(uow, gateway, 4_000, "ach")
    gateway.stripe_says["pi_1"] = ("succeeded", {})
    stopped = reconciling.ask_stripe_about_unsettled(
        lambda: uow, gateway, clock, timedelta(0), keep_going=lambda: False
    )
    assert stopped == 0 and gateway.asked == [] and uow.charges.rows["a" * 32].status == "created"


# --- reservations: no number of tabs, payers or retries takes more than the balance ------------


def test_a_started_payment_holds_its_amount_until_it_fails_or_expires() -> None:
    uow, gateway = paid_invoice()
    start(uow, gateway, 10_000, attempt="a" * 32)  # 3-D Secure under way: nothing settled yet
    assert owed_now(uow) == 0
    with pytest.raises(NotPayable, match="already under way"):
        start(uow, gateway, 10_000, attempt="b" * 32)  # a second tab
    uow.charges.rows["a" * 32].status = "failed"
    assert owed_now(uow) == 10_000  # released when it fails
    start(uow, gateway, 6_000, attempt="c" * 32)
    with pytest.raises(PaymentRefused):
        start(uow, gateway, 4_001, attempt="d" * 32)  # only what is left can be started
    invoice = uow.invoices.rows["inv-1"]
    later = NOW + timedelta(minutes=16)
    assert Ledger(uow.charges.for_invoice("inv-1")).payable_now(invoice, later) == 10_000


def test_a_retried_attempt_is_not_held_against_itself() -> None:
    uow, gateway = paid_invoice()
    charge = Charge("a" * 32, "inv-1", "shop-1", 10_000, "card", created_at=NOW)
    uow.charges.add(charge)  # recorded, then the process died before Stripe was asked
    started = start(uow, gateway, 10_000, attempt="a" * 32)
    assert started.charge_id == "a" * 32 and len(gateway.intents) == 1


# --- money nothing is owed for goes back --------------------------------------------------------


def give_back(uow: FakePaymentsUnitOfWork, gateway: FakeGateway) -> int:
    return refunds.give_back_money_kept(lambda: uow, gateway, clock)


def test_money_kept_when_the_invoice_is_voided_is_given_back() -> None:
    uow, gateway = paid_invoice()
    start(uow, gateway, 4_000)
    stripe_says(uow, gateway, "succeeded", "pi_1", "evt_1")
    assert give_back(uow, gateway) == 0 and uow.give_backs.rows == {}
    deliver(uow, voided())  # invoicing voided it before it heard of the payment
    assert give_back(uow, gateway) == 1
    assert gateway.refunds[-1][:2] == ("pi_1", 4_000)
    refund = uow.published[-1].envelope.event
    assert isinstance(refund, contracts.RefundIssued) and refund.kind == "money_back"
    assert "void" in refund.reason and give_back(uow, gateway) == 0  # once


def test_a_payment_landing_on_a_void_invoice_is_given_back() -> None:
    uow, gateway = paid_invoice()
    start(uow, gateway, 10_000, "ach")  # in flight
    deliver(uow, voided())
    stripe_says(uow, gateway, "succeeded", "pi_1", "evt_1")
    assert list(uow.give_backs.rows) == ["inv-1"]
    assert give_back(uow, gateway) == 1 and gateway.refunds == [("pi_1", 10_000, ANY_KEY)]


def test_money_beyond_the_balance_is_given_back_and_the_rest_kept() -> None:
    uow, gateway = paid_invoice()
    start(uow, gateway, 7_000, attempt="a" * 32)
    uow.charges.rows["a" * 32].created_at = NOW - timedelta(minutes=20)  # its hold expired
    start(uow, gateway, 10_000, attempt="b" * 32)
    stripe_says(uow, gateway, "succeeded", "pi_2", "evt_2")
    stripe_says(uow, gateway, "succeeded", "pi_1", "evt_1")  # 3-D Secure finished late
    assert give_back(uow, gateway) == 1
    assert sum(r[1] for r in gateway.refunds) == 7_000  # from the newest payment started
    assert (
        Ledger(uow.charges.for_invoice("inv-1")).balance(uow.invoices.rows["inv-1"]).balance_cents
        == 0
    )


class AnyKey(str):
    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and other.startswith("refund:")

    __hash__ = str.__hash__


ANY_KEY = AnyKey()


# --- a signed webhook is checked against Stripe and against the charge --------------------------


def forged(gateway: FakeGateway, kind: str, **claims: object) -> WebhookNotice:
    truth = gateway.intent("pi_1")
    return WebhookNotice("evt_forged", f"payment_intent.{kind}", replace(truth, **claims))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "claims",
    [
        {"amount_cents": 1},
        {"currency": "EUR"},
        {"metadata": {"shop": "shop-2", "invoice": "inv-1", "charge": "a" * 32}},
        {"account": "acct_other"},
    ],
)
def test_a_webhook_claiming_what_stripe_does_not_hold_is_refused(claims: dict[str, object]) -> None:
    uow, gateway = paid_invoice()
    start(uow, gateway, 4_000)
    gateway.stripe_says["pi_1"] = ("succeeded", {})
    with pytest.raises(reconciling.WebhookRefused):
        reconciling.when_stripe_reports(forged(gateway, "succeeded", **claims), uow, gateway, clock)
    assert uow.published == [] and uow.charges.rows["a" * 32].status == "created"


def test_a_failure_after_success_is_refused_and_changes_nothing() -> None:
    uow, gateway = paid_invoice()
    start(uow, gateway, 4_000)
    stripe_says(uow, gateway, "succeeded", "pi_1", "evt_1")
    with pytest.raises(reconciling.WebhookRefused):
        reconciling.when_stripe_reports(forged(gateway, "payment_failed"), uow, gateway, clock)
    assert [p.envelope.type for p in uow.published] == ["PaymentReceived"]
    assert owed_now(uow) == 6_000


def test_stripe_holding_another_amount_than_we_started_is_refused() -> None:
    uow, gateway = paid_invoice()
    start(uow, gateway, 4_000)
    gateway.intents[0]["amount_cents"] = 1  # an intent for 1 cent naming our charge
    gateway.stripe_says["pi_1"] = ("succeeded", {})
    with pytest.raises(reconciling.WebhookRefused):
        reconciling.when_stripe_reports(forged(gateway, "succeeded"), uow, gateway, clock)
    assert uow.published == []
