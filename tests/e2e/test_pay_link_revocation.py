"""Revoking a pay link on the real platform: Send → the customer's link works → a bank debit is
started on it → staff revoke the link (PayLinkReplaced through the outbox, once) → the old link
answers 410 with a plain page that names nothing, and can start no payment, card set-up or PDF →
the debit started before still settles (money is never refused) → the new link pays the rest →
Paid; the timeline says who revoked it and why; a paid invoice has no link to revoke."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from tests.e2e.test_ach_payments import bank
from tests.e2e.test_card_payments import Page, status_of
from tests.e2e.test_pay_link import IPHONE, page_url, sent_invoice
from tests.support.api import Api
from tests.support.platform import RunningPlatform, wait_for
from tests.support.topics import read_all

pytestmark = pytest.mark.e2e
SHOP = "shop-revoke"


def answers(url: str) -> int:
    return requests.get(url, headers={"User-Agent": IPHONE}, timeout=10).status_code


def test_a_revoked_link_stops_at_once_and_the_new_one_pays(
    module_platform: RunningPlatform, module_settings: Any
) -> None:
    invoicing = Api(module_platform.url("invoicing-web"), SHOP)
    invoice = sent_invoice(invoicing, cents=30_000)
    invoice_id = invoice["invoice_id"]
    old_url = page_url(module_platform, invoice)
    wait_for(lambda: answers(old_url) == 200, 20, "the page")
    old_page = Page(old_url)
    debit = old_page.pay(
        10_000, card=None, method="ach", bank=bank("000123456789"), mandate_accepted=True
    )
    assert debit.status_code == 201 and debit.json()["status"] == "processing", debit.text

    revoked = invoicing.post(
        f"/invoices/{invoice_id}/pay-link",
        {"reason": "forwarded to the wrong person", "link_number": 1},
        headers={"X-Actor": "Olivia"},
    )
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["link_number"] == 2
    twice = invoicing.post(  # a double click or a retry of the same revocation: revoked once
        f"/invoices/{invoice_id}/pay-link",
        {"reason": "forwarded to the wrong person", "link_number": 1},
        headers={"X-Actor": "Olivia"},
    )
    assert twice.status_code == 200, twice.text
    assert (twice.json()["pay_url"], twice.json()["link_number"]) == (revoked.json()["pay_url"], 2)
    new_url = page_url(module_platform, revoked.json())
    assert new_url != old_url

    wait_for(lambda: answers(old_url) == 410, 20, "the old link revoked")
    gone = requests.get(old_url, headers={"User-Agent": IPHONE}, timeout=10)
    assert "no longer valid" in gone.text and "contact" in gone.text
    for secret in (invoice["invoice_number"], "Shop Revoke", "$300.00", "Dana", "Elm St"):
        assert secret not in gone.text, secret  # whoever holds the old link learns nothing
    assert gone.headers["Cache-Control"] == "no-store"
    assert requests.get(old_url + "/pdf", timeout=10).status_code == 410
    headers = {"X-CSRF-Token": old_page.csrf, "User-Agent": IPHONE}
    start = {"attempt": "f" * 32, "amount_cents": 5_000, "method": "card"}
    refused = requests.post(
        old_url + "/payments",
        json={**start, "payment_method": "pm_card_visa"},
        headers=headers,
        timeout=10,
    )
    assert refused.status_code == 410 and "no longer valid" in refused.json()["message"]
    setup = requests.post(
        old_url + "/card-setup", json={"attempt": "e" * 32}, headers=headers, timeout=10
    )
    assert setup.status_code == 410
    unknown = requests.get(old_url[:-4] + "AAAA", headers={"User-Agent": IPHONE}, timeout=10)
    assert unknown.status_code == 404  # an unknown link is still the plain not-found page

    wait_for(lambda: status_of(invoicing, invoice_id)["paid_cents"] == 10_000, 30, "ACH cleared")
    wait_for(lambda: answers(new_url) == 200, 20, "the new page")
    new_page = Page(new_url)
    card = {**start, "payment_method": "pm_card_visa"}
    old_csrf = requests.post(new_url + "/payments", json=card, headers=headers, timeout=10)
    assert old_csrf.status_code == 403  # the CSRF token is bound to its link
    elsewhere = {**headers, "X-CSRF-Token": new_page.csrf, "Origin": "https://evil.example"}
    forged = requests.post(new_url + "/payments", json=card, headers=elsewhere, timeout=10)
    assert forged.status_code == 403 and forged.json()["fields"][0]["field"] == "Origin"
    assert new_page.pay(20_000).status_code == 201
    wait_for(lambda: status_of(invoicing, invoice_id)["status"] == "paid", 30, "Paid")

    history = invoicing.get(f"/invoices/{invoice_id}/timeline").json()["items"]
    said = [f"{h['who']}: {h['what']}" for h in history]
    assert (
        "Olivia: revoked the pay link and issued a new one: forwarded to the wrong person" in said
    )
    kinds = [h["kind"] for h in history]
    assert kinds.count("PaymentReceived") == 2  # the old link's debit and the new link's card
    replacements = [
        json.loads(m.value or b"")
        for m in read_all(
            module_settings.kafka_bootstrap_servers, "PayLinkReplaced", expect_at_least=1
        )
    ]
    mine = [r for r in replacements if r["invoice_id"] == invoice_id]
    assert len(mine) == 1 and mine[0]["link_number"] == 2
    assert mine[0]["pay_url"] == revoked.json()["pay_url"]
    assert old_url.rsplit("/", 1)[1] not in json.dumps(mine[0])  # only the old token's digest

    again = invoicing.post(f"/invoices/{invoice_id}/pay-link", {}, headers={"X-Actor": "Olivia"})
    assert again.status_code == 409 and "nothing is owed" in again.json()["message"]


def test_revoking_needs_a_sent_invoice_of_the_shop(module_platform: RunningPlatform) -> None:
    invoicing = Api(module_platform.url("invoicing-web"), SHOP)
    draft = invoicing.post(
        "/invoices",
        {
            "customer": {
                "customer_id": "c-1",
                "name": "Dana Reyes",
                "email": "dana@example.com",
                "billing_address": {
                    "line1": "1 Elm St",
                    "city": "Fresno",
                    "region": "CA",
                    "postal_code": "93701",
                },
                "payment_terms_days": 0,
            },
            "service_address": {
                "line1": "1 Elm St",
                "city": "Fresno",
                "region": "CA",
                "postal_code": "93701",
            },
            "lines": [{"description": "Tune-up", "quantity": "1", "unit_price_cents": 9_900}],
        },
    ).json()
    not_sent = invoicing.post(f"/invoices/{draft['invoice_id']}/pay-link")
    assert not_sent.status_code == 409 and "not been sent" in not_sent.json()["message"]
    sent = sent_invoice(invoicing, cents=4_000)
    other = Api(module_platform.url("invoicing-web"), "another-shop")
    assert other.post(f"/invoices/{sent['invoice_id']}/pay-link").status_code == 404
    too_long = invoicing.post(f"/invoices/{sent['invoice_id']}/pay-link", {"reason": "x" * 501})
    assert too_long.status_code == 422 and too_long.json()["fields"][0]["field"] == "reason"
