"""Paying by card end to end, against localstripe through the official SDK: part by card →
PaymentReceived → Partially paid; the rest → Paid; a declined card records nothing; refunds;
refusals; webhooks verified and acted on once."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
import re
import time
import uuid
from typing import Any

import pytest
import requests
import stripe
from pypdf import PdfReader

from shared.settings import Settings
from tests.e2e.test_pay_link import IPHONE, page_url, sent_invoice
from tests.support.api import Api
from tests.support.platform import RunningPlatform, wait_for
from tests.support.topics import read_all

pytestmark = pytest.mark.e2e
SHOP = "shop-card"


class Page:
    """The customer's side: what the pay page gives the browser, and what its script posts."""

    def __init__(self, url: str) -> None:
        self.url = url
        html = requests.get(url, headers={"User-Agent": IPHONE}, timeout=10).text
        self.csrf = re.search(r'data-csrf="([0-9a-f]+)"', html).group(1)  # type: ignore[union-attr]
        self.html = html

    def pay(
        self,
        amount: int,
        card: str | None = "pm_card_visa",
        method: str = "card",
        **extra: Any,
    ) -> requests.Response:
        """What the page's script posts (a fresh attempt id, as after a reload); when the page
        offers no payment, what a hand-made request would post."""
        html = requests.get(self.url, headers={"User-Agent": IPHONE}, timeout=10).text
        found = re.search(r'data-attempt="([0-9a-f]{32})"', html)
        attempt = found.group(1) if found else uuid.uuid4().hex
        body = {"attempt": attempt, "amount_cents": amount, "method": method, **extra}
        if card:
            body["payment_method"] = card
        headers = {"X-CSRF-Token": self.csrf, "User-Agent": IPHONE}
        return requests.post(self.url + "/payments", json=body, headers=headers, timeout=20)


def status_of(invoicing: Api, invoice_id: str) -> dict[str, Any]:
    body: dict[str, Any] = invoicing.get(f"/invoices/{invoice_id}").json()
    return body


def test_part_by_card_then_the_rest_then_refunds(module_platform: RunningPlatform) -> None:
    invoicing = Api(module_platform.url("invoicing-web"), SHOP)
    payments = Api(module_platform.url("payments-web"), SHOP)
    payments.session.headers["X-Actor"] = "Maria (owner)"
    invoice = sent_invoice(invoicing, cents=30_000)
    url = page_url(module_platform, invoice)
    wait_for(
        lambda: requests.get(url, headers={"User-Agent": IPHONE}, timeout=10).status_code == 200,
        20,
        "the page",
    )
    page = Page(url)
    assert 'id="pay-form"' in page.html and "js.stripe.com/v3/" in page.html

    first = page.pay(10_000)
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "succeeded"
    wait_for(
        lambda: status_of(invoicing, invoice["invoice_id"])["status"] == "partially_paid",
        30,
        "Partially paid",
    )
    assert status_of(invoicing, invoice["invoice_id"])["balance_cents"] == 20_000
    pdf = requests.get(url + "/pdf", timeout=10)
    pdf_text = PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    assert "Paid\n$100.00" in pdf_text and "Balance due\n$200.00" in pdf_text

    declined = page.pay(5_000, card="pm_card_chargeCustomerFail")
    assert declined.status_code == 402 and "declined" in declined.json()["message"]
    over = page.pay(20_001)
    assert over.status_code == 422 and over.json()["fields"][0]["field"] == "amount_cents"
    no_csrf = requests.post(
        url + "/payments",
        json={"attempt": "f" * 32, "amount_cents": 100, "method": "card"},
        timeout=10,
    )
    assert no_csrf.status_code == 403

    rest = page.pay(20_000)
    assert rest.status_code == 201, rest.text
    wait_for(lambda: status_of(invoicing, invoice["invoice_id"])["status"] == "paid", 30, "Paid")
    assert "Thank" not in requests.get(url, headers={"User-Agent": IPHONE}, timeout=10).text
    assert 'id="pay-form"' not in requests.get(url, headers={"User-Agent": IPHONE}, timeout=10).text

    listed = payments.get("/payments", invoice_id=invoice["invoice_id"]).json()["items"]
    succeeded = [p for p in listed if p["status"] == "succeeded"]
    assert sorted(p["amount_cents"] for p in succeeded) == [10_000, 20_000]
    assert [p["status"] for p in listed].count("failed") == 1
    big = next(p for p in succeeded if p["amount_cents"] == 20_000)
    part = payments.post(
        f"/payments/{big['charge_id']}/refunds", {"amount_cents": 5_000, "reason": "goodwill"}
    )
    assert part.status_code == 201, part.text
    wait_for(
        lambda: status_of(invoicing, invoice["invoice_id"])["status"] == "partially_refunded",
        30,
        "Partially refunded",
    )
    history = invoicing.get(f"/invoices/{invoice['invoice_id']}/timeline").json()["items"]
    assert ("Maria (owner)", "refunded $50.00: goodwill") in [
        (h["who"], h["what"]) for h in history
    ]
    too_much = payments.post(f"/payments/{big['charge_id']}/refunds", {"amount_cents": 15_001})
    assert too_much.status_code == 422
    for p in succeeded:
        left = p["amount_cents"] - (5_000 if p is big else 0)
        assert (
            payments.post(f"/payments/{p['charge_id']}/refunds", {"amount_cents": left}).status_code
            == 201
        )
    wait_for(
        lambda: status_of(invoicing, invoice["invoice_id"])["status"] == "refunded", 30, "Refunded"
    )
    intruder = Api(module_platform.url("payments-web"), "shop-intruder")
    assert (
        intruder.post(f"/payments/{big['charge_id']}/refunds", {"amount_cents": 1}).status_code
        == 404
    )


