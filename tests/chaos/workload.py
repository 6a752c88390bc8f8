"""What a chaos run asks of the platform, as its users would: technicians create and close jobs,
the office sends each draft, a share of customers pay from the link (card in full, card in part,
bank debit). Every request is retried the way a phone or a browser retries — after a dropped
connection or a 502/503/504 — with the same idempotency handle where the API has one (the pay
page's attempt id). The driver remembers what it was told, for the tally."""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import requests

from tests.support.api import customer_body, job_body

IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"
RETRYABLE = (502, 503, 504)
GIVE_UP_AFTER = 300.0
SHOPS = ("shop-north", "shop-south")
CUSTOMERS_PER_SHOP = 25
BANK = {"account_holder_name": "Dana Reyes", "routing_number": "110000000"}
CLEARING_ACCOUNT = "000123456789"


class GaveUp(Exception):
    """A request still failed after GIVE_UP_AFTER seconds of retries."""


@dataclass
class Plan:
    """Which customers pay and how: job i's invoice is paid by card in full (i % 8 in 0, 4),
    by card in part (i % 8 == 2: half now), or by bank debit (i % 8 == 6); the rest stay open."""

    jobs: int
    workers: int = 12
    minutes: float | None = None
    """A time budget: no job is started after it (the ones under way finish); None: all jobs."""

    @staticmethod
    def payment(i: int) -> str | None:
        return {0: "card", 4: "card", 2: "card-half", 6: "ach"}.get(i % 8)


@dataclass
class Told:
    """What the platform answered the driver: the evidence its own tables are checked against."""

    closed: dict[str, str] = field(default_factory=dict)  # job id → shop
    sent: dict[str, str] = field(default_factory=dict)  # invoice id → pay url
    paid: Counter[str] = field(default_factory=Counter)  # invoice id → cents accepted
    payments_made: int = 0
    statuses: Counter[int] = field(default_factory=Counter)  # HTTP status → times seen
    retries: int = 0
    gave_up: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def saw(self, status: int) -> None:
        with self.lock:
            self.statuses[status] += 1


class Client:
    """One user's HTTP session with retries; ``ok`` are the answers that end the retrying."""

    def __init__(self, told: Told, headers: dict[str, str]) -> None:
        self.told = told
        self.session = requests.Session()
        self.session.headers.update(headers)

    def call(self, method: str, url: str, ok: tuple[int, ...], **kwargs: Any) -> requests.Response:
        deadline = time.monotonic() + GIVE_UP_AFTER
        while True:
            try:
                response = self.session.request(method, url, timeout=20, **kwargs)
                self.told.saw(response.status_code)
                if response.status_code in ok:
                    return response
                if response.status_code not in RETRYABLE and response.status_code != 404:
                    raise GaveUp(f"{method} {url}: {response.status_code} {response.text[:300]}")
            except requests.RequestException:
                self.told.saw(0)
            if time.monotonic() > deadline:
                raise GaveUp(f"{method} {url}: still failing after {GIVE_UP_AFTER:.0f} s")
            with self.told.lock:
                self.told.retries += 1
            time.sleep(0.3)


class Office:
    """The shop's side over the services' APIs (jobs for technicians, invoicing for the office)."""

    def __init__(self, urls: dict[str, str], shop: str, token: str, told: Told) -> None:
        headers = {"Authorization": f"Bearer {token}", "X-Shop-Id": shop}
        self.jobs, self.invoicing = urls["jobs-web"], urls["invoicing-web"]
        self.client = Client(told, headers)
        self.shop = shop

    def add_customer(self, n: int) -> str:
        body = customer_body(f"Customer {n}", email=f"c{n}@example.com", phone=f"+1559555{n:04d}")
        created = self.client.call("POST", f"{self.jobs}/customers", (201,), json=body)
        return str(created.json()["customer_id"])

    def close_a_job(self, customer_id: str) -> str:
        created = self.client.call("POST", f"{self.jobs}/jobs", (201,), json=job_body(customer_id))
        job_id = str(created.json()["job_id"])
        self.client.call("POST", f"{self.jobs}/jobs/{job_id}/close", (200, 409))
        return job_id

    def draft_for(self, job_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + GIVE_UP_AFTER
        while time.monotonic() < deadline:
            page = self.client.call(
                "GET", f"{self.invoicing}/invoices", (200,), params={"job_id": job_id}
            )
            items: list[dict[str, Any]] = page.json()["items"]
            if items:
                return items[0]
            time.sleep(0.5)
        raise GaveUp(f"no draft for job {job_id} after {GIVE_UP_AFTER:.0f} s")

    def send(self, invoice_id: str) -> dict[str, Any]:
        url = f"{self.invoicing}/invoices/{invoice_id}"
        self.client.call("POST", f"{url}/send", (200, 409))
        body: dict[str, Any] = self.client.call("GET", url, (200,)).json()
        return body


class Customer:
    """One customer on the pay page, from an address of their own (X-Forwarded-For, as behind the
    ingress): opens the link, pays with one attempt id however many times the request is retried."""

    def __init__(self, page_url: str, n: int, told: Told) -> None:
        address = f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"
        self.client = Client(told, {"User-Agent": IPHONE, "X-Forwarded-For": address})
        self.url = page_url

    def pay(self, amount_cents: int, method: str) -> None:
        html = self.client.call("GET", self.url, (200,)).text
        csrf = _attribute(html, "data-csrf")
        body: dict[str, Any] = {"attempt": _attribute(html, "data-attempt")}
        body |= {"amount_cents": amount_cents, "method": method}
        if method == "card":
            body["payment_method"] = "pm_card_visa"
        else:
            body |= {"bank": {**BANK, "account_number": CLEARING_ACCOUNT}, "mandate_accepted": True}
        headers = {"X-CSRF-Token": csrf}
        self.client.call("POST", f"{self.url}/payments", (201,), json=body, headers=headers)


def _attribute(html: str, name: str) -> str:
    found = re.search(rf'{name}="([0-9a-f]+)"', html)
    if not found:
        raise GaveUp(f"the pay page has no {name}")
    return found.group(1)
