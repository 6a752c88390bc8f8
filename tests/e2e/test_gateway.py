"""The staff web app on the running platform, over real HTTP: an office user signs in (argon2
hash in the gateway's database, CSRF token from the form), a technician closes a job through the
jobs API, the draft shows in the office's queue, the office sends it with the page's form and
invoicing has it sent; a technician is kept out of invoices; a user of another shop gets 404."""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, expect

from services.gateway.adapters.argon import Argon2Passwords
from services.gateway.adapters.postgres import PooledUsers
from services.gateway.service_layer import auth
from shared.db import make_pool
from tests.e2e.test_invoice_messages import captured
from tests.support.api import Api, close_job, create_customer, create_job
from tests.support.platform import RunningPlatform, wait_for

pytestmark = pytest.mark.e2e
PASSWORD = "a long enough password"


def add_staff(module_settings: Any) -> None:
    pool = make_pool(module_settings.database_url_for("gateway"), min_size=1, max_size=1)
    users, passwords = PooledUsers(pool), Argon2Passwords()
    for shop, email, role in [
        ("shop-gw", "office@gw.example", "office"),
        ("shop-gw", "tech@gw.example", "technician"),
        ("shop-other", "office@other.example", "office"),
    ]:
        auth.add_user(shop, email, email.split("@")[0].title(), role, PASSWORD, users, passwords)  # type: ignore[arg-type]
    pool.close()


def csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def sign_in(base: str, email: str) -> requests.Session:
    visitor = requests.Session()
    token = csrf(visitor.get(base + "/signin", timeout=10).text)
    answer = visitor.post(
        base + "/signin",
        data={"email": email, "password": PASSWORD, "csrf_token": token},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302, answer.text
    return visitor


def test_office_sends_a_closed_jobs_draft_from_the_queue(
    module_platform: RunningPlatform, module_settings: Any
) -> None:
    add_staff(module_settings)
    base = module_platform.url("gateway-web")
    assert requests.get(base + "/invoices", allow_redirects=False, timeout=10).status_code == 302
    office = sign_in(base, "office@gw.example")
    jobs = Api(module_platform.url("jobs-web"), "shop-gw")
    customer = create_customer(jobs)
    close_job(jobs, create_job(jobs, customer))

    def queued() -> str | None:
        page = office.get(base + "/invoices", timeout=10).text
        found = re.search(r'href="/invoices/([^"]+)">Draft</a>', page)
        return found.group(1) if found else None

    invoice_id = wait_for(queued, 30, "the draft in the office's queue")
    page = office.get(f"{base}/invoices/{invoice_id}", timeout=10)
    assert page.status_code == 200 and "$1,678.89" in page.text
    sent = office.post(
        f"{base}/invoices/{invoice_id}/send",
        data={"csrf_token": csrf(page.text)},
        allow_redirects=False,
        timeout=10,
    )
    assert sent.status_code == 302, sent.text
    after = office.get(f"{base}/invoices/{invoice_id}", timeout=10).text
    assert "Sent INV-" in after and "sent" in after
    invoicing = Api(module_platform.url("invoicing-web"), "shop-gw")
    assert invoicing.get(f"/invoices/{invoice_id}").json()["status"] == "sent"

    # Nudging right after sending: the invoice's own text and email went out within the hour.
    link = invoicing.get(f"/invoices/{invoice_id}").json()["pay_url"]
    wait_for(lambda: len(captured(link)) == 2, 30, "the invoice's text and email")
    nudged = office.post(
        f"{base}/invoices/{invoice_id}/nudge",
        data={"csrf_token": csrf(after), "channel": ["email"]},
        timeout=10,
    )
    assert nudged.status_code == 422 and "less than an hour ago" in nudged.text
    assert "sent INV-" in nudged.text  # the timeline is on the page
    pdf = office.get(f"{base}/invoices/{invoice_id}/pdf", timeout=10)
    assert pdf.headers["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")

    def aging() -> bool:
        page = office.get(base + "/reports/ar-aging", timeout=10).text
        return "$1,678.89" in page

    wait_for(aging, 30, "the sent invoice in AR aging")
    assert office.get(base + "/reports/ar-aging.csv", timeout=10).text.startswith("Customer,")

    tech = sign_in(base, "tech@gw.example")
    assert tech.get(base + "/reports/ar-aging", timeout=10).status_code == 403
    assert tech.get(f"{base}/invoices/{invoice_id}", timeout=10).status_code == 403
    other = sign_in(base, "office@other.example")
    assert other.get(f"{base}/invoices/{invoice_id}", timeout=10).status_code == 404


def test_a_closed_job_appears_in_the_open_queue_without_reload(
    module_platform: RunningPlatform, module_settings: Any, browser: Browser
) -> None:
    add_staff(module_settings)
    base = module_platform.url("gateway-web")
    jobs = Api(module_platform.url("jobs-web"), "shop-gw")
    customer = create_customer(jobs, name="Live Update Customer")
    page = browser.new_page(viewport={"width": 375, "height": 800})
    try:
        page.goto(base + "/invoices")
        page.get_by_label("Email").fill("office@gw.example")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_title("Ready to send · FieldPay")
        page.evaluate("window.notReloaded = true")
        close_job(jobs, create_job(jobs, customer))
        expect(page.get_by_text("Live Update Customer")).to_be_visible(timeout=20_000)
        assert page.evaluate("window.notReloaded") is True  # the same page, updated in place
    finally:
        page.close()


def test_the_live_stream_tells_each_change_to_the_shops_invoices(
    module_platform: RunningPlatform, module_settings: Any
) -> None:
    add_staff(module_settings)
    base = module_platform.url("gateway-web")
    office = sign_in(base, "office@gw.example")
    jobs = Api(module_platform.url("jobs-web"), "shop-gw")
    customer = create_customer(jobs)
    with office.get(base + "/live", stream=True, timeout=30) as stream:
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        lines = stream.iter_lines(decode_unicode=True)
        assert next(lines) == "retry: 2000"
        close_job(jobs, create_job(jobs, customer))
        for line in lines:
            if line.startswith("data: "):
                assert '"what": "InvoiceDrafted"' in line
                break
