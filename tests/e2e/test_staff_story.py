"""The whole story in browsers (Playwright driving Debian's Chromium): a technician closes a job
from a phone-sized page; the draft appears in the office's queue without a reload; the review
shows its warnings; the office edits a line and sends; the customer opens the text's link from
the capture inbox in a second browser context and the office's page turns Viewed by itself; the
customer pays part by card (Partially paid, live), then the rest (Paid, live); the owner refunds
part (Partially refunded, live); AR aging follows every step. Screenshots of each step are kept
in var/artifacts/staff-story/."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from services.gateway.adapters.argon import Argon2Passwords
from services.gateway.adapters.postgres import PooledUsers
from services.gateway.service_layer import auth
from shared.db import make_pool
from shared.devstack import infra
from shared.money import format_cents
from tests.e2e.test_pay_in_browser import fill_card
from tests.e2e.test_pay_link import IPHONE
from tests.support.api import Api, address, create_customer
from tests.support.platform import RunningPlatform, wait_for

pytestmark = pytest.mark.e2e
SHOP = "shop-story"
PASSWORD = "a long enough password"
TECH = "Tess Tech"
CUSTOMER = "Rosa Delgado"
ARTIFACTS = infra.ROOT / "var" / "artifacts" / "staff-story"
PHONE = {"viewport": {"width": 375, "height": 812}, "is_mobile": True, "has_touch": True}
DESK = {"viewport": {"width": 1280, "height": 900}}
LIVE = 20_000  # ms a live change may take to show


class Shots:
    """Numbered screenshots of the story's steps."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.png"):
            old.unlink()
        self.folder, self.n = folder, 0

    def take(self, page: Page, step: str) -> None:
        self.n += 1
        page.screenshot(path=str(self.folder / f"{self.n:02d}-{step}.png"), full_page=True)


def add_staff(settings: Any) -> None:
    pool = make_pool(settings.database_url_for("gateway"), min_size=1, max_size=1)
    users, passwords = PooledUsers(pool), Argon2Passwords()
    for email, name, role in [
        ("owner@story.example", "Olga Owner", "owner"),
        ("office@story.example", "Oscar Office", "office"),
        ("tech@story.example", TECH, "technician"),
    ]:
        auth.add_user(SHOP, email, name, role, PASSWORD, users, passwords)  # type: ignore[arg-type]
    pool.close()


def sign_in(context: BrowserContext, base: str, email: str) -> Page:
    page = context.new_page()
    page.goto(base + "/signin")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    return page


def a_job_for_the_technician(jobs: Api) -> str:
    """A customer whose bill goes to another address than the work, a tax rate, and a job
    assigned to the technician with one untaxed line (the review's warning)."""
    assert jobs.post(
        "/tax-rates", {"name": "Fresno 8.25%", "percent": "8.25", "is_default": True}
    ).ok
    customer = create_customer(jobs, name=CUSTOMER, phone="+15595550123", email="rosa@example.com")
    body = {
        "customer_id": customer,
        "service_address": address(77),
        "technicians": [TECH],
        "line_items": [
            {"description": "Condenser fan motor", "quantity": "1", "unit_price_cents": 30_000},
            {
                "description": "Refrigerant R-410A",
                "quantity": "2",
                "unit_price_cents": 6_500,
                "taxable": False,
            },
        ],
        "labor": [{"technician": TECH, "hours": "1.5", "hourly_rate_cents": 12_500}],
    }
    answer = jobs.post("/jobs", body)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["job_id"])


def owed_in_aging(page: Page, base: str) -> str:
    """The customer's total in the AR aging report ('' when they owe nothing)."""
    page.goto(base + "/reports/ar-aging")
    row = page.get_by_role("row").filter(has_text=CUSTOMER)
    return row.locator("td").last.inner_text() if row.count() else ""


