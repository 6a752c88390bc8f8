"""The money race suite, against the real services (PostgreSQL, the broker, localstripe through
the official SDK): many payers at once on one invoice never take more than the balance, and a
void raced with a payment never leaves money kept on a void invoice.

Each payer comes from an address of its own (X-Forwarded-For behind one trusted proxy, as behind
the ingress), so the pay page's per-address limits are not what stops them."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
import stripe

from shared.settings import Settings
from tests.conftest import env_for
from tests.e2e.conftest import started
from tests.e2e.test_pay_link import IPHONE, page_url, sent_invoice
from tests.support.api import Api
from tests.support.platform import RunningPlatform, wait_for

pytestmark = pytest.mark.e2e
SHOP = "shop-races"


@pytest.fixture(scope="module")
def platform_behind_proxy(
    module_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningPlatform]:
    env = {**env_for(module_settings), "TRUSTED_PROXIES": "1"}
    with started(env, tmp_path_factory.mktemp("races")) as running:
        yield running


class Payer:
    """One customer's browser: the page (its CSRF token and attempt id), then Pay."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.headers = {"User-Agent": IPHONE, "X-Forwarded-For": _address()}

    def pay(
        self, amount: int, before: Callable[[], None] = lambda: None, card: str = "pm_card_visa"
    ) -> requests.Response:
        html = requests.get(self.url, headers=self.headers, timeout=20).text
        csrf = re.search(r'data-csrf="([0-9a-f]+)"', html)
        found = re.search(r'data-attempt="([0-9a-f]{32})"', html)
        attempt = found.group(1) if found else uuid.uuid4().hex
        body = {
            "attempt": attempt,
            "amount_cents": amount,
            "method": "card",
            "payment_method": card,
        }
        headers = {**self.headers, "X-CSRF-Token": csrf.group(1) if csrf else "none"}
        before()
        return requests.post(self.url + "/payments", json=body, headers=headers, timeout=30)


_count = iter(range(1, 10_000_000))
_lock = threading.Lock()


def _address() -> str:
    with _lock:
        n = next(_count)
    return f"10.0.{n // 250 % 250}.{n % 250 + 1}"


def ready(platform: RunningPlatform, invoicing: Api, cents: int) -> tuple[dict[str, Any], str]:
    invoice = sent_invoice(invoicing, cents=cents)
    url = page_url(platform, invoice)
    headers = {"User-Agent": "curl/8", "X-Forwarded-For": _address()}
    wait_for(
        lambda: requests.get(url, headers=headers, timeout=10).status_code == 200,
        60,
        "payments' copy",
        interval=0.5,
    )
    return invoice, url


def kept_cents(payments: Api, invoice_id: str) -> int:
    """What payments holds of the customer's money on the invoice (paid less refunded)."""
    items = payments.get("/payments", invoice_id=invoice_id).json()["items"]
    return sum(p["amount_cents"] - p["refunded_cents"] for p in items if p["status"] == "succeeded")


def test_twenty_payers_at_once_never_take_more_than_the_balance(
    platform_behind_proxy: RunningPlatform,
) -> None:
    invoicing = Api(platform_behind_proxy.url("invoicing-web"), SHOP)
    payments = Api(platform_behind_proxy.url("payments-web"), SHOP)
    invoice, url = ready(platform_behind_proxy, invoicing, 8_000)
    amounts = [8_000] * 10 + [random.randint(100, 4_000) for _ in range(10)]
    gate = threading.Barrier(len(amounts))
    with ThreadPoolExecutor(len(amounts)) as pool:
        answers = list(pool.map(lambda a: Payer(url).pay(a, lambda: _at(gate)), amounts))
    taken = [a for a, r in zip(amounts, answers, strict=True) if r.status_code == 201]
    refused = [r for r in answers if r.status_code != 201]
    assert taken and sum(taken) <= 8_000, [r.status_code for r in answers]
    assert all(r.status_code in (409, 422) for r in refused), [r.text for r in refused]
    assert all(r.json()["message"] for r in refused)  # a plain reason for each
    wait_for(
        lambda: (
            invoicing.get(f"/invoices/{invoice['invoice_id']}").json()["paid_cents"] == sum(taken)
        ),
        30,
        "invoicing to hear of every payment",
    )
    assert kept_cents(payments, invoice["invoice_id"]) == sum(taken) <= 8_000
    assert invoicing.get(f"/invoices/{invoice['invoice_id']}").json()["balance_cents"] >= 0


def _at(gate: threading.Barrier) -> None:
    gate.wait()


RACES = 50


