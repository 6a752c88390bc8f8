"""The Stripe adapter's answer when StripeCheck asks about a PaymentIntent (the ACH path over
localstripe): told as its webhook would tell it, with an event id that names the intent and what
Stripe says of it — so each answer is acted on once, and a failure is never mistaken for a
status seen before."""

from __future__ import annotations

import time

import pytest

from services.payments.adapters.stripe_gateway import StripeGateway
from services.payments.service_layer.gateway import BankDebit, Mandate, StripeEvent
from shared.settings import Settings

pytestmark = pytest.mark.integration
CLEARS, CLOSED = "000123456789", "000111111113"


def debit(gateway: StripeGateway, account: str, charge: str) -> str:
    intent = gateway.create_intent(
        amount_cents=2_500,
        currency="USD",
        method="ach",
        customer_ref="cus_state_of",
        metadata={"shop": "shop-1", "invoice": "inv-1", "charge": charge},
        idempotency_key=f"charge:{charge}",
        bank=BankDebit("Dana Reyes", "110000000", account),
        mandate=Mandate("203.0.113.7", "pytest"),
    )
    return intent.intent_id


def settled(gateway: StripeGateway, intent_id: str) -> StripeEvent:
    deadline = time.monotonic() + 20
    while (told := gateway.state_of(intent_id)).event_type == "payment_intent.processing":
        assert time.monotonic() < deadline, "the debit never cleared"
        time.sleep(0.2)
    return told


def test_a_debit_is_told_as_its_webhooks_would_tell_it(localstripe: str) -> None:
    settings = Settings()
    gateway = StripeGateway(settings.stripe_api_key, settings.stripe_webhook_secret, localstripe)
    cleared = debit(gateway, CLEARS, "state-of-cleared")
    clearing = gateway.state_of(cleared)
    assert (clearing.event_id, clearing.event_type) == (
        f"check_{cleared}_processing",
        "payment_intent.processing",
    )
    assert clearing.metadata["charge"] == "state-of-cleared" and clearing.amount_cents == 2_500
    paid = settled(gateway, cleared)
    assert (paid.event_id, paid.event_type) == (
        f"check_{cleared}_succeeded",
        "payment_intent.succeeded",
    )
    refused = settled(gateway, debit(gateway, CLOSED, "state-of-refused"))
    assert refused.event_type == "payment_intent.payment_failed"
    assert refused.event_id == f"check_{refused.intent_id}_payment_failed"
    assert "closed" in refused.failure
