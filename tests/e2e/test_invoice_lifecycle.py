"""The invoice lifecycle over HTTP and the broker: three ways in, review, edit, Send (numbered,
once, on the topic), payments' facts in any order, the PDF, concurrent sends, refusals."""

from __future__ import annotations

import io
import json
import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader

from shared import contracts
from tests.support.api import Api, address, close_job, create_customer, create_job
from tests.support.platform import RunningPlatform, wait_for
from tests.support.topics import publish, read_all

pytestmark = pytest.mark.e2e
SHOP = "shop-life"


def ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def customer_snapshot(**overrides: Any) -> dict[str, Any]:
    return {
        "customer_id": "cust-scratch",
        "name": "Dana Reyes",
        "email": "dana@example.com",
        "phone": "+15595550142",
        "billing_address": address(9),
        "payment_terms": "net_15",
        "payment_terms_days": 15,
        **overrides,
    }


def scratch(invoicing: Api, **overrides: Any) -> dict[str, Any]:
    body = {
        "customer": customer_snapshot(),
        "service_address": address(9),
        "lines": [{"description": "Service call", "quantity": "1", "unit_price_cents": 12900}],
        **overrides,
    }
    return ok(invoicing.post("/invoices", body), 201)


def codes(invoice: dict[str, Any]) -> list[str]:
    return [p["code"] for p in invoice["review"]["problems"]]


def drafted_from_job(jobs: Api, invoicing: Api, **job: Any) -> dict[str, Any]:
    job_id = create_job(jobs, create_customer(jobs), **job)
    close_job(jobs, job_id)
    wait_for(lambda: invoicing.get("/invoices", job_id=job_id).json()["items"], 20, "the draft")
    (summary,) = invoicing.get("/invoices", job_id=job_id).json()["items"]
    return ok(invoicing.get(f"/invoices/{summary['invoice_id']}"))


def shop_today(invoicing: Api) -> date:
    """Today where the shop is (due dates count from the shop's day, not the machine's)."""
    zone = invoicing.get("/settings").json()["time_zone"]
    return datetime.now(ZoneInfo(zone)).date()


def test_three_ways_in_review_edit_send_and_the_topic(
    module_platform: RunningPlatform, module_settings: Any
) -> None:
    bootstrap = module_settings.kafka_bootstrap_servers
    jobs = Api(module_platform.url("jobs-web"), SHOP)
    invoicing = Api(module_platform.url("invoicing-web"), SHOP)
    invoicing.session.headers["X-Actor"] = "Olivia (office)"

    from_job = drafted_from_job(jobs, invoicing)
    assert (from_job["status"], from_job["source"]) == ("draft", "job")
    assert [line["kind"] for line in from_job["lines"]] == ["item", "item", "labor"]
    assert codes(from_job) == ["addresses_differ"]
    assert (
        from_job["review"]["due_date"] == (shop_today(invoicing) + timedelta(days=30)).isoformat()
    )

    customer = create_customer(jobs, name="Estimate customer")
    estimate = ok(
        jobs.post(
            "/estimates",
            {
                "customer_id": customer,
                "service_address": address(9),
                "line_items": [
                    {"description": "Condenser", "quantity": "1", "unit_price_cents": 420000}
                ],
            },
        ),
        201,
    )["estimate_id"]
    ok(jobs.post(f"/estimates/{estimate}/approve", {"approved_by": "Pat"}))

    def from_estimate() -> Any:
        return invoicing.post("/invoices/from-estimate", {"estimate_id": estimate})

    wait_for(lambda: from_estimate().status_code == 201, 20, "invoicing's copy of the estimate")
    again = ok(from_estimate())
    assert again["source"] == "estimate" and again["estimate_id"] == estimate
    assert again["totals"]["subtotal_cents"] == 420000

    draft = scratch(invoicing)
    assert (draft["source"], draft["totals"]["total_cents"]) == ("scratch", 12900)
    assert codes(draft) == []  # same address, taxed line, customer with contacts

    invoice_id = from_job["invoice_id"]
    line = from_job["lines"][0]["line_id"]
    edited = ok(
        invoicing.session.patch(
            f"{invoicing.base}/invoices/{invoice_id}/lines/{line}",
            json={"unit_price_cents": 119900},
            timeout=10,
        )
    )
    assert edited["lines"][0]["subtotal_cents"] == 119900
    ok(
        invoicing.session.put(
            f"{invoicing.base}/invoices/{invoice_id}/due-date",
            json={"due_date": "2030-01-31"},
            timeout=10,
        )
    )
    sent = ok(invoicing.post(f"/invoices/{invoice_id}/send"))
    assert sent["status"] == "sent" and sent["invoice_number"].startswith(
        f"INV-{shop_today(invoicing).year}-"
    )
    assert sent["due_date"] == "2030-01-31" and sent["pay_url"].split("/p/")[1]
    assert invoicing.post(f"/invoices/{invoice_id}/send").status_code == 409

    messages = [
        json.loads(m.value or b"")
        for m in read_all(bootstrap, "InvoiceSent", expect_at_least=1)
        if m.headers.get("ce_tenant") == SHOP
    ]
    (event,) = [m for m in messages if m["invoice_id"] == invoice_id]
    assert (event["invoice_number"], event["due_date"]) == (sent["invoice_number"], "2030-01-31")
    assert event["totals"] == sent["totals"] and event["customer"]["email"] == "pat@example.com"
    assert event["shop"]["name"] == "Shop Life" and len(event["pay_token"]) >= 22

    history = ok(invoicing.get(f"/invoices/{invoice_id}/timeline"))["items"]
    # (delivery reports of the invoice's SMS and email may follow at any moment)
    history = [h for h in history if h["kind"] != "MessageDelivered"]
    assert [h["kind"] for h in history] == [
        "InvoiceDrafted",
        "InvoiceUpdated",
        "InvoiceUpdated",
        "InvoiceSent",
    ]
    assert history[1]["who"] == "Olivia (office)"
    wait_for(
        lambda: jobs.get(f"/jobs/{from_job['job_id']}").json()["invoice_sent"], 20, "jobs hears it"
    )

    pdf = invoicing.session.get(f"{invoicing.base}/invoices/{invoice_id}/pdf", timeout=10)
    assert pdf.headers["Content-Type"] == "application/pdf"
    text = PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    for cents in (
        sent["totals"]["subtotal_cents"],
        sent["totals"]["tax_cents"],
        sent["totals"]["total_cents"],
    ):
        assert f"${cents // 100:,}.{cents % 100:02d}" in text
    assert sent["invoice_number"] in text and sent["pay_url"] in text.replace("\n", "")