def signed(payload: bytes, secret: str, at: int | None = None) -> str:
    at = at or int(time.time())
    digest = hmac.new(secret.encode(), f"{at}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={at},v1={digest}"


def test_webhooks_are_verified_and_act_once(
    module_platform: RunningPlatform, module_settings: Any
) -> None:
    invoicing = Api(module_platform.url("invoicing-web"), SHOP)
    payments = Api(module_platform.url("payments-web"), SHOP)
    invoice = sent_invoice(invoicing, cents=9_000)
    url = page_url(module_platform, invoice)
    wait_for(
        lambda: requests.get(url, headers={"User-Agent": IPHONE}, timeout=10).status_code == 200,
        20,
        "the page",
    )
    assert Page(url).pay(9_000).status_code == 201
    wait_for(lambda: status_of(invoicing, invoice["invoice_id"])["status"] == "paid", 30, "Paid")
    (charge,) = payments.get("/payments", invoice_id=invoice["invoice_id"]).json()["items"]

    secret = Settings().stripe_webhook_secret
    hook = module_platform.url("payments-web") + "/webhooks/stripe"

    held = stripe_intent(charge["intent_id"])  # the intent as Stripe holds it

    def event(event_id: str, kind: str) -> bytes:
        return json.dumps({"id": event_id, "type": kind, "data": {"object": held}}).encode()

    returned = event("evt_return_1", "payment_intent.payment_failed")
    assert requests.post(hook, data=returned, timeout=10).status_code == 400  # unsigned
    wrong = {"Stripe-Signature": signed(returned, "whsec_wrong")}
    assert requests.post(hook, data=returned, headers=wrong, timeout=10).status_code == 400
    stale = {"Stripe-Signature": signed(returned, secret, at=int(time.time()) - 3600)}
    assert requests.post(hook, data=returned, headers=stale, timeout=10).status_code == 400
    time.sleep(1)
    assert status_of(invoicing, invoice["invoice_id"])["status"] == "paid"  # nothing changed

    again = event("evt_again_1", "payment_intent.succeeded")
    for payload in (again, again, again):
        ok = requests.post(
            hook, data=payload, headers={"Stripe-Signature": signed(payload, secret)}, timeout=10
        )
        assert ok.status_code == 200, ok.text
    for _ in range(3):  # signed, but Stripe says this payment succeeded: a failure cannot undo it
        refused = requests.post(
            hook, data=returned, headers={"Stripe-Signature": signed(returned, secret)}, timeout=10
        )
        assert refused.status_code == 409, refused.text
        assert refused.json()["fields"][0]["field"] == "type"
    time.sleep(1)
    assert status_of(invoicing, invoice["invoice_id"])["balance_cents"] == 0
    facts = [
        (m.headers["ce_type"], json.loads(m.value or b"")["payment_id"])
        for topic in ("PaymentReceived", "PaymentFailed")
        for m in read_all(module_settings.kafka_bootstrap_servers, topic, expect_at_least=1)
    ]
    assert facts.count(("PaymentReceived", charge["charge_id"])) == 1
    assert facts.count(("PaymentFailed", charge["charge_id"])) == 0


def stripe_intent(intent_id: str) -> dict[str, Any]:
    """The PaymentIntent as the Stripe the platform talks to holds it (official SDK)."""
    settings = Settings()
    client = stripe.StripeClient(
        settings.stripe_api_key, base_addresses={"api": os.environ["STRIPE_API_BASE"]}
    )
    held: dict[str, Any] = client.v1.payment_intents.retrieve(intent_id).to_dict()
    return held
