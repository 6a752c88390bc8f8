"""Commands the jobs service accepts, validated at the boundary (pydantic)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

import phonenumbers
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    ValidationInfo,
    field_validator,
)

from services.jobs.domain.model import CustomerType, PaymentTerms, resolve_payment_terms
from shared.plain_numbers import PlainDecimal

Text = Annotated[str, Field(min_length=1, max_length=500)]


def _scale(places: int) -> AfterValidator:
    """Bring a decimal to at most ``places`` decimal places and no positive exponent.

    pydantic counts digits and places on the normalized value, so ``0E-1000000``, ``0E+1000000``
    and ``1.000…0`` with thousands of zeros all pass, yet PostgreSQL refuses to store them (its
    numeric exponent is bounded). Such values are quantized (exactly: the digits were checked); an
    ordinary ``2.5`` is kept as written."""
    step = Decimal(1).scaleb(-places)

    def tidy(value: Decimal) -> Decimal:
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and -places <= exponent <= 0:
            return value
        return value.quantize(step)

    return AfterValidator(tidy)


TaxRate = Annotated[Decimal, PlainDecimal, Field(ge=0, le=100, decimal_places=4), _scale(4)]


def _e164(text: str) -> str:
    """A mobile number as the office types it ("(415) 555-0101", "+44 20 7946 0958"), stored as
    E.164. Numbers without a country code are read as US numbers (the shops are in the US)."""
    try:
        number = phonenumbers.parse(text, DEFAULT_PHONE_REGION)
    except phonenumbers.NumberParseException as exc:
        raise ValueError("not a phone number") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


DEFAULT_PHONE_REGION = "US"
Phone = Annotated[str, Field(min_length=3, max_length=40), AfterValidator(_e164)]


class Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AddressIn(Command):
    line1: Text
    line2: str = Field(default="", max_length=500)
    city: Text
    region: Text
    postal_code: Annotated[str, Field(min_length=1, max_length=20)]
    country: str = Field(default="US", pattern=r"^[A-Z]{2}$")


class CreateCustomer(Command):
    name: Text
    customer_type: CustomerType = CustomerType.RESIDENTIAL
    email: EmailStr | None = None
    phone: Phone | None = None
    billing_address: AddressIn
    payment_terms: PaymentTerms | None = None
    payment_terms_days: int | None = Field(default=None, ge=0, le=365, validate_default=True)
    tax_exempt: bool = False
    tax_exemption_certificate: Annotated[str, Field(min_length=1, max_length=100)] | None = Field(
        default=None, validate_default=True
    )

    @field_validator("payment_terms_days")
    @classmethod
    def _terms_fit(cls, days: int | None, info: ValidationInfo) -> int:
        return resolve_payment_terms(info.data.get("payment_terms"), days)[1]

    @field_validator("tax_exemption_certificate")
    @classmethod
    def _certificate_when_exempt(cls, number: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("tax_exempt") and not number:
            raise ValueError("required when tax_exempt is true (the exemption certificate number)")
        return number


Price = Annotated[int, Field(ge=0, le=100_000_000)]
Quantity = Annotated[
    Decimal, PlainDecimal, Field(gt=0, le=100000, max_digits=12, decimal_places=3), _scale(3)
]
Hours = Annotated[
    Decimal, PlainDecimal, Field(gt=0, le=1000, max_digits=8, decimal_places=2), _scale(2)
]


def _one_rate(percent: Decimal | None, info: ValidationInfo) -> Decimal | None:
    if percent is not None and info.data.get("tax_rate_id") is not None:
        raise ValueError("give tax_rate_id or tax_rate_percent, not both")
    return percent


class LineItemIn(Command):
    """A line from the pricebook (``pricebook_item_id``; anything else given overrides the item)
    or a custom one (``description`` and ``unit_price_cents`` required). A taxable line without
    a rate takes the item's rate, else the shop's default rate."""

    pricebook_item_id: Text | None = None
    description: Text | None = Field(default=None, validate_default=True)
    quantity: Quantity
    unit_price_cents: Price | None = Field(default=None, validate_default=True)
    taxable: bool | None = None
    tax_rate_id: Text | None = None
    tax_rate_percent: TaxRate | None = None

    @field_validator("description", "unit_price_cents")
    @classmethod
    def _custom_lines_say_what_and_how_much(cls, value: object, info: ValidationInfo) -> object:
        if value is None and info.data.get("pricebook_item_id") is None:
            raise ValueError("required for a line not taken from the pricebook")
        return value

    _rate = field_validator("tax_rate_percent")(_one_rate)


class LaborEntryIn(Command):
    """Billed by the hour (``hourly_rate_cents``) or as a flat amount (``flat_amount_cents``)."""

    technician: Text
    hours: Hours
    hourly_rate_cents: int | None = Field(default=None, ge=0, le=10_000_000)
    flat_amount_cents: Price | None = Field(default=None, validate_default=True)
    taxable: bool = False
    tax_rate_id: Text | None = None
    tax_rate_percent: TaxRate | None = None

    @field_validator("flat_amount_cents")
    @classmethod
    def _hourly_or_flat(cls, flat: int | None, info: ValidationInfo) -> int | None:
        if (flat is None) == (info.data.get("hourly_rate_cents") is None):
            raise ValueError("give either hourly_rate_cents or flat_amount_cents (one of them)")
        return flat

    _rate = field_validator("tax_rate_percent")(_one_rate)


class AddLineItem(LineItemIn):
    """A line a technician adds in the field."""

    added_by: Text


class AddLaborEntry(LaborEntryIn):
    added_by: Text


class CreateTaxRate(Command):
    name: Text = Field(description="As printed on invoices, e.g. 'Fresno County 8.35%'")
    percent: TaxRate
    is_default: bool = Field(
        default=False, description="Taxable lines without a rate take the default rate"
    )


class CreatePricebookItem(Command):
    name: Text
    description: str = Field(default="", max_length=2000)
    sku: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    unit_price_cents: Price
    taxable: bool = True
    tax_rate_id: Text | None = None


class UpdatePricebookItem(Command):
    """Only the fields given change; lines already on jobs keep the price they were given."""

    name: Text | None = None
    description: str | None = Field(default=None, max_length=2000)
    sku: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    unit_price_cents: Price | None = None
    taxable: bool | None = None
    tax_rate_id: Text | None = None
    active: bool | None = Field(default=None, description="false archives the item")


Technicians = Annotated[list[Text], Field(max_length=20)]


class AssignTechnicians(Command):
    technicians: Technicians = Field(description="Replaces the job's technicians")


class AddNote(Command):
    author: Text
    text: Annotated[str, Field(min_length=1, max_length=5000)]


class ReopenJob(Command):
    reason: str = Field(default="", max_length=500)


class AddServiceLocation(Command):
    name: Text = Field(
        description="How the office calls the place, e.g. 'Unit 4B' or 'Main office'"
    )
    address: AddressIn


class WorkForCustomer(Command):
    """Work for a customer at one place, with its lines: what a job and an estimate share."""

    customer_id: Text
    service_location_id: Text | None = None
    service_address: AddressIn | None = Field(default=None, validate_default=True)
    line_items: list[LineItemIn] = Field(default_factory=list, max_length=500)
    labor: list[LaborEntryIn] = Field(default_factory=list, max_length=200)

    @field_validator("service_address")
    @classmethod
    def _one_place(cls, address: AddressIn | None, info: ValidationInfo) -> AddressIn | None:
        has_location = info.data.get("service_location_id") is not None
        if has_location == (address is not None):
            raise ValueError("give either service_location_id or service_address (not both)")
        return address


class CreateJob(WorkForCustomer):
    technicians: Technicians = Field(default_factory=list)


class CreateEstimate(WorkForCustomer):
    notes: str = Field(default="", max_length=5000, description="Shown to the customer")


class ApproveEstimate(Command):
    approved_by: Text = Field(description="Who said yes, e.g. the customer's name")


class DeclineEstimate(Command):
    reason: str = Field(default="", max_length=500)


class CloseJob(Command):
    job_id: Text
