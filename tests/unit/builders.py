"""Small builders of valid contracts and domain objects (shared by unit and integration tests)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from shared import contracts
from shared.envelope import Envelope

CLOSED_AT = datetime(2025, 3, 14, 15, 9, 26, tzinfo=UTC)


def address(line1: str = "1 Elm St", **overrides: Any) -> contracts.Address:
    fields: dict[str, Any] = {
        "line1": line1,
        "city": "Fresno",
        "region": "CA",
        "postal_code": "93701",
        **overrides,
    }
    return contracts.Address(**fields)


def customer_snapshot(**overrides: Any) -> contracts.CustomerSnapshot:
    fields: dict[str, Any] = {
        "customer_id": "cust-1",
        "name": "Pat Doe",
        "email": "pat@example.com",
        "phone": "+15595550100",
        "billing_address": address("9 Billing Rd"),
        "payment_terms_days": 30,
        "tax_exempt": False,
        **overrides,
    }
    return contracts.CustomerSnapshot(**fields)


def line_item(
    line_id: str = "li-1",
    quantity: str = "1",
    unit_price_cents: int = 129900,
    taxable: bool = True,
    rate: str = "7.25",
    description: str = "Water heater",
) -> contracts.JobLineItem:
    return contracts.JobLineItem(
        line_id=line_id,
        description=description,
        quantity=Decimal(quantity),
        unit_price_cents=unit_price_cents,
        taxable=taxable,
        tax_rate_percent=Decimal(rate),
    )


def labor_entry(
    entry_id: str = "lab-1",
    hours: str = "2.5",
    rate_cents: int = 11000,
    taxable: bool = False,
    rate: str = "0",
    technician: str = "Ana Silva",
) -> contracts.LaborEntry:
    return contracts.LaborEntry(
        entry_id=entry_id,
        technician=technician,
        hours=Decimal(hours),
        hourly_rate_cents=rate_cents,
        taxable=taxable,
        tax_rate_percent=Decimal(rate),
    )


def job_closed(
    job_id: str | None = None, shop_id: str = "shop-1", **overrides: Any
) -> contracts.JobClosed:
    fields: dict[str, Any] = {
        "job_id": job_id or str(uuid.uuid4()),
        "shop_id": shop_id,
        "closed_at": CLOSED_AT,
        "customer": customer_snapshot(),
        "service_address": address("2 Service Ave"),
        "line_items": [line_item()],
        "labor": [labor_entry()],
        **overrides,
    }
    return contracts.JobClosed(**fields)


def job_closed_envelope(
    event: contracts.JobClosed | None = None, *, tenant: str | None = None, **overrides: Any
) -> Envelope:
    event = event or job_closed()
    return Envelope(
        event=event,
        tenant=tenant if tenant is not None else event.shop_id,
        source="/services/jobs",
        correlation_id=overrides.pop("correlation_id", "corr-1"),
        **overrides,
    )
