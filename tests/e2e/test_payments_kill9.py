"""Nothing twice at Stripe: the payments process is killed (kill -9) right after Stripe took the
payment — or the refund — and before anything was written here. The customer's (or the office's)
retry of the same request makes no second charge and no second refund, and each fact is told once.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest
import requests
import stripe

from shared.settings import Settings
from tests.e2e.test_card_payments import status_of
from tests.e2e.test_pay_link import IPHONE, page_url, sent_invoice
from tests.support.api import Api
from tests.support.platform import RunningPlatform, wait_for
from tests.support.topics import read_all

pytestmark = pytest.mark.e2e
SHOP = "shop-kill"


def crash_and_restart(platform: RunningPlatform, crash_at: str) -> None:
    platform.restart("payments-web", {"CRASH_AT": crash_at})
    platform.wait_ready(["payments-web"])


def stripe_client() -> stripe.StripeClient:
    settings = Settings()
    return stripe.StripeClient(
        settings.stripe_api_key,
        base_addresses={"api": settings.stripe_api_base},
    )


def killed(call: Any) -> None:
    """The request dies with the process that was serving it (no answer at all)."""
    with pytest.raises(requests.ConnectionError):
        call()


def intents_for(attempt: str) -> list[Any]:
    return [
        pi
        for pi in stripe_client().v1.payment_intents.list(params={"limit": 100}).auto_paging_iter()
        if (pi.to_dict().get("metadata") or {}).get("charge") == attempt
    ]


def test_a_payment_and_a_refund_retried_after_kill9_happen_once(
    platform: RunningPlatform, service_env: dict[str, str]
) -> None:
    invoicing = Api(platform.url("invoicing-web"), SHOP)
    invoice = sent_invoice(invoicing, cents=20_000)
    url = page_url(platform, invoice)
    wait_for(lambda: requests.get(url, headers={"User-Agent": IPHONE}, timeout=10).ok, 20, "page")
    html = requests.get(url, headers={"User-Agent": IPHONE}, timeout=10).text
    csrf = re.search(r'data-csrf="([0-9a-f]+)"', html).group(1)  # type: ignore[union-attr]
    attempt = re.search(r'data-attempt="([0-9a-f]{32})"', html).group(1)  # type: ignore[union-attr]
    body = {
        "attempt": attempt,
        "amount_cents": 20_000,
        "method": "card",
        "payment_method": "pm_card_visa",
    }
    headers = {"X-CSRF-Token": csrf, "User-Agent": IPHONE}

    def pay() -> requests.Response:
        return requests.post(url + "/payments", json=body, headers=headers, timeout=20)

    crash_and_restart(platform, "payments.after_intent:1")
    killed(pay)
    assert len(intents_for(attempt)) == 1  # Stripe took it; the process died before writing
    crash_and_restart(platform, "")
    retried = pay()
    assert retried.status_code == 201, retried.text
    assert retried.json()["status"] == "succeeded"
    wait_for(lambda: status_of(invoicing, invoice["invoice_id"])["status"] == "paid", 30, "Paid")
    intents = intents_for(attempt)
    assert len(intents) == 1 and intents[0].status == "succeeded"  # charged once

    payments = Api(platform.url("payments-web"), SHOP)
    key = {"Idempotency-Key": uuid.uuid4().hex}

    def refund() -> requests.Response:
        return payments.session.post(
            f"{payments.base}/payments/{attempt}/refunds",
            json={"amount_cents": 5_000, "reason": "late arrival"},
            headers=key,
            timeout=20,
        )

    crash_and_restart(platform, "payments.after_refund:1")
    killed(refund)
    crash_and_restart(platform, "")
    assert refund().status_code == 201
    assert refund().status_code == 201  # the same request again: nothing more
    wait_for(
        lambda: status_of(invoicing, invoice["invoice_id"])["status"] == "partially_refunded",
        30,
        "Partially refunded",
    )
    assert status_of(invoicing, invoice["invoice_id"])["balance_cents"] == 5_000
    refunds = [
        r
        for r in stripe_client().v1.refunds.list(params={"limit": 100}).auto_paging_iter()
        if r.payment_intent == intents[0].id
    ]
    assert [r.amount for r in refunds] == [5_000]  # refunded once at Stripe
    bootstrap = service_env["KAFKA_BOOTSTRAP_SERVERS"]
    told = [
        json.loads(m.value or b"")
        for topic in ("PaymentReceived", "RefundIssued")
        for m in read_all(bootstrap, topic, expect_at_least=1)
    ]
    assert [t.get("refund_id") is None for t in told].count(True) == 1  # one PaymentReceived
    assert [t.get("refund_id") is not None for t in told].count(True) == 1  # one RefundIssued
