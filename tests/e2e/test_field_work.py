"""Technicians add items and labor in the field; JobClosed carries exactly what was entered."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from tests.support.api import Api, close_job, create_customer, create_job
from tests.support.platform import RunningPlatform
from tests.support.topics import read_all

pytestmark = pytest.mark.e2e


def test_items_and_labor_added_in_the_field_reach_job_closed(
    platform: RunningPlatform, service_env: dict[str, str]
) -> None:
    jobs = Api(platform.url("jobs-web"), "shop-a")
    job = create_job(jobs, create_customer(jobs))
    assert jobs.post(f"/jobs/{job}/start").status_code == 200
    item = {
        "description": "Condensate pump",
        "quantity": "1",
        "unit_price_cents": 14950,
        "taxable": True,
        "tax_rate_percent": "8.25",
        "added_by": "Luis Ortega",
    }
    added = jobs.post(f"/jobs/{job}/items", item)
    assert added.status_code == 200, added.text
    labor = {
        "technician": "Luis Ortega",
        "hours": "0.75",
        "hourly_rate_cents": 12500,
        "added_by": "Luis Ortega",
    }
    assert jobs.post(f"/jobs/{job}/labor", labor).status_code == 200
    close_job(jobs, job)

    (event,) = read_all(service_env["KAFKA_BOOTSTRAP_SERVERS"], "JobClosed", expect_at_least=1)
    value = json.loads(event.value or b"")
    field_items = [i for i in value["line_items"] if i["added_by"]]
    entered = [
        (
            i["description"],
            Decimal(i["quantity"]),
            i["unit_price_cents"],
            Decimal(i["tax_rate_percent"]),
        )
        for i in field_items
    ]
    assert entered == [("Condensate pump", Decimal("1"), 14950, Decimal("8.25"))]
    assert field_items[0]["added_at"]
    assert len(value["line_items"]) == 3  # two from the job, one from the field
    field_labor = [e for e in value["labor"] if e["added_by"]]
    assert [(e["technician"], Decimal(e["hours"])) for e in field_labor] == [
        ("Luis Ortega", Decimal("0.75"))
    ]

    late = jobs.post(f"/jobs/{job}/items", item)
    assert late.status_code == 409 and late.json()["error"] == "job_already_closed"
    negative = jobs.post(f"/jobs/{job}/items", {**item, "quantity": "-1"})
    assert negative.status_code == 422