def aging_shows(page: Page, base: str, cents: int, shots: Shots, step: str) -> None:
    want = format_cents(cents) if cents else ""
    wait_for(lambda: owed_in_aging(page, base) == want, 30, f"AR aging at {want or 'nothing'}")
    shots.take(page, f"aging-{step}")


def pay(page: Page, dollars: str) -> None:
    page.fill("#amount", dollars)
    fill_card(page, "93701")
    page.click("#pay-button")
    expect(page.locator("#pay-message")).to_contain_text("Thank you", timeout=LIVE)


def test_the_whole_story_in_browsers(
    module_platform: RunningPlatform, module_settings: Any, browser: Browser
) -> None:
    add_staff(module_settings)
    base = module_platform.url("gateway-web")
    jobs = Api(module_platform.url("jobs-web"), SHOP)
    invoicing = Api(module_platform.url("invoicing-web"), SHOP)
    shots = Shots(ARTIFACTS)
    job_id = a_job_for_the_technician(jobs)

    office_context = browser.new_context(**DESK)  # type: ignore[arg-type]
    office = sign_in(office_context, base, "office@story.example")
    expect(office).to_have_title("Ready to send · FieldPay")
    office.evaluate("window.notReloaded = true")
    aging = office_context.new_page()

    # The technician adds a part and closes the job from a phone.
    tech_context = browser.new_context(**PHONE)  # type: ignore[arg-type]
    tech = sign_in(tech_context, base, "tech@story.example")
    expect(tech).to_have_title("My jobs · FieldPay")
    tech.get_by_role("link", name=re.compile("Job opened")).click()
    expect(tech).to_have_title(f"Job for {CUSTOMER} · FieldPay")
    tech.get_by_label("What").fill("Capacitor 45/5")
    tech.get_by_label("Price each ($)").fill("45")
    tech.get_by_role("button", name="Add item").click()
    expect(tech.get_by_text("Item added.")).to_be_visible()
    shots.take(tech, "technician-adds-a-part")
    tech.get_by_role("button", name="Close job").click()
    expect(tech.get_by_text("Job closed")).to_be_visible()
    shots.take(tech, "technician-closed-the-job")
    assert jobs.get(f"/jobs/{job_id}").json()["status"] == "closed"

    # The draft appears in the office's open queue by itself.
    draft_link = office.get_by_role("row").filter(has_text=CUSTOMER).get_by_role("link")
    expect(draft_link).to_be_visible(timeout=LIVE)
    assert office.evaluate("window.notReloaded") is True
    shots.take(office, "draft-in-the-queue")

    # Review: the warnings, then a line edited to fix one.
    draft_link.click()
    expect(office).to_have_title(re.compile(f"Invoice draft — {CUSTOMER}"))
    problems = office.locator("ul.problems")
    expect(problems).to_contain_text("Capacitor 45/5: added in the field by Tess Tech")
    expect(problems).to_contain_text("Bill-to and service address differ")
    expect(problems).to_contain_text("Refrigerant R-410A is not taxed")
    shots.take(office, "review-warnings")
    invoice_id = office.url.rsplit("/", 1)[1]
    refrigerant = office.get_by_role("row").filter(has_text="Refrigerant R-410A")
    refrigerant.get_by_text("Edit").click()
    refrigerant.get_by_label("Unit price ($)").fill("70.00")
    refrigerant.get_by_label("Tax rate (%)").fill("8.25")
    refrigerant.get_by_label("Taxable").check()
    refrigerant.get_by_role("button", name=re.compile("Save line")).click()
    expect(office.get_by_text("Line saved.")).to_be_visible()
    expect(problems).not_to_contain_text("Refrigerant R-410A is not taxed")
    invoice = invoicing.get(f"/invoices/{invoice_id}").json()
    line = next(x for x in invoice["lines"] if x["description"] == "Refrigerant R-410A")
    assert (line["unit_price_cents"], line["taxable"], line["tax_cents"]) == (7_000, True, 1_155)
    total = invoice["totals"]["total_cents"]
    expect(office.locator("#total")).to_have_text(format_cents(total))
    shots.take(office, "line-edited")

    # Send.
    office.get_by_role("button", name="Send", exact=True).click()
    expect(office.locator("#status")).to_have_text("sent")
    expect(office.get_by_text(re.compile(r"Sent INV-"))).to_be_visible()
    office.evaluate("window.notReloaded = true")
    shots.take(office, "sent")
    aging_shows(aging, base, total, shots, "sent")

    # The customer opens the text's link from the inbox: Viewed shows on the office's page.
    # A real phone's browser (headless Chromium's own agent reads as a link-preview bot).
    customer_context = browser.new_context(**PHONE, user_agent=IPHONE)  # type: ignore[arg-type]
    phone = customer_context.new_page()
    inbox = office.get_by_role("link", name="Inbox (dev)").get_attribute("href")
    assert inbox

    def text_with_link() -> bool:
        phone.goto(inbox)
        return phone.get_by_role("listitem").filter(has_text="+15595550123").count() > 0

    wait_for(text_with_link, 30, "the invoice's text in the capture inbox")
    shots.take(phone, "inbox")
    sms = phone.get_by_role("listitem").filter(has_text="+15595550123").first
    sms.get_by_role("link").first.click()
    expect(phone.locator("#balance")).to_have_text(format_cents(total))
    shots.take(phone, "pay-page")
    expect(office.locator("#status")).to_have_text("viewed", timeout=LIVE)
    shots.take(office, "viewed-live")

    # Part by card → Partially paid; the rest → Paid; both live on the office's page.
    pay(phone, "100.00")
    shots.take(phone, "paid-part")
    expect(office.locator("#status")).to_have_text("partially paid", timeout=LIVE)
    expect(office.locator("#balance")).to_have_text(format_cents(total - 10_000))
    shots.take(office, "partially-paid-live")
    aging_shows(aging, base, total - 10_000, shots, "partially-paid")
    phone.reload()
    expect(phone.locator("#balance")).to_have_text(format_cents(total - 10_000))
    pay(phone, f"{(total - 10_000) / 100:.2f}")
    expect(office.locator("#status")).to_have_text("paid", timeout=LIVE)
    expect(office.locator("#balance")).to_have_text("$0.00")
    shots.take(office, "paid-live")
    aging_shows(aging, base, 0, shots, "paid")

    # The owner refunds part of the card payment → Partially refunded (live for the office).
    owner_context = browser.new_context(**DESK)  # type: ignore[arg-type]
    owner = sign_in(owner_context, base, "owner@story.example")
    owner.goto(f"{base}/invoices/{invoice_id}")
    owner.get_by_label("Amount ($)").fill("25.00")
    owner.get_by_label("Reason").fill("Capacitor returned")
    owner.get_by_role("button", name="Refund").click()
    expect(owner.get_by_text("Refund issued")).to_be_visible()
    shots.take(owner, "owner-refunds")
    expect(office.locator("#status")).to_have_text("partially refunded", timeout=LIVE)
    assert office.evaluate("window.notReloaded") is True  # every change above came live
    shots.take(office, "partially-refunded-live")
    aging_shows(aging, base, 2_500, shots, "refunded")
    assert invoicing.get(f"/invoices/{invoice_id}").json()["refunded_cents"] == 2_500

    # The office may not refund; the technician may not reach invoices or settings.
    assert "Refund (owner)" not in office.content()
    tech.goto(f"{base}/invoices/{invoice_id}")
    expect(tech).to_have_title("Not allowed · FieldPay")
    for context in (office_context, tech_context, customer_context, owner_context):
        context.close()
    assert len(list(ARTIFACTS.glob("*.png"))) >= 15


