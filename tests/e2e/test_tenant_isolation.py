"""No endpoint returns or changes another shop's data. The routes come from the service's own
OpenAPI document, so a new route is covered (or this test fails asking for a body example)."""

from __future__ import annotations

from collections.abc import Callable
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
    "LineItemIn": {"description": "Valve", "quantity": "1", "unit_price_cents": 100},
    "LaborEntryIn": {"technician": "Mallory", "hours": "1", "hourly_rate_cents": 100},
    "UpdatePricebookItem": {"unit_price_cents": 1, "active": False},
    "AssignTechnicians": {"technicians": ["Mallory"]},
    "AddNote": {"author": "Mallory", "text": "was here"},
    "ReopenJob": {"reason": "Mallory"},
    "ApproveEstimate": {"approved_by": "Mallory"},
    "DeclineEstimate": {"reason": "Mallory"},
    "ChangeAddress": {"address": address(66)},
    "LineIn": {"description": "Mallory", "quantity": "1", "unit_price_cents": 1},
    "LineChange": {"unit_price_cents": 1},
    "SetPaymentMethods": {"methods": ["card"]},
    "SetDueDate": {"due_date": "2030-01-01"},
    "VoidInvoice": {"reason": "Mallory"},
    "ReplacePayLink": {"reason": "Mallory"},
}
INVOICING_BODIES = {"AddNote": {"text": "was here"}}


def body_for(
    operation: dict[str, Any], overrides: dict[str, dict[str, Any]] | None = None
) -> dict[str, Any] | None:
    if "requestBody" not in operation:
        return None
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    name = ref.rsplit("/", 1)[-1]
    bodies = {**BODIES, **(overrides or {})}
    assert name in bodies, f"add a valid example body for {name} to this test"
    return bodies[name]


def probe(
    url: str,
    theirs: Api,
    ids: dict[str, str],
    bodies: dict[str, Any] | None = None,
    ids_for: Callable[[str], dict[str, str]] | None = None,
) -> int:
    """Every operation on a path with an id, as another shop: each must be a 404. ``ids_for``
    picks other ids for some paths (e.g. a closed job for /reopen)."""
    spec = theirs.session.get(url + "/openapi.json", timeout=10).json()
    probed = 0
    for path, operations in spec["paths"].items():
        if "{" not in path:
            continue
        for method, operation in operations.items():
            concrete = path.format(**{**ids, **(ids_for(path) if ids_for else {})})
            response = theirs.session.request(
                method, url + concrete, json=body_for(operation, bodies), timeout=10
            )
            assert response.status_code == 404, f"{method.upper()} {path}: {response.text}"
            probed += 1
    return probed


def test_no_invoicing_endpoint_reaches_another_shops_invoices(
    module_platform: RunningPlatform,
) -> None:
    url = module_platform.url("invoicing-web")
    mine, theirs = Api(url, "shop-owner"), Api(url, "shop-intruder")
    body = {
        "customer": {
            "customer_id": "c-1",
            "name": "Owner's customer",
            "email": "owner@example.com",
            "billing_address": address(1),
            "payment_terms_days": 0,
        },
        "service_address": address(2),
        "lines": [{"description": "Call-out", "quantity": "1", "unit_price_cents": 9900}],
    }
    created = mine.post("/invoices", body)
    assert created.status_code == 201, created.text
    invoice = created.json()
    ids = {"invoice_id": invoice["invoice_id"], "line_id": invoice["lines"][0]["line_id"]}
    assert probe(url, theirs, ids, INVOICING_BODIES) >= 12
    assert mine.get(f"/invoices/{invoice['invoice_id']}").json() == invoice
    assert theirs.get("/invoices").json()["items"] == []
    assert theirs.post("/invoices/from-estimate", {"estimate_id": "x"}).status_code == 422


def test_no_jobs_endpoint_reaches_another_shops_data(module_platform: RunningPlatform) -> None:
    url = module_platform.url("jobs-web")
    mine, theirs = Api(url, "shop-owner"), Api(url, "shop-intruder")
    customer = create_customer(mine, name="Owner's customer")
    job = create_job(mine, customer)
    closed = create_job(mine, customer)
    assert mine.post(f"/jobs/{closed}/close").status_code == 200  # reopenable by its shop
    rate = mine.post("/tax-rates", {"name": "County", "percent": "8"}).json()["tax_rate_id"]
    item = mine.post("/pricebook/items", {"name": "Valve", "unit_price_cents": 900}).json()
    estimate = mine.post("/estimates", job_body(customer)).json()["estimate_id"]
    assert mine.post(f"/estimates/{estimate}/send").status_code == 200
    watched = {
        f"/jobs/{job}": mine.get(f"/jobs/{job}").json(),
        f"/jobs/{closed}": mine.get(f"/jobs/{closed}").json(),
        f"/estimates/{estimate}": mine.get(f"/estimates/{estimate}").json(),
        f"/pricebook/items/{item['item_id']}": item,
        "/tax-rates": mine.get("/tax-rates").json(),
    }
    ids = {
        "customer_id": customer,
        "job_id": job,
        "tax_rate_id": rate,
        "item_id": item["item_id"],
        "estimate_id": estimate,
    }

    probed = probe(
        url, theirs, ids, ids_for=lambda path: {"job_id": closed} if "reopen" in path else {}
    )
    assert probed >= 21

    assert theirs.get("/customers").json()["items"] == []
    assert theirs.get("/jobs").json()["items"] == []
    refused = theirs.post("/jobs", job_body(customer))
    assert refused.status_code == 422
    for path, before in watched.items():
        assert mine.get(path).json() == before, f"{path} changed"
    for listing in ("/estimates", "/pricebook/items", "/tax-rates"):
        assert theirs.get(listing).json()["items"] == [], listing
    stolen_item = {"pricebook_item_id": item["item_id"], "quantity": "1"}
    own_customer = create_customer(theirs, name="Intruder's customer")
    refused_line = theirs.post("/jobs", job_body(own_customer, line_items=[stolen_item]))
    assert refused_line.status_code == 422
    assert refused_line.json()["fields"] == [
        {
            "field": "line_items.0.pricebook_item_id",
            "reason": "no such item in this shop's pricebook",
        }
    ]
    assert mine.get(f"/customers/{customer}/locations").json()["items"] == []
