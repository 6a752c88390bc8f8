"""Demo data for `make run`: two shops, their customers, open and closed jobs — through the APIs."""

from __future__ import annotations

from typing import Any

import requests

SHOPS: dict[str, list[tuple[str, str, str, str, str, str | None]]] = {
    "northwind-hvac": [
        (
            "Harbor View Property Management",
            "ap@harborview.example",
            "+14155550101",
            "net_30",
            "property_manager",
            None,
        ),
        (
            "Dana Whitfield",
            "dana@example.com",
            "(415) 555-0142",
            "due_on_receipt",
            "residential",
            None,
        ),
        (
            "St. Anne's Parish",
            "office@stannes.example",
            "+14155550177",
            "net_15",
            "commercial",
            "CA-EX-2291-0457",
        ),
    ],
    "bluepeak-plumbing": [
        (
            "Greenleaf Apartments LLC",
            "billing@greenleaf.example",
            "+13035550110",
            "net_45",
            "property_manager",
            None,
        ),
        (
            "Marco Ruiz",
            "marco.ruiz@example.com",
            "303-555-0188",
            "due_on_receipt",
            "residential",
            None,
        ),
    ],
}


class Api:
    """A small client of the services' internal APIs for one shop."""

    def __init__(self, base: str, token: str, shop: str) -> None:
        self.base = base
        self.headers = {"Authorization": f"Bearer {token}", "X-Shop-Id": shop}

    def post(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = requests.post(
            self.base + path, json=body or {}, headers=self.headers, timeout=10
        )
        if response.status_code >= 400:
            raise RuntimeError(f"POST {path} → {response.status_code}: {response.text}")
        result: dict[str, Any] = response.json()
        return result

    def get(self, path: str, **params: str) -> requests.Response:
        return requests.get(self.base + path, params=params, headers=self.headers, timeout=10)


def address(n: int, city: str = "Oakland", region: str = "CA") -> dict[str, str]:
    return {"line1": f"{100 + n} Main St", "city": city, "region": region, "postal_code": "94607"}


def sample_job(customer_id: str, n: int) -> dict[str, Any]:
    return {
        "customer_id": customer_id,
        "service_address": address(n + 40),
        "line_items": [
            {
                "description": "Capacitor 45/5 MFD",
                "quantity": "1",
                "unit_price_cents": 8900,
                "taxable": True,
                "tax_rate_percent": "8.25",
            },
            {
                "description": "R-410A refrigerant (lb)",
                "quantity": "2.5",
                "unit_price_cents": 7500,
                "taxable": True,
                "tax_rate_percent": "8.25",
            },
        ],
        "labor": [{"technician": "Luis Ortega", "hours": "1.5", "hourly_rate_cents": 12500}],
    }


def load(jobs_url: str, token: str) -> dict[str, int]:
    """Create customers and jobs in both shops; close two of every three jobs."""
    counts = {"customers": 0, "jobs": 0, "closed": 0}
    for shop, customers in SHOPS.items():
        api = Api(jobs_url, token, shop)
        for n, (name, email, phone, terms, kind, certificate) in enumerate(customers):
            customer = api.post(
                "/customers",
                {
                    "name": name,
                    "email": email,
                    "phone": phone,
                    "billing_address": address(n),
                    "customer_type": kind,
                    "payment_terms": terms,
                    "tax_exempt": certificate is not None,
                    "tax_exemption_certificate": certificate,
                },
            )
            counts["customers"] += 1
            for k in range(3):
                job = api.post("/jobs", sample_job(customer["customer_id"], n * 3 + k))
                counts["jobs"] += 1
                if k < 2:
                    api.post(f"/jobs/{job['job_id']}/close")
                    counts["closed"] += 1
    return counts
