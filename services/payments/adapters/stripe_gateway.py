"""The Stripe adapter: the official SDK only. In development it points at localstripe (the same
requests, another base address)."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from typing import Any

import stripe

from services.payments.service_layer.gateway import (
    BadSignature,
    BankDebit,
    CardDeclined,
    Intent,
    IntentState,
    MalformedWebhook,
    Mandate,
    PaymentGateway,
    PaymentMethodRefused,
    SavedCard,
    UnknownToStripe,
    WebhookNotice,
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
DISPUTE_EVENTS = frozenset({"charge.dispute.created"})
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
        except stripe.InvalidRequestError as exc:  # an unknown or unusable payment method
            log.warning("Stripe refused a payment method: %s", exc.user_message or exc)
            raise PaymentMethodRefused(
                "This card could not be used. Check its details or try another card."
            ) from exc
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
    def intent(self, intent_id: str) -> IntentState:
        try:
            intent = self.client.v1.payment_intents.retrieve(intent_id).to_dict()
        except stripe.InvalidRequestError as exc:
            raise UnknownToStripe(intent_id) from exc
        return _intent_state(intent, "retrieved")

    @provider_call("stripe", "retrieve_dispute")
    def disputed_intent(self, dispute_id: str) -> tuple[str, str]:
        try:
            dispute = self.client.v1.disputes.retrieve(dispute_id).to_dict()
        except stripe.InvalidRequestError as exc:
            raise UnknownToStripe(dispute_id) from exc
        return str(dispute.get("payment_intent") or ""), str(dispute.get("reason") or "")

    def verify(self, payload: bytes, signature: str) -> WebhookNotice | None:
        try:
            stripe.WebhookSignature.verify_header(
                payload.decode("utf-8"), signature, self.webhook_secret, WEBHOOK_TOLERANCE_SECONDS
            )
            event = json.loads(payload)
        except (ValueError, UnicodeDecodeError, stripe.SignatureVerificationError) as exc:
            raise BadSignature(str(exc)) from exc
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            raise MalformedWebhook("type", "missing")
        if event["type"] not in PAYMENT_INTENT_EVENTS | DISPUTE_EVENTS:
            return None
        body = _object_of(event)
        if event["type"] in DISPUTE_EVENTS:
            return _dispute_notice(event, body)
        claimed = _intent_state(body, "data.object")
        return WebhookNotice(_text(event, "id"), event["type"], _with_account(claimed, event))


def _object_of(event: dict[str, Any]) -> dict[str, Any]:
    data = event.get("data")
    body = data.get("object") if isinstance(data, dict) else None
    if not isinstance(body, dict):
        raise MalformedWebhook("data.object", "missing")
    return body


def _dispute_notice(event: dict[str, Any], dispute: dict[str, Any]) -> WebhookNotice:
    claimed = IntentState(
        intent_id=_text(dispute, "payment_intent"),
        status="disputed",
        amount_cents=_cents(dispute, "amount"),
        amount_received_cents=0,
        currency=_text(dispute, "currency"),
        metadata={},
    )
    return WebhookNotice(
        _text(event, "id"),
        event["type"],
        _with_account(claimed, event),
        dispute_id=_text(dispute, "id"),
    )


def _with_account(claimed: IntentState, event: dict[str, Any]) -> IntentState:
    account = event.get("account")
    if account is None:
        return claimed
    return replace(claimed, account=str(account))


def _intent_state(intent: dict[str, Any], where: str) -> IntentState:
    """What an intent's JSON says; MalformedWebhook naming the field when it cannot be read."""
    error = intent.get("last_payment_error") or {}
    metadata = intent.get("metadata") or {}
    if not isinstance(error, dict) or not isinstance(metadata, dict):
        raise MalformedWebhook(f"{where}.metadata", "not an object")
    return IntentState(
        intent_id=_text(intent, "id"),
        status=_text(intent, "status"),
        amount_cents=_cents(intent, "amount"),
        amount_received_cents=int(intent.get("amount_received") or 0),
        currency=_text(intent, "currency").upper(),
        metadata={str(k): str(v) for k, v in metadata.items()},
        failure=str(error.get("message") or ""),
    )


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise MalformedWebhook(name, "missing")
    return value


def _cents(body: dict[str, Any], name: str) -> int:
    value = body.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise MalformedWebhook(name, "missing or not a whole number of cents")
    return value
