"""Commands the payments API accepts, validated at the boundary (pydantic)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StartPayment(Command):
    attempt: str = Field(
        pattern=r"^[0-9a-f]{32}$",
        description="The attempt id the page was rendered with (a retried click reuses it)",
    )
    amount_cents: int = Field(gt=0, le=100_000_000)
    method: Literal["card", "ach"]
    payment_method: str | None = Field(
        default=None,
        pattern=r"^pm_[A-Za-z0-9_]{1,200}$",
        description="The PaymentMethod Stripe.js made from the card; confirmed on the server",
    )


class Refund(Command):
    amount_cents: int = Field(gt=0, le=100_000_000)
    reason: str = Field(default="", max_length=500)
