"""The Stripe adapter reading an object back (what webhooks and StripeCheck act on), against
localstripe and the ACH front through the official SDK: an intent's state as Stripe holds it, an
intent Stripe never made, a signed webhook with parts missing, a payment method Stripe refuses."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest

from services.payments.adapters.stripe_gateway import StripeGateway
from services.payments.service_layer.gateway import (
    BankDebit,
    IntentState,
    MalformedWebhook,
    Mandate,
    PaymentMethodRefused,
    UnknownToStripe,
)
from shared.settings import Settings

pytestmark = pytest.mark.integration
CLEARS, CLOSED = "000123456789", "000111111113"


@pytest.fixture
def gateway(localstripe: str) -> StripeGateway:
    settings = Settings()
    return StripeGateway(settings.stripe_api_key, settings.stripe_webhook_secret, localstripe)


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


def settled(gateway: StripeGateway, intent_id: str) -> IntentState:
    deadline = time.monotonic() + 20
    while (held := gateway.intent(intent_id)).outcome == "payment_intent.processing":
        assert time.monotonic() < deadline, "the debit never cleared"
        time.sleep(0.2)
    return held


def test_an_intent_is_read_back_as_stripe_holds_it(gateway: StripeGateway) -> None:
    cleared = debit(gateway, CLEARS, "state-of-cleared")
    clearing = gateway.intent(cleared)
    assert clearing.outcome == "payment_intent.processing" and clearing.currency == "USD"
    assert clearing.metadata["charge"] == "state-of-cleared" and clearing.amount_cents == 2_500
    paid = settled(gateway, cleared)
    assert paid.outcome == "payment_intent.succeeded" and paid.amount_received_cents == 2_500
    refused = settled(gateway, debit(gateway, CLOSED, "state-of-refused"))
    assert refused.outcome == "payment_intent.payment_failed" and "closed" in refused.failure


def test_an_intent_stripe_never_made_is_unknown(gateway: StripeGateway) -> None:
    with pytest.raises(UnknownToStripe):
        gateway.intent("pi_never_made_0000")


def test_an_unknown_payment_method_is_refused_plainly(gateway: StripeGateway) -> None:
    customer = gateway.client.v1.customers.create(params={"name": "Dana"})
    with pytest.raises(PaymentMethodRefused, match="try another card"):
        gateway.create_intent(
            amount_cents=2_500,
            currency="USD",
            method="card",
            customer_ref=str(customer.id),
            metadata={"shop": "shop-1", "invoice": "inv-1", "charge": "unknown-pm"},
            idempotency_key="charge:unknown-pm",
            payment_method_ref="pm_does_not_exist_123",
        )


def signed(body: object, secret: str) -> tuple[bytes, str]:
    payload = json.dumps(body).encode()
    stamp = int(time.time())
    mac = hmac.new(secret.encode(), f"{stamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return payload, f"t={stamp},v1={mac}"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"id": "evt_1", "type": "payment_intent.succeeded"}, "data.object"),
        ({"id": "evt_1", "type": "payment_intent.succeeded", "data": {}}, "data.object"),
        (
            {"id": "evt_1", "type": "payment_intent.succeeded", "data": {"object": {"id": "pi_1"}}},
            "status",
        ),
        (
            {
                "id": "evt_1",
                "type": "payment_intent.succeeded",
                "data": {"object": {"id": "pi_1", "status": "succeeded", "currency": "usd"}},
            },
            "amount",
        ),
        ({"id": "evt_1"}, "type"),
        ([1, 2], "type"),
    ],
)
def test_a_signed_webhook_with_parts_missing_is_malformed(
    gateway: StripeGateway, body: object, field: str
) -> None:
    payload, signature = signed(body, gateway.webhook_secret)
    with pytest.raises(MalformedWebhook) as caught:
        gateway.verify(payload, signature)
    assert caught.value.field == field
