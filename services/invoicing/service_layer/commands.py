"""Commands the invoicing API accepts, validated at the boundary (pydantic)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.contracts import Address, CustomerSnapshot
from shared.plain_numbers import PlainDecimal

Text = Annotated[str, Field(min_length=1, max_length=500)]
Quantity = Annotated[Decimal, PlainDecimal, Field(gt=0, le=100000, max_digits=12, decimal_places=3)]
Price = Annotated[int, Field(ge=0, le=100_000_000)]
Rate = Annotated[Decimal, PlainDecimal, Field(ge=0, le=100, max_digits=7, decimal_places=4)]


class Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LineIn(Command):
    description: Text
    quantity: Quantity
    unit_price_cents: Price
    taxable: bool = True
    tax_rate_percent: Rate = Decimal(0)
    tax_rate_name: Annotated[str, Field(max_length=100)] | None = None


class LineChange(Command):
    """Only the fields given change; the amounts are computed again."""

    description: Text | None = None
    quantity: Quantity | None = None
    unit_price_cents: Price | None = None
    taxable: bool | None = None
    tax_rate_percent: Rate | None = None
    tax_rate_name: Annotated[str, Field(max_length=100)] | None = None


class CreateInvoice(Command):
    """+ New Invoice for one-off charges. The customer is as the office picked it (the staff
    app reads it from jobs); the amounts are computed here."""

    customer: CustomerSnapshot
    service_address: Address
    lines: list[LineIn] = Field(default_factory=list, max_length=500)


class InvoiceFromEstimate(Command):
    estimate_id: Text
    again: bool = Field(
        default=False, description="Make another invoice even if the estimate already has one"
    )


class ChangeAddress(Command):
    address: Address


class SetPaymentMethods(Command):
    methods: list[Literal["card", "ach"]] = Field(min_length=1, max_length=2)


class SetDueDate(Command):
    due_date: date | None = Field(description="null: back to the customer's payment terms")


class AddNote(Command):
    text: Annotated[str, Field(min_length=1, max_length=5000)]


class VoidInvoice(Command):
    reason: str = Field(default="", max_length=500)


class ReplacePayLink(Command):
    reason: str = Field(
        default="", max_length=500, description="Why, in plain words (shown on the timeline)"
    )
    link_number: int | None = Field(
        default=None,
        ge=1,
        description="The link being revoked (the invoice's link_number): asked again once that"
        " link is replaced (a double click, a retry), nothing more is revoked",
    )


class UpdateSettings(Command):
    name: Annotated[str, Field(max_length=200)] = ""
    number_prefix: Annotated[str, Field(max_length=30, pattern=r"^[A-Za-z0-9{}_./#-]*$")] = (
        "INV-{year}-"
    )
    card_max_cents: int = Field(default=500_000, ge=0, le=10_000_000_00)
    logo_url: (
        Annotated[
            str,
            Field(
                max_length=400_000,
                pattern=r"^(https://|data:image/(png|jpeg);base64,)",
                description="A data URL (PNG or JPEG, embedded in PDFs) or an https address",
            ),
        ]
        | None
    ) = None
    color: str = Field(default="#1f6feb", pattern=r"^#[0-9a-fA-F]{6}$")
    time_zone: str = "America/Los_Angeles"

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("not an IANA time zone, e.g. America/Chicago") from exc
        return zone

    @field_validator("number_prefix")
    @classmethod
    def _only_year_placeholder(cls, prefix: str) -> str:
        if prefix.replace("{year}", "").count("{") or prefix.replace("{year}", "").count("}"):
            raise ValueError("the only placeholder is {year}")
        return prefix