def test_a_void_raced_with_a_payment_never_keeps_money_on_a_void_invoice(
    platform_behind_proxy: RunningPlatform,
) -> None:
    invoicing = Api(platform_behind_proxy.url("invoicing-web"), SHOP)
    payments = Api(platform_behind_proxy.url("payments-web"), SHOP)
    with ThreadPoolExecutor(10) as pool:
        invoices = list(
            pool.map(lambda _: ready(platform_behind_proxy, invoicing, 15_000), range(RACES))
        )

    def race(invoice: dict[str, Any], url: str) -> tuple[int, int]:
        gate = threading.Barrier(2)
        delay = random.uniform(-0.15, 0.25)  # the void first, the payment first, or at once

        def void() -> int:
            gate.wait()
            time.sleep(max(0.0, delay))
            path = f"/invoices/{invoice['invoice_id']}/void"
            return invoicing.post(path, {"reason": "duplicate"}).status_code

        def at_the_gate() -> None:
            gate.wait()
            time.sleep(max(0.0, -delay))

        def pay() -> int:
            return Payer(url).pay(15_000, at_the_gate).status_code

        with ThreadPoolExecutor(2) as pair:
            voiding, paying = pair.submit(void), pair.submit(pay)
            return voiding.result(), paying.result()

    with ThreadPoolExecutor(5) as pool:
        outcomes = list(pool.map(lambda pair: race(*pair), invoices))
    assert {v for v, _ in outcomes} <= {200, 409} and {p for _, p in outcomes} <= {201, 409}
    both = sum(1 for v, p in outcomes if (v, p) == (200, 201))

    def settled(invoice: dict[str, Any]) -> bool:
        state = invoicing.get(f"/invoices/{invoice['invoice_id']}").json()
        kept = kept_cents(payments, invoice["invoice_id"])
        if state["status"] == "void":
            return kept == 0  # nothing kept on a void invoice
        return kept == 15_000 and state["balance_cents"] == 0

    for invoice, _ in invoices:
        wait_for(lambda inv=invoice: settled(inv), 60, f"{invoice['invoice_id']} settled")
    print(f"void/pay raced {RACES} times; both accepted (money given back) {both} times")


# --- signed but forged webhooks -------------------------------------------------------------------


def signed(payload: bytes) -> dict[str, str]:
    stamp = int(time.time())
    secret = Settings().stripe_webhook_secret.encode()
    mac = hmac.new(secret, f"{stamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={stamp},v1={mac}", "Content-Type": "application/json"}


def disbelieved(platform: RunningPlatform) -> float:
    """webhook_disbelieved_total of payments-web, all fields together."""
    text = requests.get(platform.url("payments-web") + "/metrics", timeout=10).text
    found = re.findall(
        r'^webhook_disbelieved_total\{[^}]*provider="stripe"[^}]*\} (\S+)$', text, re.M
    )
    return sum(float(v) for v in found)


def stripe_client() -> stripe.StripeClient:
    return stripe.StripeClient(
        Settings().stripe_api_key, base_addresses={"api": os.environ["STRIPE_API_BASE"]}
    )


def test_signed_but_forged_webhooks_are_refused_and_change_nothing(
    platform_behind_proxy: RunningPlatform,
) -> None:
    invoicing = Api(platform_behind_proxy.url("invoicing-web"), SHOP)
    payments = Api(platform_behind_proxy.url("payments-web"), SHOP)
    invoice, url = ready(platform_behind_proxy, invoicing, 9_900)
    failed_start = Payer(url).pay(9_900, card="pm_does_not_exist_123")
    assert failed_start.status_code == 402, failed_start.text  # a plain refusal, not a 500
    (left,) = payments.get("/payments", invoice_id=invoice["invoice_id"]).json()["items"]
    assert left["status"] == "failed"  # no orphan holding the balance
    paid = Payer(url).pay(4_000)
    assert paid.status_code == 201, paid.text
    wait_for(
        lambda: invoicing.get(f"/invoices/{invoice['invoice_id']}").json()["paid_cents"] == 4_000,
        30,
        "the payment on the invoice",
    )
    charge = next(
        p
        for p in payments.get("/payments", invoice_id=invoice["invoice_id"]).json()["items"]
        if p["status"] == "succeeded"
    )
    held = stripe_client().v1.payment_intents.retrieve(charge["intent_id"]).to_dict()
    metadata = {"shop": SHOP, "invoice": invoice["invoice_id"], "charge": left["charge_id"]}
    penny = stripe_client().v1.payment_intents.create(
        params={
            "amount": 1,
            "currency": "usd",
            "payment_method": "pm_card_visa",
            "confirm": True,
            "metadata": metadata,
        }
    )  # a real intent for 1 cent, made outside FieldPay, naming the failed start's charge
    unknown = {**held, "id": "pi_never_made_by_stripe", "amount": 1, "metadata": metadata}
    forged = {
        "an intent Stripe never made": ("payment_intent.succeeded", unknown),
        "1 cent naming our charge": ("payment_intent.succeeded", penny.to_dict()),
        "a wrong amount": ("payment_intent.succeeded", {**held, "amount": 1}),
        "another shop": (
            "payment_intent.succeeded",
            {**held, "metadata": {**held["metadata"], "shop": "shop-other"}},
        ),
        "failed after succeeded": ("payment_intent.payment_failed", held),
        "no data": ("payment_intent.succeeded", None),
        "no amount": ("payment_intent.succeeded", {"id": held["id"], "status": "succeeded"}),
    }
    hook = platform_behind_proxy.url("payments-web") + "/webhooks/stripe"
    before = disbelieved(platform_behind_proxy)
    for name, (kind, body) in forged.items():
        event: dict[str, Any] = {"id": f"evt_{uuid.uuid4().hex}", "type": kind}
        if body is not None:
            event["data"] = {"object": body}
        payload = json.dumps(event).encode()
        answer = requests.post(hook, data=payload, headers=signed(payload), timeout=10)
        assert answer.status_code in (400, 409), (name, answer.status_code, answer.text)
        assert answer.json()["fields"], name
    assert disbelieved(platform_behind_proxy) - before == len(forged)
    time.sleep(1)
    after = invoicing.get(f"/invoices/{invoice['invoice_id']}").json()
    assert (after["paid_cents"], after["balance_cents"]) == (4_000, 5_900)
    assert kept_cents(payments, invoice["invoice_id"]) == 4_000
