"""The office's lists: customers and jobs, filtered, keyset-paginated, one shop at a time."""

from __future__ import annotations

from typing import Any

import pytest

from services.gateway.adapters.services import HttpJobs
from tests.support.api import Api, close_job, create_customer, create_job
from tests.support.platform import TOKEN, RunningPlatform

pytestmark = pytest.mark.e2e


def all_pages(api: Api, path: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    after = None
    while True:
        response = api.get(path, limit=2, **params, **({"after": after} if after else {}))
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        after = page["next"]
        if after is None:
            return items


def test_customers_and_jobs_lists(module_platform: RunningPlatform) -> None:
    jobs = Api(module_platform.url("jobs-web"), "shop-lists")
    other = Api(module_platform.url("jobs-web"), "shop-elsewhere")
    create_customer(other, name="Harbor Elsewhere")
    names = ["Harbor View PM", "Dana Whitfield", "harbor lights LLC", "Marco Ruiz", "Ann 100%"]
    ids = {name: create_customer(jobs, name=name) for name in names}
    create_customer(jobs, name="Greenleaf", customer_type="property_manager")

    everyone = all_pages(jobs, "/customers")
    assert [c["name"] for c in everyone] == [*names, "Greenleaf"]
    harbor = all_pages(jobs, "/customers", name="harbor")
    assert [c["name"] for c in harbor] == ["Harbor View PM", "harbor lights LLC"]
    assert [c["name"] for c in all_pages(jobs, "/customers", name="100%")] == ["Ann 100%"]
    managers = all_pages(jobs, "/customers", customer_type="property_manager")
    assert [c["name"] for c in managers] == ["Greenleaf"]

    dana = ids["Dana Whitfield"]
    job_ids = [create_job(jobs, dana) for _ in range(3)]
    create_job(jobs, ids["Marco Ruiz"])
    close_job(jobs, job_ids[0])
    danas = all_pages(jobs, "/jobs", customer_id=dana)
    assert [j["job_id"] for j in danas] == job_ids
    closed = all_pages(jobs, "/jobs", status="closed")
    assert [(j["job_id"], j["status"]) for j in closed] == [(job_ids[0], "closed")]
    assert closed[0]["closed_at"]

    assert all_pages(other, "/jobs") == []
    assert [c["name"] for c in all_pages(other, "/customers")] == ["Harbor Elsewhere"]
    bad = jobs.get("/jobs", status="finished")
    assert bad.status_code == 422 and bad.json()["fields"][0]["field"] == "status"
    assert jobs.get("/customers", customer_type="landlord").status_code == 422
    assert jobs.get("/customers", after="nonsense").status_code == 422


def test_customer_names_for_a_page_come_in_one_call(module_platform: RunningPlatform) -> None:
    """The staff app's lists of jobs and estimates name each row's customer: the jobs service
    narrows its customers to the ids asked for (the shop's own only), so a page of 50 jobs costs
    one call, not one per customer."""
    url = module_platform.url("jobs-web")
    jobs, other = Api(url, "shop-names"), Api(url, "shop-names-elsewhere")
    ana, ben, cy = (create_customer(jobs, name=name) for name in ("Ana", "Ben", "Cy"))
    theirs = create_customer(other, name="Not yours")

    found = jobs.get("/customers", customer_id=[cy, ana, theirs, "missing"], limit=10)
    assert found.status_code == 200, found.text
    assert [c["name"] for c in found.json()["items"]] == ["Ana", "Cy"]
    assert [c["name"] for c in all_pages(jobs, "/customers", customer_id=[ben])] == ["Ben"]

    too_many = jobs.get("/customers", customer_id=[f"c{n}" for n in range(201)])
    assert too_many.status_code == 422
    assert too_many.json()["fields"][0]["field"] == "customer_id"
    assert jobs.get("/customers", customer_id="x" * 201).status_code == 422

    staff_app = HttpJobs(url, TOKEN)
    ids = [ana, cy, theirs, "missing"]
    assert staff_app.names("shop-names", ids) == {ana: "Ana", cy: "Cy"}
    assert staff_app.names("shop-names", []) == {}
