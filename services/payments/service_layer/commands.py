"""Commands the payments API accepts, validated at the boundary (pydantic)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BankAccountIn(Command):
    account_holder_name: str = Field(min_length=1, max_length=200)
    routing_number: str = Field(pattern=r"^[0-9]{9}$")
    account_number: str = Field(pattern=r"^[0-9]{4,17}$")
    account_holder_type: Literal["individual", "company"] = "individual"


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
    bank: BankAccountIn | None = Field(default=None, description="For ACH: the account to debit")
    save_card: bool = Field(default=False, description="Keep the card for future jobs")
    saved_card: str | None = Field(
        default=None,
        pattern=r"^pm_[A-Za-z0-9_]{1,200}$",
        description="Pay with one of the customer's saved cards (one click)",
    )
    mandate_accepted: bool = Field(
        default=False, description="For ACH: the customer authorized the debit on the page"
    )

    @model_validator(mode="after")
    def _what_each_method_needs(self) -> StartPayment:
        if self.method == "ach" and (self.bank is None or not self.mandate_accepted):
            raise ValueError("a bank debit needs the bank account and the accepted mandate")
        if self.method == "card" and self.bank is not None:
            raise ValueError("a card payment takes no bank account")
        return self


class StartCardSetup(Command):
    attempt: str = Field(pattern=r"^[0-9a-f]{32}$")


class Refund(Command):
    amount_cents: int = Field(gt=0, le=100_000_000)
    reason: str = Field(default="", max_length=500)
    kind: Literal["credit", "money_back"] = Field(
        default="credit",
        description=(
            "credit (default): the invoice asks for less by the refund; money_back: the money goes"
            " back and the invoice is owed again (a payment taken on the wrong invoice)"
        ),
    )
