"""What Stripe tells us — by webhook or when asked — reconciled with the charges we started.

A signed webhook is only a hint that something changed: the object is read back from Stripe and
acted on when it matches the charge (intent, amount, currency, shop, invoice, account). Anything
else is refused (WebhookRefused: counted, alerted on). A charge's state only moves forward by
Stripe's own state: created → processing → succeeded; created/processing → failed; succeeded →
disputed (a chargeback or an ACH return)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from services.payments.domain.ledger import Charge
from services.payments.service_layer.gateway import (
    IntentState,
    PaymentGateway,
    UnknownToStripe,
    WebhookNotice,
)
from services.payments.service_layer.refunds import SOURCE, Clock, queue_give_back_if_owed
from services.payments.service_layer.unit_of_work import UnitOfWork
from shared.contracts import Event, PaymentFailed, PaymentInitiated, PaymentReceived
from shared.envelope import Envelope

log = logging.getLogger(__name__)
CURRENCY = "USD"
DISPUTED = "charge.dispute.created"

FACT_VERSIONS = {"PaymentInitiated": 1, "PaymentReceived": 2, "PaymentFailed": 3}
"""A charge's facts are one stream: each happens at most once per PaymentIntent (a dispute after
success is its PaymentFailed)."""


class WebhookRefused(Exception):
    """A signed event that does not agree with Stripe or with the charge we started."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def when_stripe_reports(
    notice: WebhookNotice, uow: UnitOfWork, gateway: PaymentGateway, clock: Clock
) -> bool:
    """A verified webhook: Stripe's own state of the object, checked against the event's claims
    and against our charge, acted on once per event id. False when it changed nothing."""
    state, dispute_reason = _read_back(notice, gateway)
    _agrees(notice, state)
    kind = DISPUTED if notice.event_type == DISPUTED else state.outcome
    return act_on_stripe_state(notice.event_id, kind, state, uow, clock, dispute_reason)


def _read_back(notice: WebhookNotice, gateway: PaymentGateway) -> tuple[IntentState, str]:
    try:
        if notice.event_type != DISPUTED:
            return gateway.intent(notice.claimed.intent_id), ""
        intent_id, reason = gateway.disputed_intent(notice.dispute_id)
        if intent_id != notice.claimed.intent_id:
            raise WebhookRefused("data.object.payment_intent", "not the disputed payment")
        return gateway.intent(intent_id), reason
    except UnknownToStripe as exc:
        raise WebhookRefused("data.object.id", "Stripe holds no such object") from exc


def _agrees(notice: WebhookNotice, state: IntentState) -> None:
    """What the body claims must be what Stripe holds."""
    claimed = notice.claimed
    if claimed.account != state.account:
        raise WebhookRefused("account", "not the account this payment was made on")
    if notice.event_type == DISPUTED:
        received = state.amount_received_cents or state.amount_cents
        if state.status != "succeeded" or claimed.amount_cents > received:
            raise WebhookRefused("data.object.amount", "more than Stripe received")
        return
    if (claimed.amount_cents, claimed.currency, claimed.metadata) != (
        state.amount_cents,
        state.currency,
        state.metadata,
    ):
        raise WebhookRefused("data.object", "amount, currency or metadata differ from Stripe's")
    if notice.event_type == "payment_intent.payment_failed" and state.status == "succeeded":
        raise WebhookRefused("type", "Stripe says this payment succeeded")


def act_on_stripe_state(
    event_id: str,
    kind: str,
    state: IntentState,
    uow: UnitOfWork,
    clock: Clock,
    dispute_reason: str = "",
) -> bool:
    """Stripe's state of one of our intents, acted on once per ``event_id``: processing →
    PaymentInitiated, succeeded → PaymentReceived, failed or disputed → PaymentFailed."""
    with uow:
        charge = _charge_of(uow, state)
        _matches(charge, state)
        if not uow.processor.first_delivery(event_id, kind):
            return False
        reason = f"disputed: {dispute_reason}" if kind == DISPUTED else state.failure
        fact = fact_for(kind, charge, clock(), reason)
        if fact is not None:
            uow.charges.save(charge)
            tell(uow, charge, fact)
            if isinstance(fact, PaymentReceived):
                queue_give_back_if_owed(uow, charge.invoice_id)
        uow.commit()
    return fact is not None


