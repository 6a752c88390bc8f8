"""Customer commands: phones stored as E.164, payment terms named or custom, exemptions."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from services.jobs.domain.model import resolve_payment_terms
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


@pytest.mark.parametrize(
    ("terms", "days", "stored"),
    [
        (None, None, ("due_on_receipt", 0)),
        ("net_30", None, ("net_30", 30)),
        ("net_60", 60, ("net_60", 60)),
        (None, 45, ("net_45", 45)),
        (None, 20, ("custom", 20)),
        ("custom", 10, ("custom", 10)),
    ],
)
def test_payment_terms_are_named_or_custom(terms: Any, days: Any, stored: Any) -> None:
    cmd = CreateCustomer(
        name="Pat", billing_address=ADDRESS, payment_terms=terms, payment_terms_days=days
    )
    assert resolve_payment_terms(cmd.payment_terms, cmd.payment_terms_days) == stored


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"payment_terms": "custom"}, "payment_terms_days"),
        ({"payment_terms": "net_30", "payment_terms_days": 45}, "payment_terms_days"),
        ({"payment_terms": "net_90"}, "payment_terms"),
        ({"tax_exempt": True}, "tax_exemption_certificate"),
        ({"customer_type": "landlord"}, "customer_type"),
    ],
)
def test_inconsistent_terms_type_or_exemption_name_the_field(
    body: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        CreateCustomer(name="Pat", billing_address=ADDRESS, **body)
    assert [e["loc"] for e in caught.value.errors()] == [(field,)]