def test_payments_facts_before_send_and_in_any_order_converge(
    module_platform: RunningPlatform, module_settings: Any
) -> None:
    bootstrap = module_settings.kafka_bootstrap_servers
    invoicing = Api(module_platform.url("invoicing-web"), SHOP)
    invoice_id = scratch(invoicing)["invoice_id"]
    now = datetime.now(UTC)
    common = {"invoice_id": invoice_id, "shop_id": SHOP}
    publish(
        bootstrap,
        contracts.PaymentReceived(
            payment_id="p2", received_at=now, amount_cents=2900, method="card", **common
        ),
        SHOP,
    )
    publish(bootstrap, contracts.InvoiceViewed(viewed_at=now, **common), SHOP)
    wait_for(
        lambda: (
            [h["kind"] for h in invoicing.get(f"/invoices/{invoice_id}/timeline").json()["items"]][
                -1
            ]
            in ("PaymentReceived", "InvoiceViewed")
            and len(invoicing.get(f"/invoices/{invoice_id}/timeline").json()["items"]) == 3
        ),
        20,
        "the facts recorded on the draft",
    )
    assert ok(invoicing.get(f"/invoices/{invoice_id}"))["status"] == "draft"
    assert ok(invoicing.post(f"/invoices/{invoice_id}/send"))["status"] == "partially_paid"
    publish(
        bootstrap,
        contracts.PaymentReceived(
            payment_id="p1", received_at=now, amount_cents=10000, method="ach", **common
        ),
        SHOP,
    )
    publish(
        bootstrap,
        contracts.PaymentInitiated(
            payment_id="p1", initiated_at=now, amount_cents=10000, method="ach", **common
        ),
        SHOP,
    )
    wait_for(
        lambda: invoicing.get(f"/invoices/{invoice_id}").json()["status"] == "paid", 20, "paid"
    )
    paid = ok(invoicing.get(f"/invoices/{invoice_id}"))
    assert (paid["paid_cents"], paid["balance_cents"], paid["pending_cents"]) == (12900, 0, 0)
    listed = invoicing.get("/invoices", status="paid").json()["items"]
    assert invoice_id in [i["invoice_id"] for i in listed]


