"""AR aging end to end: invoices sent through invoicing and facts on the topics (some days old,
some out of order, one twice) reach the reporting consumer; the report — in total, per customer, as
of past days, its drill-down and its CSV — adds up to the cent; another shop sees none of it; the
rebuild command replays the topics into a read model that gives the same reports, and the
consumer goes on from where the rebuild stopped."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from shared import contracts
from shared.devstack import infra
from shared.kafka import group_members
from tests.e2e.test_pay_link import sent_invoice
from tests.support.api import Api
from tests.support.platform import RunningPlatform, wait_for
from tests.support.topics import publish
from tests.unit import builders

pytestmark = pytest.mark.e2e
SHOP = "shop-aging"
NOW = datetime.now(UTC)
ZONE = ZoneInfo("America/Los_Angeles")
"""The shop's time zone (invoicing's default branding): its days are the report's days."""


def day_of(moment: datetime) -> date:
    return moment.astimezone(ZONE).date()


def old_invoice(
    invoice_id: str, customer: str, cents: int, days_late: int
) -> contracts.InvoiceSent:
    sent = NOW - timedelta(days=days_late + 30)
    return contracts.InvoiceSent(
        invoice_id=invoice_id,
        shop_id=SHOP,
        invoice_number=f"INV-OLD-{invoice_id}",
        sent_at=sent,
        due_date=day_of(NOW - timedelta(days=days_late)),
        customer=builders.customer_snapshot(customer_id=customer, name=f"Customer {customer}"),
        service_address=builders.address(),
        lines=[],
        totals=contracts.InvoiceTotals(subtotal_cents=cents, tax_cents=0, total_cents=cents),
        allowed_payment_methods=["card", "ach"],
        pay_url=f"https://pay.example.com/p/{invoice_id}",
        shop=contracts.ShopBranding(name="Shop Aging", time_zone="America/Los_Angeles"),
    )


def paid(invoice_id: str, payment_id: str, cents: int, days_ago: int) -> contracts.PaymentReceived:
    return contracts.PaymentReceived(
        payment_id=payment_id,
        invoice_id=invoice_id,
        shop_id=SHOP,
        received_at=NOW - timedelta(days=days_ago),
        amount_cents=cents,
        method="card",
    )


def report(reporting: Api, **params: Any) -> dict[str, Any]:
    answer = reporting.get("/reports/ar-aging", **params)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def cents(line: dict[str, Any]) -> list[int]:
    return [b["cents"] for b in line["buckets"]]


def test_aging_adds_up_live_as_of_and_after_a_rebuild(
    module_platform: RunningPlatform, module_settings: Any
) -> None:
    bootstrap = module_settings.kafka_bootstrap_servers
    reporting = Api(module_platform.url("reporting-web"), SHOP)
    invoicing = Api(module_platform.url("invoicing-web"), SHOP)
    sent_invoice(invoicing, cents=12_900)  # due in 15 days: Current
    facts: list[contracts.Event] = [
        paid("old-1", "p1", 2_500, days_ago=20),  # before its invoice arrives
        old_invoice("old-1", "c1", 10_000, days_late=45),  # 31–60
        old_invoice("old-2", "c2", 7_000, days_late=100),  # 91+
        old_invoice("old-3", "c1", 4_000, days_late=10),  # 1–30, then refunded after paid
        paid("old-3", "p3", 4_000, days_ago=5),
        contracts.RefundIssued(
            refund_id="r3",
            payment_id="p3",
            invoice_id="old-3",
            shop_id=SHOP,
            refunded_at=NOW - timedelta(days=2),
            amount_cents=1_000,
        ),
    ]
    for fact in [*facts, facts[0]]:  # the first payment twice
        publish(bootstrap, fact, SHOP)

    def total() -> int:
        return int(report(reporting)["total"]["total_cents"])

    wait_for(lambda: total() == 12_900 + 7_500 + 7_000 + 1_000, 30, "the report to add up")
    today = report(reporting, group_by="customer")
    assert cents(today["total"]) == [12_900, 1_000, 7_500, 0, 7_000]
    assert [b["count"] for b in today["total"]["buckets"]] == [1, 1, 1, 0, 1]
    by_customer = {c["customer_id"]: cents(c) for c in today["customers"]}
    assert by_customer == {
        "c-9": [12_900, 0, 0, 0, 0],
        "c1": [0, 1_000, 7_500, 0, 0],
        "c2": [0, 0, 0, 0, 7_000],
    }
    # Ten days ago: old-3 not yet due and unpaid, old-1 unpaid and 35 days late, fresh not sent.
    # (old-2, 90 days late then, is in 61–90)
    ten_days_ago = day_of(NOW - timedelta(days=10))
    back_then = report(reporting, as_of=ten_days_ago.isoformat())
    assert cents(back_then["total"]) == [4_000, 0, 7_500, 7_000, 0]
    other = report(reporting, buckets="15,45")
    assert [b["label"] for b in other["total"]["buckets"]] == ["Current", "1–15", "16–45", "46+"]
    drill = reporting.get("/reports/ar-aging/invoices", bucket="2").json()["items"]
    assert [(i["number"], i["balance_cents"]) for i in drill] == [("INV-OLD-old-1", 7_500)]
    sheet = list(csv.reader(io.StringIO(reporting.get("/reports/ar-aging.csv").text)))
    assert sheet[0] == [
        "Customer",
        "Current",
        "1–30",
        "31–60",
        "61–90",
        "91+",
        "Total",
        "Open invoices",
    ]
    assert sheet[-1] == ["Total", "129.00", "10.00", "75.00", "0.00", "70.00", "284.00", "4"]
    future = reporting.get("/reports/ar-aging", as_of=(day_of(NOW) + timedelta(days=3)).isoformat())
    assert future.status_code == 422 and future.json()["fields"][0]["field"] == "as_of"
    for params in (
        {"bucket": "²"},
        {"bucket": "9"},
        {"buckets": "30,60,2000000000", "bucket": "3"},
        {"as_of": "0001-01-05", "bucket": "1"},
        {"buckets": "60,30"},
    ):
        bad = reporting.get("/reports/ar-aging/invoices", **params)
        assert bad.status_code == 422, (params, bad.text)
    assert (
        report(Api(module_platform.url("reporting-web"), "shop-nosy"))["total"]["total_cents"] == 0
    )

    # Rebuild from the topics: the consumer stops, the command replays, the reports are equal.
    module_platform.stop("reporting-consumer")
    wait_for(lambda: group_members(bootstrap, "reporting") == 0, 30, "the group to empty")
    rebuilt = subprocess.run(
        [sys.executable, "-m", "services.reporting.entrypoints.rebuild"],
        env={**module_platform.env, "PORT": "0"},
        cwd=infra.ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert "rebuilt:" in rebuilt.stdout and "events/s" in rebuilt.stdout
    assert report(reporting, group_by="customer") == today
    assert report(reporting, as_of=ten_days_ago.isoformat()) == back_then
    module_platform.start("reporting-consumer")
    module_platform.wait_ready(["reporting-consumer"])
    publish(bootstrap, paid("old-2", "p2", 7_000, days_ago=0), SHOP)
    wait_for(lambda: total() == 12_900 + 7_500 + 1_000, 30, "the consumer to go on")
