"""The jobs service's whole story over HTTP and the broker: pricebook and tax rates, a property
manager's location, a job worked in the field, closed, reopened, closed again; an estimate
approved. What reaches the topics is exactly what was entered."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from shared import contracts
from tests.support.api import Api, address, create_customer
from tests.support.platform import RunningPlatform, wait_for
from tests.support.topics import Message, publish, read_all

pytestmark = pytest.mark.e2e


def created(response: Any) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


def event_values(messages: list[Message]) -> list[dict[str, Any]]:
    return [json.loads(m.value or b"") for m in messages]


def shop_setup(jobs: Api) -> dict[str, str]:
    county = created(jobs.post("/tax-rates", {"name": "Fresno County", "percent": "8.35"}))
    city = created(jobs.post("/tax-rates", {"name": "Clovis city", "percent": "7.975"}))
    heater = created(
        jobs.post(
            "/pricebook/items",
            {"name": "50 gal water heater", "sku": "WH-50", "unit_price_cents": 129900},
        )
    )
    permit = created(
        jobs.post(
            "/pricebook/items", {"name": "Permit", "unit_price_cents": 7500, "taxable": False}
        )
    )
    assert county["is_default"] and not city["is_default"]
    return {
        "county": county["tax_rate_id"],
        "city": city["tax_rate_id"],
        "heater": heater["item_id"],
        "permit": permit["item_id"],
    }


def test_a_job_from_pricebook_to_job_closed_then_reopened_and_closed_again(
    platform: RunningPlatform, service_env: dict[str, str]
) -> None:
    bootstrap = service_env["KAFKA_BOOTSTRAP_SERVERS"]
    jobs = Api(platform.url("jobs-web"), "shop-a")
    invoicing = Api(platform.url("invoicing-web"), "shop-a")
    ids = shop_setup(jobs)
    manager = create_customer(
        jobs,
        name="Valley Property Management",
        customer_type="property_manager",
        phone="(559) 555-0123",
        payment_terms="net_30",
    )
    unit = created(
        jobs.post(f"/customers/{manager}/locations", {"name": "Unit 4B", "address": address(44)})
    )
    job = created(
        jobs.post(
            "/jobs",
            {
                "customer_id": manager,
                "service_location_id": unit["location_id"],
                "technicians": ["Luis Ortega", "Ana Silva"],
                "line_items": [{"pricebook_item_id": ids["heater"], "quantity": "1"}],
            },
        )
    )["job_id"]
    assert created(jobs.post(f"/jobs/{job}/start"))["status"] == "in_progress"
    field_lines = [
        {"pricebook_item_id": ids["permit"], "quantity": "1", "added_by": "Luis Ortega"},
        {
            "description": "Expansion tank",
            "quantity": "2",
            "unit_price_cents": 6400,
            "tax_rate_id": ids["city"],
            "added_by": "Luis Ortega",
        },
    ]
    for line in field_lines:
        created(jobs.post(f"/jobs/{job}/items", line))
    created(
        jobs.post(
            f"/jobs/{job}/labor",
            {
                "technician": "Luis Ortega",
                "hours": "3",
                "hourly_rate_cents": 12500,
                "added_by": "Luis",
            },
        )
    )
    created(
        jobs.post(
            f"/jobs/{job}/labor",
            {
                "technician": "Ana Silva",
                "hours": "1.5",
                "flat_amount_cents": 9900,
                "added_by": "Ana",
            },
        )
    )
    created(jobs.post(f"/jobs/{job}/notes", {"author": "Luis Ortega", "text": "Gate code 4411"}))
    assert created(jobs.post(f"/jobs/{job}/close"))["closings"] == 1
    second = jobs.post(f"/jobs/{job}/close")
    assert second.status_code == 409 and second.json()["error"] == "job_already_closed"

    (closed,) = event_values(read_all(bootstrap, "JobClosed", expect_at_least=1))
    assert closed["closing"] == 1
    assert closed["service_location_id"] == unit["location_id"]
    assert closed["service_address"]["line1"] == "44 Elm St"
    assert closed["customer"]["customer_type"] == "property_manager"
    assert closed["customer"]["phone"] == "+15595550123"
    assert closed["customer"]["payment_terms"] == "net_30"
    assert closed["customer"]["billing_address"]["line1"] == "9 Elm St"
    lines = [
        (
            i["description"],
            Decimal(i["quantity"]),
            i["unit_price_cents"],
            i["taxable"],
            Decimal(i["tax_rate_percent"]),
            i["tax_rate_name"],
            i["pricebook_item_id"],
            i["added_by"],
        )
        for i in closed["line_items"]
    ]
    assert lines == [
        (
            "50 gal water heater",
            Decimal(1),
            129900,
            True,
            Decimal("8.35"),
            "Fresno County",
            ids["heater"],
            None,
        ),
        ("Permit", Decimal(1), 7500, False, Decimal(0), None, ids["permit"], "Luis Ortega"),
        (
            "Expansion tank",
            Decimal(2),
            6400,
            True,
            Decimal("7.975"),
            "Clovis city",
            None,
            "Luis Ortega",
        ),
    ]
    labor = [
        (e["technician"], Decimal(e["hours"]), e["hourly_rate_cents"], e["flat_amount_cents"])
        for e in closed["labor"]
    ]
    assert labor == [("Luis Ortega", 3, 12500, None), ("Ana Silva", Decimal("1.5"), 0, 9900)]
    assert closed["technicians"] == ["Luis Ortega", "Ana Silva"]
    assert [(n["author"], n["text"]) for n in closed["notes"]] == [
        ("Luis Ortega", "Gate code 4411")
    ]
    assert {(r["name"], r["is_default"]) for r in closed["tax_rates"]} == {
        ("Fresno County", True),
        ("Clovis city", False),
    }

    def invoice() -> dict[str, Any]:
        found = invoicing.get("/invoices", job_id=job).json()["items"]
        return dict(found[0]) if found else {}

    wait_for(lambda: invoice().get("status") == "draft", 20, "the first draft")
    first_total = invoice()["total_cents"]

    reopened = created(jobs.post(f"/jobs/{job}/reopen", {"reason": "forgot the haul-away"}))
    assert (reopened["status"], reopened["closed_at"]) == ("in_progress", None)
    wait_for(lambda: invoice().get("status") == "withdrawn", 20, "the draft withdrawn")
    created(
        jobs.post(
            f"/jobs/{job}/items",
            {
                "description": "Haul away old heater",
                "quantity": "1",
                "unit_price_cents": 5000,
                "added_by": "Luis Ortega",
            },
        )
    )
    assert created(jobs.post(f"/jobs/{job}/close"))["closings"] == 2
    wait_for(lambda: invoice().get("status") == "draft", 20, "the redraft")
    assert invoice()["total_cents"] > first_total

    (reopening,) = event_values(read_all(bootstrap, "JobReopened", expect_at_least=1))
    assert (reopening["job_id"], reopening["reopens_closing"]) == (job, 1)
    assert reopening["reason"] == "forgot the haul-away"
    closings = event_values(read_all(bootstrap, "JobClosed", expect_at_least=2))
    assert [c["closing"] for c in closings] == [1, 2]
    assert len(closings[1]["line_items"]) == 4

    _publish_invoice_sent(bootstrap, "shop-a", job)
    wait_for(lambda: jobs.get(f"/jobs/{job}").json()["invoice_sent"], 20, "jobs learns it was sent")
    late = jobs.post(f"/jobs/{job}/reopen")
    assert late.status_code == 409 and late.json()["error"] == "invoice_already_sent"
    assert len(read_all(bootstrap, "JobReopened", expect_at_least=1)) == 1


def _publish_invoice_sent(bootstrap: str, shop: str, job_id: str) -> None:
    """What invoicing will publish when staff press Send (issue 4)."""
    event = contracts.InvoiceSent(
        invoice_id="inv-e2e",
        shop_id=shop,
        job_id=job_id,
        invoice_number="INV-2026-000001",
        sent_at=datetime.now(UTC),
        due_date=date(2026, 12, 25),
        customer=contracts.CustomerSnapshot(
            customer_id="c",
            name="Valley Property Management",
            billing_address=contracts.Address(
                line1="9 Elm St", city="Fresno", region="CA", postal_code="93701"
            ),
            payment_terms_days=30,
        ),
        service_address=contracts.Address(
            line1="44 Elm St", city="Fresno", region="CA", postal_code="93701"
        ),
        lines=[],
        totals=contracts.InvoiceTotals(subtotal_cents=0, tax_cents=0, total_cents=0),
        allowed_payment_methods=["card", "ach"],
        pay_url="http://localhost/p/token",
    )
    publish(bootstrap, event, shop)


def test_an_approved_estimate_reaches_the_topic_once_with_its_lines_and_customer(
    module_platform: RunningPlatform, module_settings: Any
) -> None:
    bootstrap = module_settings.kafka_bootstrap_servers
    jobs = Api(module_platform.url("jobs-web"), "shop-est")
    ids = shop_setup(jobs)
    customer = create_customer(jobs, name="Dana Reyes", email="dana@example.com")
    estimate = created(
        jobs.post(
            "/estimates",
            {
                "customer_id": customer,
                "service_address": address(7),
                "line_items": [{"pricebook_item_id": ids["heater"], "quantity": "1"}],
                "labor": [{"technician": "Ana Silva", "hours": "4", "flat_amount_cents": 45000}],
                "notes": "Price holds 30 days",
            },
        )
    )
    estimate_id = estimate["estimate_id"]
    assert estimate["status"] == "draft"
    created(
        jobs.post(
            f"/estimates/{estimate_id}/items",
            {"description": "Drain pan", "quantity": "1", "unit_price_cents": 3500},
        )
    )
    assert created(jobs.post(f"/estimates/{estimate_id}/send"))["status"] == "sent"
    approved = created(
        jobs.post(f"/estimates/{estimate_id}/approve", {"approved_by": "Dana Reyes"})
    )
    assert approved["status"] == "approved" and approved["approved_by"] == "Dana Reyes"
    again = jobs.post(f"/estimates/{estimate_id}/approve", {"approved_by": "Dana Reyes"})
    assert again.status_code == 409 and again.json()["error"] == "estimate_already_decided"
    listed = jobs.get("/estimates", status="approved").json()["items"]
    assert [e["estimate_id"] for e in listed] == [estimate_id]

    messages = read_all(bootstrap, "EstimateApproved", expect_at_least=1)
    (value,) = [v for v in event_values(messages) if v["estimate_id"] == estimate_id]
    assert messages[0].headers["ce_tenant"] == "shop-est"
    assert value["approved_by"] == "Dana Reyes" and value["notes"] == "Price holds 30 days"
    assert value["customer"]["name"] == "Dana Reyes"
    assert value["customer"]["email"] == "dana@example.com"
    assert value["service_address"]["line1"] == "7 Elm St"
    assert [
        (i["description"], i["unit_price_cents"], i["tax_rate_name"]) for i in value["line_items"]
    ] == [("50 gal water heater", 129900, "Fresno County"), ("Drain pan", 3500, "Fresno County")]
    assert [(e["technician"], e["flat_amount_cents"]) for e in value["labor"]] == [
        ("Ana Silva", 45000)
    ]