def test_fifty_concurrent_sends_take_fifty_consecutive_numbers(
    module_platform: RunningPlatform,
) -> None:
    invoicing = Api(module_platform.url("invoicing-web"), "shop-fifty")
    ok(
        invoicing.session.put(
            f"{invoicing.base}/settings",
            json={"number_prefix": "F-", "name": "Fifty Plumbing"},
            timeout=10,
        )
    )
    ids = [scratch(invoicing)["invoice_id"] for _ in range(50)]
    numbers: list[str] = []
    failures: list[str] = []
    start = threading.Barrier(50)

    def send(invoice_id: str) -> None:
        start.wait()
        response = invoicing.session.post(
            f"{invoicing.base}/invoices/{invoice_id}/send", timeout=30
        )
        if response.status_code == 200:
            numbers.append(response.json()["invoice_number"])
        else:
            failures.append(response.text)

    threads = [threading.Thread(target=send, args=(invoice_id,)) for invoice_id in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert sorted(numbers) == [f"F-{n:06d}" for n in range(1, 51)]


def test_refusals_write_nothing(module_platform: RunningPlatform, module_settings: Any) -> None:
    bootstrap = module_settings.kafka_bootstrap_servers
    invoicing = Api(module_platform.url("invoicing-web"), SHOP)
    empty = scratch(invoicing, lines=[])
    refused = invoicing.post(f"/invoices/{empty['invoice_id']}/send")
    assert refused.status_code == 422
    assert [f["field"] for f in refused.json()["fields"]] == ["no_lines"]
    assert ok(invoicing.get(f"/invoices/{empty['invoice_id']}")) == empty  # nothing written

    invoice = scratch(invoicing)
    invoice_id = invoice["invoice_id"]
    ok(invoicing.post(f"/invoices/{invoice_id}/send"))
    publish(
        bootstrap,
        contracts.PaymentReceived(
            payment_id="pay-full",
            invoice_id=invoice_id,
            shop_id=SHOP,
            received_at=datetime.now(UTC),
            amount_cents=12900,
            method="card",
        ),
        SHOP,
    )
    wait_for(
        lambda: invoicing.get(f"/invoices/{invoice_id}").json()["status"] == "paid", 20, "paid"
    )
    before = ok(invoicing.get(f"/invoices/{invoice_id}"))
    line = before["lines"][0]["line_id"]
    lower = invoicing.session.patch(
        f"{invoicing.base}/invoices/{invoice_id}/lines/{line}",
        json={"unit_price_cents": 100},
        timeout=10,
    )
    assert lower.status_code == 409 and lower.json()["error"] == "below_amount_paid"
    void = invoicing.post(f"/invoices/{invoice_id}/void", {"reason": "oops"})
    assert void.status_code == 409 and void.json()["error"] == "cannot_void"

    intruder = Api(module_platform.url("invoicing-web"), "shop-intruder")
    assert intruder.get(f"/invoices/{invoice_id}").status_code == 404
    assert intruder.post(f"/invoices/{invoice_id}/void").status_code == 404
    assert intruder.post(f"/invoices/{invoice_id}/notes", {"text": "x"}).status_code == 404
    assert (
        intruder.session.get(f"{intruder.base}/invoices/{invoice_id}/pdf", timeout=10).status_code
        == 404
    )
    assert ok(invoicing.get(f"/invoices/{invoice_id}"))["version"] == before["version"]

    unpaid = scratch(invoicing)["invoice_id"]
    voided = ok(invoicing.post(f"/invoices/{unpaid}/void", {"reason": "duplicate"}))
    assert voided["status"] == "void"
    assert (
        invoicing.post(
            f"/invoices/{unpaid}/lines",
            {"description": "x", "quantity": "1", "unit_price_cents": 1},
        ).status_code
        == 409
    )


def line(**overrides: Any) -> dict[str, Any]:
    return {"description": "Service call", "quantity": "1", "unit_price_cents": 12900, **overrides}


EXEMPT = customer_snapshot(tax_exempt=True, tax_exemption_certificate="EX-1")
REVIEW_CASES: dict[str, dict[str, Any]] = {
    "addresses_differ": {"service_address": address(44)},
    "line_exempt_customer_not": {"lines": [line(taxable=False)]},
    "customer_exempt_line_taxed": {"customer": EXEMPT, "lines": [line(taxable=True)]},
    "card_off_above_limit": {"lines": [line(unit_price_cents=600_000)]},
    "no_lines": {"lines": []},
    "total_not_positive": {"lines": [line(unit_price_cents=0)]},
    "no_contact": {"customer": customer_snapshot(email=None, phone=None)},
}


@pytest.mark.parametrize("code", sorted(REVIEW_CASES))
def test_each_review_check_fires_on_its_case_only(
    module_platform: RunningPlatform, code: str
) -> None:
    invoicing = Api(module_platform.url("invoicing-web"), SHOP)
    invoice = scratch(invoicing, **REVIEW_CASES[code])
    assert codes(invoice) == [code]
    errors = {"no_lines", "total_not_positive", "no_contact"}
    assert invoice["review"]["can_send"] is (code not in errors)


def test_the_field_line_and_past_due_date_checks(module_platform: RunningPlatform) -> None:
    jobs = Api(module_platform.url("jobs-web"), SHOP)
    invoicing = Api(module_platform.url("invoicing-web"), SHOP)
    customer = create_customer(jobs, name="Field check", billing_address=address(5))
    job = create_job(jobs, customer, service_address=address(5), labor=[])
    field = {
        "description": "Valve",
        "quantity": "1",
        "unit_price_cents": 900,
        "tax_rate_percent": "7.25",
    }
    ok(jobs.post(f"/jobs/{job}/items", {**field, "added_by": "Luis"}))
    close_job(jobs, job)
    wait_for(lambda: invoicing.get("/invoices", job_id=job).json()["items"], 20, "the draft")
    invoice_id = invoicing.get("/invoices", job_id=job).json()["items"][0]["invoice_id"]
    invoice = ok(invoicing.get(f"/invoices/{invoice_id}"))
    assert codes(invoice) == ["line_added_in_field"]
    assert invoice["review"]["lines_added_in_field"] == [invoice["lines"][-1]["line_id"]]
    past = (date.today() - timedelta(days=3)).isoformat()
    moved = ok(
        invoicing.session.put(
            f"{invoicing.base}/invoices/{invoice_id}/due-date", json={"due_date": past}, timeout=10
        )
    )
    assert codes(moved) == ["line_added_in_field", "due_date_past"]
