"""`make bench` (part): the customer's pay page — server time over 500 opens (Flask app, real
PostgreSQL: the open is counted, the ledger read, the page rendered) against the same stack
answering an unknown link (the plain 404 page) in the same run, and the page's weight without
Stripe.js against the size of what it has to show (the invoice's InvoiceSent as JSON: a page
cannot carry less than its facts without leaving some out). Goals: p95 ≤ 20 ms; ≤ 60 KB."""

from __future__ import annotations

import gzip
import statistics
import time
from datetime import UTC, date, datetime
from decimal import Decimal

import psycopg

from bench.pipeline import Infrastructure
from bench.table import Figure, Goal, report
from shared import contracts
from shared.envelope import Envelope

OPENS = 500
GOAL_P95_MS = 20.0
GOAL_KB = 60.0
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"
TOKEN = "BenchPayToken0123456789"


def invoice_sent() -> contracts.InvoiceSent:
    place = contracts.Address(line1="1 Elm St", city="Fresno", region="CA", postal_code="93701")
    lines = [
        contracts.InvoiceLine(
            line_id=f"l{n}",
            kind="item",
            description=f"Part {n} — 3/4 in. copper fitting",
            quantity=Decimal(1),
            unit_price_cents=1299,
            taxable=True,
            tax_rate_percent=Decimal("8.25"),
            subtotal_cents=1299,
            tax_cents=107,
            total_cents=1406,
        )
        for n in range(12)
    ]
    return contracts.InvoiceSent(
        invoice_id="inv-bench",
        shop_id="bench-shop",
        invoice_number="INV-2026-000123",
        sent_at=datetime.now(UTC),
        due_date=date(2026, 12, 31),
        customer=contracts.CustomerSnapshot(
            customer_id="c", name="Dana Reyes", billing_address=place, payment_terms_days=30
        ),
        service_address=place,
        lines=lines,
        totals=contracts.InvoiceTotals(subtotal_cents=15588, tax_cents=1284, total_cents=16872),
        allowed_payment_methods=["card", "ach"],
        pay_url=f"http://127.0.0.1:8004/p/{TOKEN}",
        pay_token=TOKEN,
        shop=contracts.ShopBranding(name="Northwind HVAC"),
    )


def timed(client: object, path: str) -> list[float]:
    get = client.get  # type: ignore[attr-defined]
    get(path, headers={"User-Agent": IPHONE})
    out = []
    for _ in range(OPENS):
        started = time.perf_counter()
        get(path, headers={"User-Agent": IPHONE})
        out.append((time.perf_counter() - started) * 1000)
    return out


def measure() -> list[Figure]:
    sent = invoice_sent()
    with Infrastructure() as settings:
        from services.payments.adapters.postgres import ConsumerUnitOfWork
        from services.payments.entrypoints.flask_app import STATIC, app
        from services.payments.service_layer import handlers

        with psycopg.connect(settings.database_url_for("payments")) as conn:
            envelope = Envelope(event=sent, tenant="bench-shop", source="/bench")
            handlers.when_invoicing_tells_keep_copy(envelope, ConsumerUnitOfWork(conn))
            conn.commit()
        client = app.test_client()
        page = client.get(f"/p/{TOKEN}", headers={"User-Agent": IPHONE}).get_data()
        ours = timed(client, f"/p/{TOKEN}")
        baseline = timed(client, "/p/UnknownLinkToken012345")
    script = (STATIC / "pay.js").read_bytes()
    facts = len(envelope.value()) / 1024
    p50, p95 = statistics.median(ours), statistics.quantiles(ours, n=20)[-1]
    base95 = statistics.quantiles(baseline, n=20)[-1]
    weight = (len(page) + len(script)) / 1024
    packed = (len(gzip.compress(page)) + len(gzip.compress(script))) / 1024
    print("\n=== pay page (payments' Flask app, real PostgreSQL, 12-line invoice) ===")
    print(f"server time over {OPENS} opens: p50 {p50:5.2f} ms  p95 {p95:5.2f} ms")
    ratio = p95 / base95
    print(f"baseline (unknown link, same stack): p95 {base95:5.2f} ms → page is {ratio:4.1f}×")
    print(f"page weight without Stripe.js: {weight:5.1f} KB ({packed:4.1f} KB gzipped)")
    print(f"the invoice's facts it shows (its InvoiceSent as JSON): {facts:5.1f} KB")
    print(
        f"goals: p95 ≤ {GOAL_P95_MS:.0f} ms → {'MET' if p95 <= GOAL_P95_MS else 'NOT MET'}; "
        f"≤ {GOAL_KB:.0f} KB → {'MET' if weight <= GOAL_KB else 'NOT MET'}"
    )
    return [
        Figure(
            issue=5,
            name=f"pay page server time, p95 of {OPENS} opens",
            value=p95,
            unit="ms",
            baseline=base95,
            baseline_name="404 page, same stack",
            higher_is_better=False,
            goals=(Goal(GOAL_P95_MS, at_least=False),),
        ),
        Figure(
            issue=5,
            name="pay page weight (HTML + pay.js, no Stripe.js)",
            value=weight,
            unit="KB",
            baseline=facts,
            baseline_name="its InvoiceSent as JSON",
            higher_is_better=False,
            goals=(Goal(GOAL_KB, at_least=False),),
        ),
    ]


def main() -> int:
    return report(measure())


if __name__ == "__main__":
    raise SystemExit(main())
