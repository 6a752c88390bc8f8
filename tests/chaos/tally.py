"""After the fire: each claim checked against each service's own tables, the providers' records
(what Twilio, SendGrid and Stripe — here the capture server, localstripe and the ACH path — were
asked to do) and what the driver was told. One row per claim; a run passes when every row does."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

import psycopg
import requests
import stripe

from shared.settings import Settings
from tests.chaos.workload import SHOPS, Told

TOKEN_IN_LINK = re.compile(r"/p/([A-Za-z0-9_-]{16,})")


@dataclass(frozen=True)
class Row:
    claim: str
    expected: int
    actual: int
    at_least: bool = False
    """The claim is a floor (kill -9s), not an exact count."""

    @property
    def holds(self) -> bool:
        return self.actual >= self.expected if self.at_least else self.expected == self.actual

    @property
    def wanted(self) -> str:
        return f"≥ {self.expected}" if self.at_least else str(self.expected)


@dataclass(frozen=True)
class Providers:
    capture: str
    localstripe: str
    ach: str
    stripe_key: str


def rows(
    settings: Settings, told: Told, providers: Providers, reporting: str, token: str
) -> list[Row]:
    return [
        *_drafts(settings, told),
        *_messages(settings, told, providers.capture),
        *_payments(settings, told, providers),
        _aging(settings, reporting, token),
        Row("dead letters in any service's inbox", 0, _dead_letters(settings)),
        Row("HTTP 500 answers the users saw", 0, told.statuses[500]),
        Row("users who gave up (a refusal, or no answer in 5 min)", 0, len(told.gave_up)),
    ]


def scalar(url: str, query: str, *args: Any) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(query, args).fetchone()
        return int(row[0] or 0) if row else 0


def _drafts(settings: Settings, told: Told) -> list[Row]:
    jobs, invoicing = settings.database_url_for("jobs"), settings.database_url_for("invoicing")
    closed = scalar(jobs, "SELECT count(*) FROM events WHERE event_type = 'JobClosed'")
    drafts = scalar(invoicing, "SELECT count(*) FROM invoices WHERE job_id IS NOT NULL")
    jobs_drafted = scalar(invoicing, "SELECT count(DISTINCT job_id) FROM invoices")
    twice = scalar(
        invoicing,
        "SELECT count(*) FROM (SELECT 1 FROM invoices WHERE invoice_number IS NOT NULL"
        " GROUP BY shop_id, invoice_number HAVING count(*) > 1) AS d",
    )
    sent = scalar(invoicing, "SELECT count(*) FROM invoices WHERE sent_at IS NOT NULL")
    return [
        Row("JobClosed events = jobs the technicians closed", len(told.closed), closed),
        Row("drafts = jobs closed", len(told.closed), drafts),
        Row("jobs with a draft = jobs closed", len(told.closed), jobs_drafted),
        Row("invoice numbers used twice", 0, twice),
        Row("invoices sent = sends the office made", len(told.sent), sent),
    ]


def _messages(settings: Settings, told: Told, capture: str) -> list[Row]:
    records = requests.get(f"{capture}/api/messages?attachments=0", timeout=60).json()
    by_token = {url.rsplit("/p/", 1)[1]: invoice for invoice, url in told.sent.items()}
    sms: Counter[str] = Counter()
    for record in records:
        found = (
            TOKEN_IN_LINK.search(record.get("body") or "") if record["channel"] == "sms" else None
        )
        if found and found.group(1) in by_token:
            sms[by_token[found.group(1)]] += 1
    with psycopg.connect(settings.database_url_for("notifications")) as conn:
        owner: dict[str, str] = dict(
            conn.execute("SELECT message_id, invoice_id FROM messages").fetchall()
        )
    emails: Counter[str] = Counter(
        owner[r["custom_args"]["message_id"]]
        for r in records
        if r["channel"] == "email" and r.get("custom_args", {}).get("message_id") in owner
    )
    return [
        Row("sent invoices without exactly one SMS", 0, _not_once(told.sent, sms)),
        Row("sent invoices without exactly one email", 0, _not_once(told.sent, emails)),
    ]


def _not_once(invoices: dict[str, str], counts: Counter[str]) -> int:
    return sum(1 for invoice in invoices if counts[invoice] != 1)


def _payments(settings: Settings, told: Told, providers: Providers) -> list[Row]:
    intents = _stripe_intents(providers)
    succeeded = [i for i in intents if i["status"] == "succeeded"]
    per_attempt = Counter(i["metadata"].get("charge") for i in succeeded)
    at_stripe: Counter[str] = Counter()
    for intent in succeeded:
        at_stripe[intent["metadata"].get("invoice", "")] += int(intent["amount"])
    payments_db = settings.database_url_for("payments")
    with psycopg.connect(payments_db) as conn:
        recorded: Counter[str] = Counter(
            dict(
                conn.execute(
                    "SELECT invoice_id, sum(amount_cents) FROM charges"
                    " WHERE status = 'succeeded' GROUP BY invoice_id"
                ).fetchall()
            )
        )
        told_twice = conn.execute(
            "SELECT count(*) FROM (SELECT value::jsonb ->> 'payment_id' FROM events"
            " WHERE event_type = 'PaymentReceived' GROUP BY 1 HAVING count(*) > 1) AS d"
        ).fetchone()
    with psycopg.connect(settings.database_url_for("invoicing")) as conn:
        paid: Counter[str] = Counter(
            dict(conn.execute("SELECT invoice_id, paid_cents FROM invoices WHERE paid_cents > 0"))
        )
    invoices = set(told.paid) | set(at_stripe) | set(recorded) | set(paid)
    return [
        Row("payments the customers made (succeeded at Stripe)", _paid_count(told), len(succeeded)),
        Row("attempts charged twice at Stripe", 0, sum(1 for n in per_attempt.values() if n > 1)),
        Row("PaymentReceived told twice", 0, int(told_twice[0]) if told_twice else 0),
        Row("invoices where Stripe ≠ payments' record", 0, _differ(invoices, at_stripe, recorded)),
        Row("invoices where payments ≠ invoicing's paid", 0, _differ(invoices, recorded, paid)),
        Row(
            "invoices where the customer's pay ≠ invoicing's", 0, _differ(invoices, told.paid, paid)
        ),
    ]


def _paid_count(told: Told) -> int:
    return told.payments_made


def _differ(invoices: set[str], left: Counter[str], right: Counter[str]) -> int:
    return sum(1 for invoice in invoices if left[invoice] != right[invoice])


def _stripe_intents(providers: Providers) -> list[dict[str, Any]]:
    client = stripe.StripeClient(
        providers.stripe_key, base_addresses={"api": providers.localstripe}
    )
    cards = [
        pi.to_dict()
        for pi in client.v1.payment_intents.list(params={"limit": 100}).auto_paging_iter()
    ]
    banks: list[dict[str, Any]] = requests.get(
        f"{providers.ach}/_config/intents", timeout=30
    ).json()
    return [{**i, "metadata": i.get("metadata") or {}} for i in cards + banks]


def _aging(settings: Settings, reporting: str, token: str) -> Row:
    open_cents = scalar(
        settings.database_url_for("invoicing"),
        "SELECT sum(balance_cents) FROM invoices WHERE sent_at IS NOT NULL AND status <> 'void'",
    )
    return Row(
        "AR aging total = sum of open balances (cents)", open_cents, aging_total(reporting, token)
    )


def aging_total(reporting: str, token: str) -> int:
    total = 0
    for shop in SHOPS:
        headers = {"Authorization": f"Bearer {token}", "X-Shop-Id": shop}
        report = requests.get(reporting + "/reports/ar-aging", headers=headers, timeout=30)
        total += int(report.json()["total"]["total_cents"])
    return total


def _dead_letters(settings: Settings) -> int:
    services = ("jobs", "invoicing", "payments", "notifications", "reporting", "gateway")
    query = "SELECT count(*) FROM inbox WHERE outcome = 'dead_lettered'"
    return sum(scalar(settings.database_url_for(s), query) for s in services)


def table(found: list[Row], facts: dict[str, Any]) -> str:
    width = max(len(r.claim) for r in found)
    lines = [f"{'claim':<{width}}  {'expected':>10}  {'actual':>10}  ", "-" * (width + 30)]
    for r in found:
        lines.append(
            f"{r.claim:<{width}}  {r.wanted:>10}  {r.actual:>10}  {'ok' if r.holds else 'MISS'}"
        )
    lines.append("-" * (width + 30))
    lines += [f"{k}: {json.dumps(v) if not isinstance(v, str) else v}" for k, v in facts.items()]
    return "\n".join(lines)
