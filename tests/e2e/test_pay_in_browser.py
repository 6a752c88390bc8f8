"""A customer pays from a phone-sized Chromium: the pay page, its script and (in development)
localstripe's Stripe.js, end to end to Partially paid in invoicing."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.test_card_payments import status_of
from tests.e2e.test_pay_link import page_url, sent_invoice
from tests.support.api import Api
from tests.support.platform import RunningPlatform, wait_for

pytestmark = pytest.mark.e2e
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


def fill_card(page: Page, postal_code: str = "94607") -> None:
    """The test card into localstripe's card element."""
    card = page.locator("#card-element")
    card.locator("input[placeholder=number]").fill("4242424242424242")
    card.locator("input[placeholder=exp_month]").fill("12")
    card.locator("input[placeholder=exp_year]").fill("30")
    card.locator("input[placeholder=cvc]").fill("123")
    card.locator("input[placeholder=postal_code]").fill(postal_code)


def test_pay_part_of_an_invoice_by_card_on_a_phone(
    module_platform: RunningPlatform, browser: Browser
) -> None:
    invoicing = Api(module_platform.url("invoicing-web"), "shop-browser")
    invoice: dict[str, Any] = sent_invoice(invoicing, cents=18_000)
    url = page_url(module_platform, invoice)
    context = browser.new_context(**PHONE)  # type: ignore[arg-type]
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    wait_for(lambda: page.goto(url).status == 200, 20, "the pay page")  # type: ignore[union-attr]
    assert page.locator("#balance").inner_text() == "$180.00"
    page.fill("#amount", "50.00")
    fill_card(page)
    page.check("#save-card")
    page.click("#pay-button")
    expect(page.locator("#pay-message")).to_contain_text("Thank you", timeout=20_000)
    wait_for(
        lambda: status_of(invoicing, invoice["invoice_id"])["status"] == "partially_paid",
        30,
        "Partially paid in invoicing",
    )
    assert status_of(invoicing, invoice["invoice_id"])["balance_cents"] == 13_000
    page.reload()
    assert page.locator("#balance").inner_text() == "$130.00"
    assert errors == []

    later = sent_invoice(invoicing, cents=7_500)  # the same customer's next job
    wait_for(lambda: page.goto(page_url(module_platform, later)).status == 200, 20, "the next page")  # type: ignore[union-attr]
    expect(page.locator("button.saved-card")).to_have_text("Pay with Visa •••• 4242")
    page.click("button.saved-card")
    expect(page.locator("#pay-message")).to_contain_text("Thank you", timeout=20_000)
    wait_for(
        lambda: status_of(invoicing, later["invoice_id"])["status"] == "paid",
        30,
        "the next invoice paid with the saved card in one click",
    )
    assert errors == []
    context.close()
