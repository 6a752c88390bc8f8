"""Response models of the payments API."""

from __future__ import annotations

from dataclasses import asdict

from pydantic import BaseModel

from services.payments.domain.ledger import Charge


class PaymentStarted(BaseModel):
    charge_id: str
    client_secret: str
    amount_cents: int
    method: str
    status: str
    publishable_key: str


class PaymentOut(BaseModel):
    charge_id: str
    invoice_id: str
    amount_cents: int
    method: str
    status: str
    refunded_cents: int
    intent_id: str | None

    @classmethod
    def of(cls, charge: Charge) -> PaymentOut:
        return cls.model_validate(asdict(charge))


class PaymentList(BaseModel):
    items: list[PaymentOut]


class CardSetup(BaseModel):
    client_secret: str


class StripeWebhookEvent(BaseModel):
    """What Stripe posts to the webhook (only its signature makes it trusted)."""

    id: str
    type: str
    data: dict[str, object]
