"""Paying by bank debit (ACH) through the same Stripe adapter and webhook code, against the
development ACH path (shared/devstack/stripe_ach.py): Payment pending → Paid; a failed debit →
the balance is open again; a return after clearing → open again."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.e2e.test_card_payments import Page, status_of
from tests.e2e.test_pay_link import IPHONE, page_url, sent_invoice
from tests.support.api import Api
from tests.support.platform import RunningPlatform, wait_for

pytestmark = pytest.mark.e2e
SHOP = "shop-ach"


def bank(account: str) -> dict[str, Any]:
    return {
        "account_holder_name": "Dana Reyes",
        "routing_number": "110000000",
        "account_number": account,
    }


def ready_page(
    platform: RunningPlatform, invoicing: Api, cents: int
) -> tuple[dict[str, Any], Page]:
    invoice = sent_invoice(invoicing, cents=cents)
    url = page_url(platform, invoice)
    wait_for(
        lambda: requests.get(url, headers={"User-Agent": IPHONE}, timeout=10).status_code == 200,
        20,
        "the page",
    )
    return invoice, Page(url)


def test_part_by_card_then_the_rest_by_ach(module_platform: RunningPlatform) -> None:
    invoicing = Api(module_platform.url("invoicing-web"), SHOP)
    invoice, page = ready_page(module_platform, invoicing, 50_000)
    assert page.pay(20_000).status_code == 201
    wait_for(
        lambda: status_of(invoicing, invoice["invoice_id"])["status"] == "partially_paid",
        30,
        "part paid",
    )

    debit = page.pay(
        30_000, card=None, method="ach", bank=bank("000123456789"), mandate_accepted=True
    )
    assert debit.status_code == 201, debit.text
    assert debit.json()["status"] == "processing"
    wait_for(
        lambda: (
            status_of(invoicing, invoice["invoice_id"])["status"] in ("payment_pending", "paid")
        ),
        30,
        "Payment pending",
    )
    again = page.pay(100, card=None, method="ach", bank=bank("000123456789"), mandate_accepted=True)
    assert again.status_code == 409  # the rest is already on its way
    wait_for(lambda: status_of(invoicing, invoice["invoice_id"])["status"] == "paid", 30, "Paid")
    history = invoicing.get(f"/invoices/{invoice['invoice_id']}/timeline").json()["items"]
    kinds = [h["kind"] for h in history]
    assert kinds.count("PaymentReceived") == 2 and "PaymentInitiated" in kinds
    last_received = len(kinds) - 1 - kinds[::-1].index("PaymentReceived")
    assert kinds.index("PaymentInitiated") < last_received  # pending first, then received


@pytest.mark.parametrize("account", ["000111111116", "000999999991"])
def test_a_failed_or_returned_debit_opens_the_balance_again(
    module_platform: RunningPlatform, account: str
) -> None:
    invoicing = Api(module_platform.url("invoicing-web"), SHOP)
    invoice, page = ready_page(module_platform, invoicing, 12_000)
    debit = page.pay(12_000, card=None, method="ach", bank=bank(account), mandate_accepted=True)
    assert debit.status_code == 201, debit.text

    def failed() -> bool:
        items = invoicing.get(f"/invoices/{invoice['invoice_id']}/timeline").json()["items"]
        return any(h["kind"] == "PaymentFailed" for h in items)

    wait_for(failed, 30, "PaymentFailed")
    after = status_of(invoicing, invoice["invoice_id"])
    assert after["balance_cents"] == 12_000 and after["status"] in ("sent", "viewed")


def test_a_debit_needs_the_account_and_the_mandate(module_platform: RunningPlatform) -> None:
    invoicing = Api(module_platform.url("invoicing-web"), SHOP)
    _, page = ready_page(module_platform, invoicing, 5_000)
    no_mandate = page.pay(5_000, card=None, method="ach", bank=bank("000123456789"))
    assert no_mandate.status_code == 422
    bad_routing = page.pay(
        5_000,
        card=None,
        method="ach",
        bank={**bank("1"), "routing_number": "12"},
        mandate_accepted=True,
    )
    assert bad_routing.status_code == 422


def test_a_method_the_invoice_does_not_allow_is_refused(module_platform: RunningPlatform) -> None:
    invoicing = Api(module_platform.url("invoicing-web"), SHOP)
    invoice, page = ready_page(module_platform, invoicing, 8_000)
    card_only = invoicing.session.put(
        f"{invoicing.base}/invoices/{invoice['invoice_id']}/payment-methods",
        json={"methods": ["card"]},
        timeout=10,
    )
    assert card_only.status_code == 200, card_only.text
    wait_for(
        lambda: (
            'id="ach-fields"'
            not in requests.get(page.url, headers={"User-Agent": IPHONE}, timeout=10).text
        ),
        20,
        "the correction on the page",
    )
    refused = page.pay(
        8_000, card=None, method="ach", bank=bank("000123456789"), mandate_accepted=True
    )
    assert refused.status_code == 422
    assert refused.json()["fields"] == [
        {"field": "method", "reason": "this invoice can be paid by card only"}
    ]
