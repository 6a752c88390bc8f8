"""`make run`'s demo data loads through the APIs and shows what the office works with: two shops,
a property manager with several locations, open and closed jobs, an approved estimate."""

from __future__ import annotations

import pytest

from shared.devstack import demo
from tests.support.api import Api
from tests.support.platform import TOKEN, RunningPlatform, wait_for

pytestmark = pytest.mark.e2e


def test_demo_data_loads_for_both_shops(platform: RunningPlatform) -> None:
    counts = demo.load(platform.url("jobs-web"), TOKEN, platform.url("invoicing-web"))
    assert counts == {
        "customers": 5,
        "locations": 6,
        "jobs": 15,
        "closed": 10,
        "estimates": 5,
        "sent": 4,
        "from_estimate": 2,
    }
    drafts_wanted: dict[str, int] = {}
    for shop, customers in demo.SHOPS.items():
        jobs = Api(platform.url("jobs-web"), shop)
        listed = jobs.get("/customers", customer_type="property_manager").json()["items"]
        (manager,) = listed
        locations = jobs.get(f"/customers/{manager['customer_id']}/locations").json()["items"]
        assert [loc["name"] for loc in locations] == demo.UNITS
        assert len(jobs.get("/jobs", status="closed").json()["items"]) == 2 * len(customers)
        assert len(jobs.get("/jobs", status="scheduled").json()["items"]) == len(customers)
        (approved,) = jobs.get("/estimates", status="approved").json()["items"]
        assert approved["customer_id"] == manager["customer_id"]
        assert len(jobs.get("/pricebook/items").json()["items"]) == 4
        rates = jobs.get("/tax-rates").json()["items"]
        assert [r["is_default"] for r in rates] == [True, False]
        drafts_wanted[shop] = 2 * len(customers) - 2 + 1  # two sent, one from the estimate
        invoicing = Api(platform.url("invoicing-web"), shop)
        assert len(invoicing.get("/invoices", status="overdue").json()["items"]) == 1
        assert len(invoicing.get("/invoices", status="sent").json()["items"]) == 1
        assert invoicing.get("/settings").json()["name"] == demo.BRANDING[shop]["name"]
    for shop, wanted in drafts_wanted.items():
        invoicing = Api(platform.url("invoicing-web"), shop)

        def drafts(api: Api = invoicing) -> int:
            return len(api.get("/invoices", status="draft").json()["items"])

        wait_for(lambda: drafts() == wanted, 30, f"{shop}'s drafts")  # noqa: B023
