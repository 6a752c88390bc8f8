"""No endpoint returns or changes another shop's data. The routes come from the service's own
OpenAPI document, so a new route is covered (or this test fails asking for a body example)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.api import Api, address, create_customer, create_job, job_body
from tests.support.platform import RunningPlatform

pytestmark = pytest.mark.e2e
BODIES: dict[str, dict[str, Any]] = {
    "AddServiceLocation": {"name": "Unit 9", "address": address(9)},
    "AddLineItem": {
        "description": "Valve",
        "quantity": "1",
        "unit_price_cents": 100,
        "added_by": "Mallory",
    },
    "AddLaborEntry": {
        "technician": "Mallory",
        "hours": "1",
        "hourly_rate_cents": 100,
        "added_by": "Mallory",
    },
}


def body_for(operation: dict[str, Any]) -> dict[str, Any] | None:
    if "requestBody" not in operation:
        return None
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    name = ref.rsplit("/", 1)[-1]
    assert name in BODIES, f"add a valid example body for {name} to this test"
    return BODIES[name]


def test_no_jobs_endpoint_reaches_another_shops_data(module_platform: RunningPlatform) -> None:
    url = module_platform.url("jobs-web")
    mine, theirs = Api(url, "shop-owner"), Api(url, "shop-intruder")
    customer = create_customer(mine, name="Owner's customer")
    job = create_job(mine, customer)
    before = mine.get(f"/jobs/{job}").json()
    ids = {"customer_id": customer, "job_id": job}

    spec = mine.session.get(url + "/openapi.json", timeout=10).json()
    probed = 0
    for path, operations in spec["paths"].items():
        if "{" not in path:
            continue
        concrete = path.format(**ids)
        for method, operation in operations.items():
            response = theirs.session.request(
                method, url + concrete, json=body_for(operation), timeout=10
            )
            assert response.status_code == 404, f"{method.upper()} {path}: {response.text}"
            probed += 1
    assert probed >= 9

    assert theirs.get("/customers").json()["items"] == []
    assert theirs.get("/jobs").json()["items"] == []
    refused = theirs.post("/jobs", job_body(customer))
    assert refused.status_code == 422
    assert mine.get(f"/jobs/{job}").json() == before  # nothing changed
    assert mine.get(f"/customers/{customer}/locations").json()["items"] == []
