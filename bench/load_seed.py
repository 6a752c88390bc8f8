"""The shops `make load` browses, filled through the services' own APIs: branding, customers,
jobs closed into drafts, invoices sent (some already overdue, so AR aging has every bucket), pay
links from payments, and the office staff in the gateway's user store."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, TypeVar

import psycopg
import requests

from shared.devstack import demo
from shared.settings import Settings

SHOPS = {
    "northwind-hvac": {"name": "Northwind HVAC", "time_zone": "America/Los_Angeles"},
    "bluepeak-plumbing": {"name": "BluePeak Plumbing", "time_zone": "America/Denver"},
    "cedar-electric": {"name": "Cedar Electric", "time_zone": "America/Chicago"},
}
CUSTOMERS_PER_SHOP = 40
QUEUE = 50
"""Drafts left in each shop's queue (a full first page)."""
SENT_AT_LEAST = 100
OVERDUE_DAYS = (0, 0, 10, 45, 75, 120)
"""Days past due of the sent invoices, in turn (0: not yet due)."""
FIRST = ("Dana", "Marco", "Priya", "Ben", "Olivia", "Sam", "Jen", "Luis", "Ana", "Omar")
LAST = ("Whitfield", "Ruiz", "Raman", "Okafor", "Park", "Nguyen", "Hart", "Silva")
PASSWORD = "load-test-password"
T = TypeVar("T")
R = TypeVar("R")


class Api(demo.Api):
    """demo's client of the internal APIs, with PUT."""

    def put(self, path: str, body: dict[str, Any]) -> None:
        answer = requests.put(self.base + path, json=body, headers=self.headers, timeout=10)
        if answer.status_code >= 400:
            raise RuntimeError(f"PUT {path} → {answer.status_code}: {answer.text}")


@dataclass
class Seeded:
    accounts: list[dict[str, str]]
    """email, password, shop of each office user."""
    links: list[tuple[str, str]]
    """(pay token, invoice number) of every sent invoice."""
    shops: dict[str, dict[str, list[str]]]
    """Per shop: invoices, customers and customer_names the staff browse."""


def seed(env: dict[str, str], url: Callable[[str], str], staff: int, customers: int) -> Seeded:
    started = time.monotonic()
    settings = Settings(
        database_url=env["DATABASE_URL"],
        database_prefix="",
        kafka_bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"],
        internal_api_token=env["INTERNAL_API_TOKEN"],
    )
    sent = max(SENT_AT_LEAST, math.ceil(customers / len(SHOPS)))
    shops = {}
    for shop in SHOPS:
        shops[shop] = fill_shop(settings, url, shop, sent)
        print(f"load: {shop} filled ({time.monotonic() - started:.0f} s)", flush=True)
    links = pay_links(settings.database_url_for("payments"), sent * len(SHOPS))
    accounts = add_staff(env, staff)
    print(
        f"load: seeded {len(SHOPS)} shops, {len(links)} pay links, {len(accounts)} staff "
        f"in {time.monotonic() - started:.0f} s",
        flush=True,
    )
    return Seeded(accounts, links, shops)


def fill_shop(
    settings: Settings, url: Callable[[str], str], shop: str, sent: int
) -> dict[str, list[str]]:
    token = settings.internal_api_token
    jobs = Api(url("jobs-web"), token, shop)
    invoicing = Api(url("invoicing-web"), token, shop)
    invoicing.put("/settings", SHOPS[shop])
    people = parallel(
        lambda n: jobs.post("/customers", customer(shop, n)), range(CUSTOMERS_PER_SHOP)
    )
    count = sent + QUEUE

    def close_job(n: int) -> None:
        body = demo.sample_job(people[n % len(people)]["customer_id"], n)
        jobs.post(f"/jobs/{jobs.post('/jobs', body)['job_id']}/close")

    parallel(close_job, range(count))
    db = settings.database_url_for("invoicing")
    wait(lambda: _count(db, "SELECT count(*) FROM invoices WHERE shop_id = %s", shop) >= count)
    drafts = _column(
        db, "SELECT invoice_id FROM invoices WHERE shop_id = %s ORDER BY drafted_at", shop
    )

    def send(k: int) -> None:
        if days := OVERDUE_DAYS[k % len(OVERDUE_DAYS)]:
            due = (date.today() - timedelta(days=days)).isoformat()
            invoicing.put(f"/invoices/{drafts[k]}/due-date", {"due_date": due})
        invoicing.post(f"/invoices/{drafts[k]}/send")

    parallel(send, range(sent))
    return {
        "invoices": drafts,
        "customers": [p["customer_id"] for p in people],
        "customer_names": [p["name"] for p in people],
    }


def customer(shop: str, n: int) -> dict[str, Any]:
    first, last = FIRST[n % len(FIRST)], LAST[n // len(FIRST) % len(LAST)]
    return {
        "name": f"{first} {last} {n}",
        "email": f"{first.lower()}.{n}@{shop}.example",
        "phone": f"+1415555{n:04d}",
        "billing_address": demo.address(n),
        "customer_type": "residential" if n % 3 else "property_manager",
        "payment_terms": ("due_on_receipt", "net_15", "net_30")[n % 3],
    }


def pay_links(payments_db: str, expected: int) -> list[tuple[str, str]]:
    """Every sent invoice's pay link, once payments has heard of all of them."""
    query = "SELECT count(*) FROM payable_invoices WHERE pay_token IS NOT NULL"
    wait(lambda: _count(payments_db, query) >= expected)
    with psycopg.connect(payments_db) as conn:
        rows = conn.execute(
            "SELECT pay_token, copy->>'invoice_number' FROM payable_invoices"
            " WHERE pay_token IS NOT NULL ORDER BY invoice_id"
        ).fetchall()
    return [(str(token), str(number)) for token, number in rows]


def add_staff(env: dict[str, str], count: int) -> list[dict[str, str]]:
    """Office users spread over the shops, straight into the gateway's user store."""
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "DATABASE_PREFIX")})
    from services.gateway import bootstrap
    from services.gateway.domain.access import new_user

    users = bootstrap.users()
    password_hash = bootstrap.passwords().hash(PASSWORD)  # one argon2id hash serves them all
    accounts = []
    for n in range(count):
        shop = list(SHOPS)[n % len(SHOPS)]
        email = f"office{n}@{shop}.example"
        users.add(new_user(shop, email, f"Office {n}", "office"), password_hash)
        accounts.append({"email": email, "password": PASSWORD, "shop": shop})
    return accounts


def parallel(work: Callable[[T], R], items: Iterable[T]) -> list[R]:
    with ThreadPoolExecutor(6) as pool:
        return list(pool.map(work, items))


def wait(done: Callable[[], bool], seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError("the platform did not catch up in time while seeding")
        time.sleep(0.2)


def _count(db: str, query: str, *params: object) -> int:
    with psycopg.connect(db) as conn:
        row = conn.execute(query, params or None).fetchone()
    return int(row[0]) if row else 0


def _column(db: str, query: str, *params: object) -> list[str]:
    with psycopg.connect(db) as conn:
        return [str(row[0]) for row in conn.execute(query, params).fetchall()]
