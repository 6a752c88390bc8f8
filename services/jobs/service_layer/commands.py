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


TaxRate = Annotated[Decimal, Field(ge=0, le=100, decimal_places=4), _scale(4)]


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


class LineItemIn(Command):
    description: Text
    quantity: Annotated[Decimal, Field(gt=0, le=100000, max_digits=12, decimal_places=3), _scale(3)]
    unit_price_cents: int = Field(ge=0, le=100_000_000)
    taxable: bool = True
    tax_rate_percent: TaxRate = Decimal(0)


class LaborEntryIn(Command):
    technician: Text
    hours: Annotated[Decimal, Field(gt=0, le=1000, max_digits=8, decimal_places=2), _scale(2)]
    hourly_rate_cents: int = Field(ge=0, le=10_000_000)
    taxable: bool = False
    tax_rate_percent: TaxRate = Decimal(0)


class AddLineItem(LineItemIn):
    """A line a technician adds in the field."""

    added_by: Text


class AddLaborEntry(LaborEntryIn):
    added_by: Text


class AddServiceLocation(Command):
    name: Text = Field(
        description="How the office calls the place, e.g. 'Unit 4B' or 'Main office'"
    )
    address: AddressIn


class CreateJob(Command):
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


class CloseJob(Command):
    job_id: Text
