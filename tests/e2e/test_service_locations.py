"""A property manager with several service locations: jobs at each, JobClosed carries the place."""

from __future__ import annotations

import json

import pytest

from tests.support.api import Api, address, close_job, create_customer, job_body
from tests.support.platform import RunningPlatform
from tests.support.topics import read_all

pytestmark = pytest.mark.e2e


def test_jobs_at_a_property_managers_locations(
    platform: RunningPlatform, service_env: dict[str, str]
) -> None:
    jobs = Api(platform.url("jobs-web"), "shop-a")
    manager = create_customer(
        jobs, name="Harbor View PM", customer_type="property_manager", payment_terms="net_30"
    )
    units = []
    for n in (1, 2, 3):
        response = jobs.post(
            f"/customers/{manager}/locations", {"name": f"Unit {n}", "address": address(40 + n)}
        )
        assert response.status_code == 201, response.text
        units.append(response.json())
    listed = jobs.get(f"/customers/{manager}/locations").json()["items"]
    assert [u["name"] for u in listed] == ["Unit 1", "Unit 2", "Unit 3"]

    body = job_body(manager, service_location_id=units[1]["location_id"])
    del body["service_address"]
    created = jobs.post("/jobs", body)
    assert created.status_code == 201, created.text
    job = created.json()
    assert job["service_address"]["line1"] == "42 Elm St"
    close_job(jobs, job["job_id"])

    (event,) = read_all(service_env["KAFKA_BOOTSTRAP_SERVERS"], "JobClosed", expect_at_least=1)
    value = json.loads(event.value or b"")
    assert value["service_location_id"] == units[1]["location_id"]
    assert value["service_address"]["line1"] == "42 Elm St"
    assert value["customer"]["customer_type"] == "property_manager"
    assert value["customer"]["payment_terms"] == "net_30"
    assert value["customer"]["payment_terms_days"] == 30

    other_shop = Api(platform.url("jobs-web"), "shop-b")
    assert other_shop.get(f"/customers/{manager}/locations").status_code == 404
    theirs = create_customer(other_shop)
    foreign = job_body(theirs, service_location_id=units[0]["location_id"])
    del foreign["service_address"]
    refused = other_shop.post("/jobs", foreign)
    assert refused.status_code == 422
    assert refused.json()["fields"] == [
        {"field": "service_location_id", "reason": "not a location of this customer"}
    ]
