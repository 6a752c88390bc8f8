"""Demo data for `make run`: two shops, their customers, open and closed jobs — through the APIs."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date, timedelta
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

    def post_status(self, path: str, body: dict[str, Any]) -> int:
        """POST and return the status code (for polling while a consumer catches up)."""
        response = requests.post(self.base + path, json=body, headers=self.headers, timeout=10)
        return response.status_code

    def get(self, path: str, **params: str) -> requests.Response:
        return requests.get(self.base + path, params=params, headers=self.headers, timeout=10)


def address(n: int, city: str = "Oakland", region: str = "CA") -> dict[str, str]:
    return {"line1": f"{100 + n} Main St", "city": city, "region": region, "postal_code": "94607"}


def sample_job(customer_id: str, n: int) -> dict[str, Any]:
    """A custom-priced job (no pricebook needed): what `make smoke` closes."""
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


TAX_RATES = {
    "northwind-hvac": [("Alameda County 10.25%", "10.25"), ("Oakland services 8.25%", "8.25")],
    "bluepeak-plumbing": [("Denver 8.81%", "8.81"), ("Colorado state 2.9%", "2.9")],
}
PRICEBOOK = {
    "northwind-hvac": [
        ("Capacitor 45/5 MFD", "CAP-455", 8900, True),
        ("R-410A refrigerant (lb)", "R410A-LB", 7500, True),
        ("Condenser fan motor 1/4 HP", "FAN-025", 28900, True),
        ("Diagnostic fee", "DIAG", 8900, False),
    ],
    "bluepeak-plumbing": [
        ("50 gal gas water heater", "WH-50G", 129900, True),
        ("Expansion tank 2 gal", "EXP-2", 6400, True),
        ("Drain cleaning (main line)", "DRAIN-MAIN", 27500, False),
        ("Permit fee", "PERMIT", 7500, False),
    ],
}
TECHNICIANS = {
    "northwind-hvac": ["Luis Ortega", "Priya Raman"],
    "bluepeak-plumbing": ["Sam Okafor", "Jen Park"],
}
UNITS = ["Unit 1A", "Unit 2B", "Unit 3C"]


class ShopLoader:
    """One shop's demo: rates, pricebook, customers (a property manager with several units),
    jobs in every status, and estimates (one approved, ready for + Invoice)."""

    def __init__(self, api: Api, shop: str) -> None:
        self.api = api
        self.shop = shop
        self.counts = {"customers": 0, "locations": 0, "jobs": 0, "closed": 0, "estimates": 0}
        self.items: list[str] = []
        self.approved_estimate_id: str | None = None

    def load(self) -> dict[str, int]:
        for name, percent in TAX_RATES[self.shop]:
            self.api.post("/tax-rates", {"name": name, "percent": percent})
        for name, sku, price, taxable in PRICEBOOK[self.shop]:
            item = {"name": name, "sku": sku, "unit_price_cents": price, "taxable": taxable}
            self.items.append(self.api.post("/pricebook/items", item)["item_id"])
        for n, customer in enumerate(SHOPS[self.shop]):
            self.customer(n, *customer)
        return self.counts

    def customer(
        self,
        n: int,
        name: str,
        email: str,
        phone: str,
        terms: str,
        kind: str,
        certificate: str | None,
    ) -> None:
        body = {
            "name": name,
            "email": email,
            "phone": phone,
            "billing_address": address(n),
            "customer_type": kind,
            "payment_terms": terms,
            "tax_exempt": certificate is not None,
            "tax_exemption_certificate": certificate,
        }
        customer_id = self.api.post("/customers", body)["customer_id"]
        self.counts["customers"] += 1
        places: list[dict[str, Any]] = [{"service_address": address(n * 10 + 40)}]
        if kind == "property_manager":
            places = [
                {"service_location_id": self.location(customer_id, unit, n * 10 + k)}
                for k, unit in enumerate(UNITS)
            ]
        for k in range(3):
            self.job(customer_id, places[k % len(places)], k)
        self.estimate(customer_id, places[0], n)

    def location(self, customer_id: str, unit: str, n: int) -> str:
        body = {"name": unit, "address": {**address(n), "line2": unit}}
        self.counts["locations"] += 1
        return str(self.api.post(f"/customers/{customer_id}/locations", body)["location_id"])

    def lines(self, k: int) -> list[dict[str, Any]]:
        first, second = self.items[k % 2], self.items[2 + k % 2]
        return [
            {"pricebook_item_id": first, "quantity": "1"},
            {"pricebook_item_id": second, "quantity": str(1 + k)},
        ]

    def job(self, customer_id: str, place: dict[str, Any], k: int) -> None:
        """k = 0, 1: worked and closed (the office's queue); k = 2: scheduled."""
        technicians = TECHNICIANS[self.shop]
        body = {
            "customer_id": customer_id,
            **place,
            "technicians": [technicians[k % 2]],
            "line_items": self.lines(k),
            "labor": [
                {"technician": technicians[k % 2], "hours": "1.5", "hourly_rate_cents": 12500}
            ],
        }
        job_id = self.api.post("/jobs", body)["job_id"]
        self.counts["jobs"] += 1
        if k == 2:
            return
        self.api.post(f"/jobs/{job_id}/start")
        note = {"author": technicians[k % 2], "text": "Customer asked for a maintenance plan quote"}
        self.api.post(f"/jobs/{job_id}/notes", note)
        self.api.post(f"/jobs/{job_id}/close")
        self.counts["closed"] += 1

    def estimate(self, customer_id: str, place: dict[str, Any], n: int) -> None:
        """Customer 0: approved; 1: sent; others: a draft."""
        body = {
            "customer_id": customer_id,
            **place,
            "line_items": self.lines(n),
            "notes": "Valid 30 days",
        }
        estimate_id = self.api.post("/estimates", body)["estimate_id"]
        self.counts["estimates"] += 1
        if n <= 1:
            self.api.post(f"/estimates/{estimate_id}/send")
        if n == 0:
            self.api.post(f"/estimates/{estimate_id}/approve", {"approved_by": "Front desk"})
            self.approved_estimate_id = estimate_id


BRANDING = {
    "northwind-hvac": {
        "name": "Northwind HVAC",
        "color": "#0b6e4f",
        "time_zone": "America/Los_Angeles",
    },
    "bluepeak-plumbing": {
        "name": "BluePeak Plumbing",
        "color": "#1f4e9c",
        "time_zone": "America/Denver",
    },
}


def load(jobs_url: str, token: str, invoicing_url: str | None = None) -> dict[str, int]:
    """Both shops, through the jobs API (and, given its URL, invoicing: branding, two invoices
    sent per shop, one of them overdue, and + Invoice on the approved estimate); returns what was
    created, summed over the shops."""
    totals: dict[str, int] = {}
    for shop in SHOPS:
        loader = ShopLoader(Api(jobs_url, token, shop), shop)
        counts = loader.load()
        if invoicing_url:
            invoicing = Api(invoicing_url, token, shop)
            counts |= invoice_demo(invoicing, shop, loader.approved_estimate_id)
        for name, count in counts.items():
            totals[name] = totals.get(name, 0) + count
    return totals


def invoice_demo(
    api: Api, shop: str, estimate_id: str | None, wait_seconds: float = 60
) -> dict[str, int]:
    """Once the closed jobs' drafts are in the queue: brand the shop, send one invoice, send one
    already past due (an override in the past), and invoice the approved estimate."""
    requests.put(
        api.base + "/settings", json=BRANDING[shop], headers=api.headers, timeout=10
    ).raise_for_status()

    def drafts() -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = api.get("/invoices", status="draft").json()["items"]
        return items

    _until(lambda: len(drafts()) >= 2, wait_seconds)
    first, second = (draft["invoice_id"] for draft in drafts()[:2])
    api.post(f"/invoices/{first}/send")
    past = {"due_date": (date.today() - timedelta(days=12)).isoformat()}
    requests.put(
        api.base + f"/invoices/{second}/due-date", json=past, headers=api.headers, timeout=10
    ).raise_for_status()
    api.post(f"/invoices/{second}/send")
    if estimate_id is None:
        return {"sent": 2}
    body = {"estimate_id": estimate_id}
    _until(lambda: api.post_status("/invoices/from-estimate", body) == 201, wait_seconds)
    return {"sent": 2, "from_estimate": 1}


def _until(done: Callable[[], bool], seconds: float) -> None:
    """Poll until ``done`` (invoicing's consumer catches up with jobs asynchronously)."""
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            raise RuntimeError("invoicing did not catch up with the jobs service in time")
        time.sleep(0.2)


STAFF = [
    ("northwind-hvac", "owner@northwind.example", "Maria (owner)", "owner"),
    ("northwind-hvac", "office@northwind.example", "Olivia (office)", "office"),
    ("northwind-hvac", "tech@northwind.example", "Luis Ortega", "technician"),
    ("bluepeak-plumbing", "owner@bluepeak.example", "Ben (owner)", "owner"),
]
STAFF_PASSWORD = "fieldpay-demo-password"
"""Development only: every demo user's password (printed by `make run`)."""


def add_staff() -> list[str]:
    """The demo shops' staff users, straight into the gateway's database."""
    from services.gateway import bootstrap
    from services.gateway.service_layer import auth

    users, passwords = bootstrap.users(), bootstrap.passwords()
    for shop, email, name, role in STAFF:
        auth.add_user(shop, email, name, role, STAFF_PASSWORD, users, passwords)  # type: ignore[arg-type]
    return [email for _, email, _, _ in STAFF]
