"""Customers' mobile numbers are validated with libphonenumber and stored as E.164."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from services.jobs.service_layer.commands import CreateCustomer

pytestmark = pytest.mark.unit
ADDRESS = {"line1": "1 Elm St", "city": "Fresno", "region": "CA", "postal_code": "93701"}


def customer(phone: Any) -> CreateCustomer:
    return CreateCustomer(name="Pat", phone=phone, billing_address=ADDRESS)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("(415) 555-0101", "+14155550101"),
        ("415.555.0101", "+14155550101"),
        ("+1 415 555 0101", "+14155550101"),
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
def test_numbers_are_stored_as_e164(typed: str, stored: str) -> None:
    assert customer(typed).phone == stored


@pytest.mark.parametrize("typed", ["555", "not a phone", "+1 000 000 0000", "12"])
def test_invalid_numbers_name_the_field(typed: str) -> None:
    with pytest.raises(ValidationError) as caught:
        customer(typed)
    (error,) = caught.value.errors()
    assert error["loc"] == ("phone",)
