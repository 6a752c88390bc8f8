"""The Stripe adapter: the official SDK only. In development it points at localstripe (the same
requests, another base address)."""

from __future__ import annotations

import json
import logging
from typing import Any

import stripe

from services.payments.service_layer.gateway import (
    BadSignature,
    BankDebit,
    CardDeclined,
    Intent,
    Mandate,
    PaymentGateway,
    SavedCard,
    StripeEvent,
)
from shared.contracts import CustomerSnapshot, PaymentMethod
from shared.metrics import provider_call

log = logging.getLogger(__name__)
WEBHOOK_TOLERANCE_SECONDS = 300
"""A signed webhook older than this is refused (a replayed capture)."""
PAYMENT_INTENT_EVENTS = frozenset(
    {
        "payment_intent.processing",
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
    }
)
METHOD_TYPES: dict[PaymentMethod, str] = {"card": "card", "ach": "us_bank_account"}


def ach_debit(bank: BankDebit, mandate: Mandate) -> dict[str, Any]:
    """A PaymentIntent confirmed with a bank account entered by hand and the customer's online
    mandate, as Stripe's API reference documents ``payment_method_data`` and ``mandate_data``."""
    return {
        "confirm": True,
        "payment_method_data": {
            "type": "us_bank_account",
            "us_bank_account": {
                "account_holder_type": bank.account_holder_type,
                "routing_number": bank.routing_number,
                "account_number": bank.account_number,
            },
            "billing_details": {"name": bank.account_holder_name},
        },
        "mandate_data": {
            "customer_acceptance": {
                "type": "online",
                "online": {"ip_address": mandate.ip_address, "user_agent": mandate.user_agent},
            }
        },
    }


STRIPE_TIMEOUT = (5.0, 30.0)
"""Connect and read timeouts of a call to Stripe (the library's default is 80 s: a customer's
Pay would hold a web thread that long for a Stripe that does not answer)."""
STRIPE_RETRIES = 2
"""A call that met a network error or a 409/5xx is sent again, with the same idempotency key
(ours, or one the library makes for a post without one): Stripe acts on it once."""


class StripeGateway(PaymentGateway):
    def __init__(self, api_key: str, webhook_secret: str, api_base: str | None = None) -> None:
        bases = {"api": api_base} if api_base else {}
        self.client = stripe.StripeClient(
            api_key,
            base_addresses=bases,  # type: ignore[arg-type]
            http_client=stripe.RequestsClient(timeout=STRIPE_TIMEOUT),
            max_network_retries=STRIPE_RETRIES,
        )
        self.webhook_secret = webhook_secret

    @provider_call("stripe", "customer_for")
    def customer_for(self, shop_id: str, customer: CustomerSnapshot) -> str:
        params: dict[str, Any] = {
            "name": customer.name,
            "metadata": {"shop": shop_id, "customer": customer.customer_id},
        }
        if customer.email:
            params["email"] = customer.email
        created = self.client.v1.customers.create(
            params=params,  # type: ignore[arg-type]
            options={"idempotency_key": f"customer:{shop_id}:{customer.customer_id}"},
        )
        return str(created.id)

    @provider_call("stripe", "create_intent")
    def create_intent(
        self,
        *,
        amount_cents: int,
        currency: str,
        method: PaymentMethod,
        customer_ref: str,
        metadata: dict[str, str],
        idempotency_key: str,
        payment_method_ref: str | None = None,
        bank: BankDebit | None = None,
        mandate: Mandate | None = None,
    ) -> Intent:
        params: dict[str, Any] = {
            "amount": amount_cents,
            "currency": currency.lower(),
            "customer": customer_ref,
            "payment_method_types": [METHOD_TYPES[method]],
            "metadata": metadata,
        }
        if payment_method_ref:
            params |= {"payment_method": payment_method_ref, "confirm": True}
        if bank is not None and mandate is not None:
            params |= ach_debit(bank, mandate)
        try:
            intent = self.client.v1.payment_intents.create(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": idempotency_key},
            )
        except stripe.CardError as exc:
            raise CardDeclined(exc.user_message or "the card was declined") from exc
        return Intent(str(intent.id), str(intent.client_secret), str(intent.status))

    @provider_call("stripe", "create_setup")
    def create_setup(self, customer_ref: str, idempotency_key: str) -> str:
        setup = self.client.v1.setup_intents.create(
            params={"customer": customer_ref, "payment_method_types": ["card"]},  # type: ignore[arg-type]
            options={"idempotency_key": idempotency_key},
        )
        return str(setup.client_secret)

    @provider_call("stripe", "card_of")
    def card_of(self, payment_method_ref: str) -> SavedCard:
        method = self.client.v1.payment_methods.retrieve(payment_method_ref)
        card = method.card
        brand = str(getattr(card, "brand", "card") or "card") if card else "card"
        last4 = str(getattr(card, "last4", "") or "") if card else ""
        return SavedCard(payment_method_ref, brand, last4)

    @provider_call("stripe", "forget_card")
    def forget_card(self, payment_method_ref: str) -> None:
        """Best effort: the payment went through; a card left attached is never offered (only
        cards saved on purpose are)."""
        try:
            self.client.v1.payment_methods.detach(payment_method_ref)
        except stripe.StripeError:
            log.warning("could not detach an unsaved card", exc_info=True)

    @provider_call("stripe", "refund")
    def refund(self, intent_id: str, amount_cents: int, idempotency_key: str) -> str:
        refund = self.client.v1.refunds.create(
            params={"payment_intent": intent_id, "amount": amount_cents},
            options={"idempotency_key": idempotency_key},
        )
        return str(refund.id)

    @provider_call("stripe", "retrieve_intent")
    def state_of(self, intent_id: str) -> StripeEvent:
        intent = self.client.v1.payment_intents.retrieve(intent_id).to_dict()
        status = str(intent["status"])
        failed = status in ("requires_payment_method", "canceled") and intent.get(
            "last_payment_error"
        )
        said = "payment_failed" if failed else status
        return _event(f"check_{intent_id}_{said}", f"payment_intent.{said}", intent)

    def verify(self, payload: bytes, signature: str) -> StripeEvent | None:
        try:
            stripe.WebhookSignature.verify_header(
                payload.decode("utf-8"), signature, self.webhook_secret, WEBHOOK_TOLERANCE_SECONDS
            )
            event = json.loads(payload)
        except (ValueError, UnicodeDecodeError, stripe.SignatureVerificationError) as exc:
            raise BadSignature(str(exc)) from exc
        if event["type"] not in PAYMENT_INTENT_EVENTS:
            return None
        return _event(str(event["id"]), str(event["type"]), event["data"]["object"])


def _event(event_id: str, kind: str, intent: dict[str, Any]) -> StripeEvent:
    error = intent.get("last_payment_error") or {}
    return StripeEvent(
        event_id=event_id,
        event_type=kind,
        intent_id=str(intent["id"]),
        amount_cents=int(intent.get("amount_received") or intent["amount"]),
        metadata={str(k): str(v) for k, v in (intent.get("metadata") or {}).items()},
        failure=str(error.get("message") or ""),
    )
