"""Bad HTTP input gets a 4xx naming the field and the reason, never a 500; nothing is written."""

from __future__ import annotations

import pytest
import requests

from tests.support.api import Api, address, close_job, create_customer, create_job, job_body
from tests.support.platform import RunningPlatform

pytestmark = pytest.mark.e2e


def fields(response: requests.Response) -> dict[str, str]:
    return {f["field"]: f["reason"] for f in response.json()["fields"]}


@pytest.fixture
def jobs(module_platform: RunningPlatform) -> Api:
    return Api(module_platform.url("jobs-web"), "shop-a")


def test_missing_fields_are_named(jobs: Api) -> None:
    response = jobs.post("/jobs", {"line_items": []})
    assert response.status_code == 422
    assert set(fields(response)) >= {"customer_id", "service_address"}
    assert "required" in fields(response)["customer_id"].lower()


def test_negative_quantity_and_price(jobs: Api) -> None:
    customer = create_customer(jobs)
    body = job_body(customer)
    body["line_items"][0]["quantity"] = "-2"
    body["line_items"][1]["unit_price_cents"] = -5
    response = jobs.post("/jobs", body)
    assert response.status_code == 422
    reasons = fields(response)
    assert "greater than 0" in reasons["line_items.0.quantity"]
    assert "greater than or equal to 0" in reasons["line_items.1.unit_price_cents"]


def test_unknown_customer_and_another_shops_customer(
    module_platform: RunningPlatform, jobs: Api
) -> None:
    other_shop = Api(module_platform.url("jobs-web"), "shop-b")
    theirs = create_customer(other_shop)
    for customer_id in ("no-such-customer", theirs):
        response = jobs.post("/jobs", job_body(customer_id))
        assert response.status_code == 422
        assert fields(response) == {"customer_id": "unknown customer"}


def test_invalid_email_phone_and_address(jobs: Api) -> None:
    response = jobs.post(
        "/customers",
        {
            "name": "X",
            "email": "not-an-email",
            "phone": "555",
            "billing_address": {**address(), "country": "usa"},
        },
    )
    assert response.status_code == 422
    assert set(fields(response)) == {"email", "phone", "billing_address.country"}


def test_closing_twice_is_a_conflict_and_unknown_job_is_404(jobs: Api) -> None:
    job = create_job(jobs, create_customer(jobs))
    close_job(jobs, job)
    again = jobs.post(f"/jobs/{job}/close")
    assert again.status_code == 409
    assert again.json()["error"] == "job_already_closed"
    assert jobs.post("/jobs/nope/close").status_code == 404


def test_malformed_bodies_auth_and_tenant(module_platform: RunningPlatform, jobs: Api) -> None:
    url = module_platform.url("jobs-web")
    raw = jobs.session.post(
        url + "/jobs", data="{not json", timeout=5, headers={"Content-Type": "application/json"}
    )
    assert raw.status_code == 400 and fields(raw) == {"body": "must be a JSON object"}
    assert jobs.post("/customers", [1, 2]).status_code == 400
    assert requests.post(url + "/customers", json={}, timeout=5).status_code == 401
    no_shop = requests.post(
        url + "/customers", json={}, timeout=5, headers={"Authorization": "Bearer test-token"}
    )
    assert no_shop.status_code == 400 and fields(no_shop) == {"X-Shop-Id": "header is required"}
    assert jobs.get("/nowhere").status_code == 404
    assert jobs.session.delete(url + "/jobs", timeout=5).status_code == 405


def test_invoicing_query_parameters(module_platform: RunningPlatform) -> None:
    invoicing = Api(module_platform.url("invoicing-web"), "shop-a")
    assert fields(invoicing.get("/invoices", status="bogus"))["status"].startswith("must be")
    assert invoicing.get("/invoices", limit="0").status_code == 422
    assert invoicing.get("/invoices", limit="abc").status_code == 422
    assert invoicing.get("/invoices", after="!!!").status_code == 422
