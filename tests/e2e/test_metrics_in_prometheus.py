"""Every panel of every shipped Grafana dashboard returns data from a real Prometheus (Debian's
package) scraping every process of the platform, after demo traffic through the whole flow: a job
closed, its draft sent (text and email), viewed, paid in two parts by card, part refunded, a
forged Stripe webhook refused. Business figures are checked against what the test did."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from shared.devstack import dashboards, infra, prometheus
from tests.e2e.test_card_payments import Page, status_of
from tests.e2e.test_pay_link import page_url
from tests.support.api import Api, close_job, create_customer, create_job, customer_body
from tests.support.platform import RunningPlatform, wait_for

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        shutil.which(prometheus.BINARY) is None, reason="`make test` installs prometheus"
    ),
]
SHOP = "shop-metrics"


@pytest.fixture(scope="module")
def prometheus_url(
    module_platform: RunningPlatform, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    targets = {name: f"127.0.0.1:{proc.port}" for name, proc in module_platform.procs.items()}
    folder = tmp_path_factory.mktemp("prometheus")
    port = infra.free_port()
    text = prometheus.config(targets, interval="1s")
    proc = prometheus.start(port, text, folder, (folder / "prometheus.log").open("ab"))
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        infra.stop(proc)


def query(base: str, expr: str) -> list[dict[str, Any]]:
    answer = requests.get(f"{base}/api/v1/query", params={"query": expr}, timeout=10).json()
    assert answer["status"] == "success", (expr, answer)
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result


def value(base: str, expr: str) -> float:
    found = query(base, expr)
    return float(found[0]["value"][1]) if found else float("nan")


def scrape_errors(base: str) -> dict[str, str]:
    """Each target's last scrape error and duration, to tell a slow scrape from a dead one."""
    targets = requests.get(f"{base}/api/v1/targets", timeout=10).json()["data"]["activeTargets"]
    return {
        target["labels"]["job"]: f"{target['lastError']} ({target['lastScrapeDuration']:.3f} s)"
        for target in targets
    }


def the_whole_flow(platform: RunningPlatform) -> dict[str, int]:
    """A job closed and invoiced, sent, viewed, paid in two parts, part refunded; a forged
    webhook. Returns what was paid and refunded, in cents."""
    jobs = Api(platform.url("jobs-web"), SHOP)
    invoicing = Api(platform.url("invoicing-web"), SHOP)
    payments = Api(platform.url("payments-web"), SHOP)
    close_job(jobs, create_job(jobs, create_customer(jobs)))

    def draft() -> str | None:
        items = invoicing.get("/invoices", status="draft").json()["items"]
        return str(items[0]["invoice_id"]) if items else None

    invoice_id = wait_for(draft, 30, "the closed job's draft")
    sent = invoicing.post(f"/invoices/{invoice_id}/send")
    assert sent.status_code == 200, sent.text
    total = sent.json()["totals"]["total_cents"]
    url = page_url(platform, sent.json())
    wait_for(lambda: requests.get(url, timeout=10).status_code == 200, 30, "the pay page")
    page = Page(url)  # viewed
    assert page.pay(10_000).status_code == 201
    assert page.pay(total - 10_000).status_code == 201
    wait_for(lambda: status_of(invoicing, invoice_id)["status"] == "paid", 30, "paid")
    charge = payments.get("/payments", invoice_id=invoice_id).json()["items"][0]
    refund = payments.session.post(
        f"{payments.base}/payments/{charge['charge_id']}/refunds",
        json={"amount_cents": 2_500, "reason": "goodwill"},
        headers={"Idempotency-Key": "metrics-refund-1"},
        timeout=20,
    )
    assert refund.status_code == 201, refund.text
    forged = requests.post(
        platform.url("payments-web") + "/webhooks/stripe",
        data=b"{}",
        headers={"Stripe-Signature": "t=1,v1=forged"},
        timeout=10,
    )
    assert forged.status_code == 400
    return {"paid": total, "refunded": 2_500}


def test_every_dashboard_panel_returns_data_after_the_whole_flow(
    module_platform: RunningPlatform, prometheus_url: str
) -> None:
    done = the_whole_flow(module_platform)
    base = prometheus_url

    def scraped_after_the_flow() -> bool:
        collected = value(base, "sum(payments_collected_cents)")
        paid = value(base, "sum(invoice_send_to_paid_seconds_count)")
        owed = value(base, "sum(ar_outstanding_cents)")  # the refunded part is owed again
        refunded = value(base, 'sum(invoices{status="partially_refunded"})')
        return (collected, paid, owed, refunded) == (done["paid"], 1, done["refunded"], 1)

    wait_for(scraped_after_the_flow, 60, "Prometheus to scrape the flow's figures")
    assert value(base, "sum(refunds_issued_cents)") == done["refunded"]
    assert value(base, 'sum(webhook_verification_failures_total{provider="stripe"})') == 1
    for provider, least in (("twilio", 1), ("sendgrid", 1), ("stripe", 3)):
        calls = f'sum(provider_calls_total{{outcome="ok", provider="{provider}"}})'
        wait_for(lambda q=calls, n=least: value(base, q) >= n, 30, f"{provider} calls")

    # Every process answered Prometheus's scrapes with metrics it could read (a 1 s scrape may
    # time out now and then on a loaded machine: any answer since Prometheus started counts).
    def answered() -> set[str]:
        return {found["metric"]["job"] for found in query(base, "max_over_time(up[10m]) == 1")}

    everyone = set(module_platform.procs)
    with contextlib.suppress(AssertionError):  # Prometheus takes up new targets every 5 s
        wait_for(lambda: answered() == everyone, 30, "every first scrape", interval=1)
    assert answered() == everyone, scrape_errors(base)

    def empty_panels() -> list[str]:
        return [
            f"{board} / {panel}: {expr}"
            for board, panel, expr in dashboards.queries()
            if not query(base, expr)
        ]

    wait_for(lambda: not empty_panels(), 30, "every panel to have data")
    assert empty_panels() == []
    assert len(dashboards.queries()) >= 25


def test_the_logs_of_the_whole_flow_carry_no_card_data_emails_or_phone_numbers(
    module_platform: RunningPlatform, prometheus_url: str
) -> None:
    """After the flow above (texts and emails sent, cards charged, a refund): every process's
    log is free of the customer's email and phone and of card numbers."""
    logs = {
        path.name: path.read_text(errors="replace")
        for path in module_platform.log_dir.glob("*.log")
    }
    assert len(logs) >= len(module_platform.procs)
    secrets_of_the_customer = {
        "email": customer_body()["email"],
        "phone": customer_body()["phone"],
        "phone digits": customer_body()["phone"].lstrip("+")[1:],
        "card number": "4242424242424242",
    }
    leaks = [
        f"{name}: {what}"
        for name, text in logs.items()
        for what, secret in secrets_of_the_customer.items()
        if secret in text
    ]
    assert leaks == []
    assert "Twilio API Request" in logs["notifications-consumer.log"]  # the sending was logged
