"""`make bench` (part): InvoiceSent → the SMS and the email handed to the providers. 300 invoices
are published at 20/s to the notifications worker (consumer + sender) on a real broker and
PostgreSQL; each message's latency runs from the publish to its arrival at the local Twilio /
SendGrid stand-in. Baseline in the same run: the same two SDK calls made directly (the provider
round trips and the PDF, nothing else). Goal: p99 ≤ 500 ms."""

from __future__ import annotations

import os
import statistics
import subprocess
import time
import uuid
from datetime import UTC, date, datetime

import requests

from bench.pipeline import VAR, Infrastructure, _env, _ok
from bench.table import Figure, Goal, report
from services.notifications import bootstrap
from services.notifications.domain.messages import messages_for
from services.notifications.service_layer.handlers import invoice_email
from services.notifications.service_layer.store import Claimed
from shared import contracts
from shared.devstack import infra
from shared.devstack.processes import WORKERS, worker
from shared.envelope import Envelope
from shared.kafka import make_producer

INVOICES = 300
RATE = 20.0
GOAL_P99_MS = 500.0
STALLED_SECONDS = 60.0
"""Messages still missing after this long without any arriving count as lost: the run fails."""


def invoice_sent(n: int) -> contracts.InvoiceSent:
    place = contracts.Address(line1="1 Elm St", city="Fresno", region="CA", postal_code="93701")
    line = contracts.InvoiceLine(
        line_id="l1",
        kind="item",
        description="Water heater flush",
        quantity=1,
        unit_price_cents=12900,
        taxable=False,
        tax_rate_percent=0,
        subtotal_cents=12900,
        tax_cents=0,
        total_cents=12900,
    )
    token = uuid.uuid4().hex[:22]
    return contracts.InvoiceSent(
        invoice_id=f"inv-{uuid.uuid4()}",
        shop_id="bench-shop",
        invoice_number=f"INV-2026-{n:06d}",
        sent_at=datetime.now(UTC),
        due_date=date(2026, 12, 31),
        customer=contracts.CustomerSnapshot(
            customer_id=f"c{n}",
            name="Dana Reyes",
            email="dana@example.com",
            phone="+15595550142",
            billing_address=place,
            payment_terms_days=30,
        ),
        service_address=place,
        lines=[line],
        totals=contracts.InvoiceTotals(subtotal_cents=12900, tax_cents=0, total_cents=12900),
        allowed_payment_methods=["card"],
        pay_url=f"http://127.0.0.1:8004/p/{token}",
        pay_token=token,
        shop=contracts.ShopBranding(name="Northwind HVAC"),
    )


def p(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1]


def measure() -> list[Figure]:
    with Infrastructure() as settings:
        capture_port = infra.free_port()
        capture = infra.start_capture(capture_port, (VAR / "bench-capture.log").open("ab"))
        base = f"http://127.0.0.1:{capture_port}"
        os.environ["TWILIO_API_BASE"] = os.environ["SENDGRID_API_BASE"] = base
        name = "notifications-consumer"
        proc = worker(name, WORKERS[name][0], infra.free_port())
        env = {**os.environ, **_env(settings), "PORT": str(proc.port)}
        popen = subprocess.Popen(
            proc.argv, env=env, cwd=infra.ROOT, preexec_fn=infra.die_with_parent
        )
        try:
            infra.wait_until(lambda: _ok(proc.url + "/readyz"), 180, "the notifications worker")
            time.sleep(3)  # let the consumer group settle
            baseline = direct_calls(base)
            latencies = through_the_worker(settings.kafka_bootstrap_servers, base)
        finally:
            infra.stop(popen, 30)
            infra.stop(capture)
    sms, email = latencies["sms"], latencies["email"]
    both = sms + email
    base99 = p(baseline, 99)
    title = f"InvoiceSent → SMS and email handed to the providers ({INVOICES} at {RATE:.0f}/s)"
    print(f"\n=== {title} ===")
    print(f"messages measured: {len(sms)} SMS, {len(email)} email (of {INVOICES} each)")
    print(f"SMS   p50 {statistics.median(sms):6.1f} ms  p99 {p(sms, 99):6.1f} ms")
    print(f"email p50 {statistics.median(email):6.1f} ms  p99 {p(email, 99):6.1f} ms (with PDF)")
    ratio = p(both, 99) / base99
    print(f"baseline: the two SDK calls made directly, p99 {base99:6.1f} ms → {ratio:4.1f}×")
    print(f"goal p99 ≤ {GOAL_P99_MS:.0f} ms → {'MET' if p(both, 99) <= GOAL_P99_MS else 'NOT MET'}")
    if len(sms) < INVOICES or len(email) < INVOICES:
        raise SystemExit(f"lost: only {len(sms)} SMS and {len(email)} emails of {INVOICES} arrived")
    return [
        Figure(
            issue=6,
            name=f"InvoiceSent → SMS and email at the providers, p99 of {2 * INVOICES}",
            value=p(both, 99),
            unit="ms",
            baseline=base99,
            baseline_name="the two SDK calls made directly",
            higher_is_better=False,
            goals=(Goal(GOAL_P99_MS, at_least=False),),
        )
    ]


def main() -> int:
    return report(measure())


def direct_calls(base: str) -> list[float]:
    sms, email = bootstrap.sms(), bootstrap.email()
    out = []
    for n in range(50):
        sent = invoice_sent(n)
        started = time.perf_counter()
        text, mail = messages_for(sent)
        sms.send(text.recipient, text.body, text.message_id)
        email.send(invoice_email(Claimed(mail, sent)))
        out.append((time.perf_counter() - started) * 1000)
    return out


def through_the_worker(bootstrap: str, base: str) -> dict[str, list[float]]:
    producer = make_producer(bootstrap, client_id="bench-notify")
    published: dict[str, float] = {}
    for n in range(INVOICES):
        sent = invoice_sent(1000 + n)
        envelope = Envelope(event=sent, tenant=sent.shop_id, source="/bench")
        published[sent.pay_url] = time.time()
        producer.send(
            envelope.topic, key=envelope.key, value=envelope.value(), headers=envelope.headers()
        )
        producer.flush()
        time.sleep(1 / RATE)
    producer.close()
    messages: list[dict[str, object]] = []
    arrived, deadline = 0, time.monotonic() + STALLED_SECONDS
    while time.monotonic() < deadline:
        messages = requests.get(base + "/api/messages", timeout=10).json()
        now_arrived = sum(1 for m in messages if _link(m) in published)
        if now_arrived >= 2 * INVOICES:
            break
        if now_arrived > arrived:  # still draining: wait on while it moves
            arrived, deadline = now_arrived, time.monotonic() + STALLED_SECONDS
        time.sleep(0.5)
    latencies: dict[str, list[float]] = {"sms": [], "email": []}
    for m in messages:
        link = _link(m)
        if link in published:
            at = datetime.fromisoformat(str(m["at"])).timestamp()
            latencies[str(m["channel"])].append((at - published[link]) * 1000)
    return latencies


def _link(message: dict[str, object]) -> str:
    text = str(message.get("body") or message.get("payload") or "")
    start = text.find("http://127.0.0.1:8004/p/")
    return text[start : start + len("http://127.0.0.1:8004/p/") + 22] if start >= 0 else ""


if __name__ == "__main__":
    raise SystemExit(main())
