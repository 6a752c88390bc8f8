"""A thin HTTP client for the services' internal APIs, one shop at a time."""

from __future__ import annotations

from typing import Any

import requests

from tests.support.platform import TOKEN


class Api:
    def __init__(self, base: str, shop: str, token: str = TOKEN) -> None:
        self.base = base
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {token}", "X-Shop-Id": shop})

    def post(self, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        return self.session.post(self.base + path, json=body, timeout=15, **kwargs)

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.session.get(self.base + path, params=params, timeout=15)


def address(n: int = 1) -> dict[str, str]:
    return {"line1": f"{n} Elm St", "city": "Fresno", "region": "CA", "postal_code": "93701"}


def customer_body(name: str = "Pat Doe", **overrides: Any) -> dict[str, Any]:
    body = {
        "name": name,
        "email": "pat@example.com",
        "phone": "+15595550100",
        "billing_address": address(9),
        "payment_terms_days": 30,
    }
    return {**body, **overrides}


def job_body(customer_id: str, **overrides: Any) -> dict[str, Any]:
    body = {
        "customer_id": customer_id,
        "service_address": address(2),
        "line_items": [
            {
                "description": "Water heater 50 gal",
                "quantity": "1",
                "unit_price_cents": 129900,
                "taxable": True,
                "tax_rate_percent": "7.25",
            },
            {
                "description": "Fittings",
                "quantity": "3",
                "unit_price_cents": 333,
                "taxable": True,
                "tax_rate_percent": "7.25",
            },
        ],
        "labor": [{"technician": "Ana Silva", "hours": "2.5", "hourly_rate_cents": 11000}],
    }
    return {**body, **overrides}


def create_customer(api: Api, **overrides: Any) -> str:
    response = api.post("/customers", customer_body(**overrides))
    assert response.status_code == 201, response.text
    return str(response.json()["customer_id"])


def create_job(api: Api, customer_id: str, **overrides: Any) -> str:
    response = api.post("/jobs", job_body(customer_id, **overrides))
    assert response.status_code == 201, response.text
    return str(response.json()["job_id"])


def close_job(api: Api, job_id: str) -> None:
    response = api.post(f"/jobs/{job_id}/close")
    assert response.status_code == 200, response.text