UNLABELLED = """() => [...document.querySelectorAll(
    'input:not([type=hidden]), select, textarea, button')].filter(el =>
    el.tagName === 'BUTTON' ? !el.textContent.trim() && !el.getAttribute('aria-label')
    : !el.labels.length && !el.getAttribute('aria-label')).map(el => el.outerHTML)"""
OVERFLOW = "() => document.documentElement.scrollWidth - window.innerWidth"


def tab_to(page: Page, name: str, presses: int = 80) -> None:
    """Move the keyboard's focus forward until it is on the element called ``name``."""
    for _ in range(presses):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "() => { const e = document.activeElement;"
            " return e.id || e.getAttribute('name') || e.textContent.trim() }"
        )
        if focused == name:
            outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
            assert outline != "none", f"{name} has no visible focus"
            return
    raise AssertionError(f"{name} not reached by Tab")


def test_every_page_at_375_px_by_keyboard_with_a_title_and_labelled_fields(
    module_platform: RunningPlatform, module_settings: Any, browser: Browser
) -> None:
    """Each page the owner and the technician reach, on a 375 px wide screen: a title, an h1,
    every field and button named, nothing wider than the screen; and the office's main path
    (sign in, review, Send) done with the keyboard alone."""
    add_staff(module_settings)
    base = module_platform.url("gateway-web")
    jobs = Api(module_platform.url("jobs-web"), SHOP)
    customer = create_customer(jobs, name="Keyboard Customer")

    def a_job(description: str, cents: int, place: int, technicians: list[str]) -> str:
        line = {"description": description, "quantity": "1", "unit_price_cents": cents}
        body = {"customer_id": customer, "service_address": address(place), "line_items": [line]}
        return str(jobs.post("/jobs", {**body, "technicians": technicians}).json()["job_id"])

    job = a_job("Filter", 2_500, 5, [TECH])
    closed = a_job("Coil cleaning", 18_000, 6, [])
    assert jobs.post(f"/jobs/{closed}/close").ok
    invoicing = Api(module_platform.url("invoicing-web"), SHOP)

    def draft() -> str | None:
        items = invoicing.get("/invoices", status="draft", job_id=closed).json()["items"]
        return str(items[0]["invoice_id"]) if items else None

    invoice_id = wait_for(draft, 30, "the closed job's draft")

    context = browser.new_context(**PHONE)  # type: ignore[arg-type]
    page = context.new_page()
    page.goto(base + "/signin")
    tab_to(page, "email")
    page.keyboard.type("owner@story.example")
    tab_to(page, "password")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_title("Ready to send · FieldPay")
    pages = [
        "/invoices",
        "/invoices?status=sent",
        "/invoices?q=Keyboard",
        f"/invoices/{invoice_id}",
        "/invoices/new",
        "/estimates",
        "/customers",
        f"/customers/{customer}",
        "/jobs",
        f"/jobs/{job}",
        "/my-jobs",
        "/reports/ar-aging",
        "/settings",
        "/settings/automations",
        "/settings/payments",
        "/settings/users",
    ]
    for path in pages:
        assert page.goto(base + path).status == 200, path  # type: ignore[union-attr]
        assert page.title().endswith(" · FieldPay") and page.locator("h1").count() == 1, path
        assert page.evaluate(UNLABELLED) == [], path
        assert page.evaluate(OVERFLOW) <= 0, f"{path} is wider than 375 px"

    page.goto(f"{base}/invoices/{invoice_id}")
    tab_to(page, "Send")
    page.keyboard.press("Enter")
    expect(page.locator("#status")).to_have_text("sent")
    context.close()

    tech = browser.new_context(**PHONE)  # type: ignore[arg-type]
    phone = sign_in(tech, base, "tech@story.example")
    for path in ("/my-jobs", f"/jobs/{job}"):
        assert phone.goto(base + path).status == 200, path  # type: ignore[union-attr]
        assert phone.evaluate(UNLABELLED) == [] and phone.evaluate(OVERFLOW) <= 0, path
    for path in ("/settings", "/settings/users", "/customers", "/reports/ar-aging"):
        assert phone.goto(base + path).status == 403, path  # type: ignore[union-attr]
    tech.close()