def _charge_of(uow: UnitOfWork, state: IntentState) -> Charge:
    """By the intent id, or — when Stripe is quicker than our own write of that id (ACH's
    processing event can come before create returns) — by the charge id in its metadata. The
    invoice is locked before the charge (the order every writer keeps)."""
    found = uow.charges.find(state.intent_id, state.metadata.get("charge", ""))
    if found is None or found.intent_id not in (None, state.intent_id):
        raise WebhookRefused("data.object.metadata.charge", "not a payment we started")
    uow.invoices.get(found.invoice_id)
    charge = uow.charges.get(found.charge_id)
    assert charge is not None
    charge.intent_id = state.intent_id
    return charge


def _matches(charge: Charge, state: IntentState) -> None:
    """Stripe's object is the one we asked for: same amount, currency, shop, invoice, charge."""
    expected = {"shop": charge.shop_id, "invoice": charge.invoice_id, "charge": charge.charge_id}
    if state.metadata != expected:
        raise WebhookRefused("data.object.metadata", "names another shop, invoice or payment")
    if state.amount_cents != charge.amount_cents or state.currency != CURRENCY:
        raise WebhookRefused("data.object.amount", "not the amount this payment was started for")
    if state.status == "succeeded" and state.amount_received_cents not in (0, charge.amount_cents):
        raise WebhookRefused("data.object.amount_received", "not the amount of this payment")
    if state.account is not None:
        raise WebhookRefused("account", "not the account this payment was made on")


def fact_for(kind: str, charge: Charge, now: datetime, failure: str) -> Event | None:
    """The fact Stripe's state ``kind`` makes of the charge, moving its status forward only;
    None if it tells nothing new (or would move it back)."""
    common = {
        "payment_id": charge.charge_id,
        "invoice_id": charge.invoice_id,
        "shop_id": charge.shop_id,
        "amount_cents": charge.amount_cents,
        "method": charge.method,
    }
    unsettled = charge.status in ("created", "processing")
    if kind == "payment_intent.processing" and charge.status == "created":
        charge.status = "processing"
        return PaymentInitiated(initiated_at=now, **common)
    if kind == "payment_intent.succeeded" and unsettled:
        charge.status = "succeeded"
        return PaymentReceived(received_at=now, **common)
    if (kind == "payment_intent.payment_failed" and unsettled) or (
        kind == DISPUTED and charge.status == "succeeded"
    ):
        charge.status = "failed"
        return PaymentFailed(failed_at=now, reason=failure, **common)
    return None


def tell(uow: UnitOfWork, charge: Charge, fact: Event | None) -> None:
    """Publish a charge's fact as its version of the charge's stream: the answer to our own
    request and Stripe's webhook may both report it; the stream keeps one."""
    if fact is None:
        return
    envelope = Envelope(event=fact, tenant=charge.shop_id, source=SOURCE)
    uow.publish(f"charge:{charge.charge_id}", FACT_VERSIONS[envelope.type], envelope)


# --- asking Stripe about what it has not told us ------------------------------------------------

UNSETTLED_PER_PASS = 200
CHECK_WINDOW = timedelta(days=10)
"""Older than this, an unsettled charge is one the customer left (a card never confirmed):
bank debits clear within days and Stripe retries a webhook for three."""


def ask_stripe_about_unsettled(
    new_uow: Callable[[], UnitOfWork],
    gateway: PaymentGateway,
    clock: Clock,
    after: timedelta,
    keep_going: Callable[[], bool] = lambda: True,
    per_pass: int = UNSETTLED_PER_PASS,
) -> int:
    """Charges Stripe has not settled ``after`` they were made are asked of Stripe (each at most
    once per ``after``, those asked longest ago first), and what it says is acted on as its
    webhook would have been: a webhook can be lost (our process down when it came, Stripe giving
    up), the money cannot. A charge Stripe cannot answer for now waits for its next turn and holds
    up none of the others; ``keep_going`` is asked before each (False: stop the pass). How many
    charges it settled."""
    with new_uow() as uow:
        now = clock()
        waiting = uow.charges.due_for_check(now - CHECK_WINDOW, now - after, now, per_pass)
        uow.commit()
    settled = 0
    for charge in waiting:
        if not keep_going():
            break
        if _ask_stripe_about(charge, new_uow, gateway, clock):
            settled += 1
    return settled


def _ask_stripe_about(
    charge: Charge, new_uow: Callable[[], UnitOfWork], gateway: PaymentGateway, clock: Clock
) -> bool:
    """The event id names the intent and what Stripe says of it, so each is acted on once."""
    assert charge.intent_id is not None
    try:
        state = gateway.intent(charge.intent_id)
        kind = state.outcome
        return act_on_stripe_state(f"check_{state.intent_id}_{kind}", kind, state, new_uow(), clock)
    except Exception:  # Stripe or the database is away, or Stripe's object is not our charge
        log.warning("asking Stripe about %s failed", charge.intent_id, exc_info=True)
        return False
