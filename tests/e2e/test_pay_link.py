"""The pay link end to end: Send in invoicing → payments' copy → the customer opens the page →
InvoiceViewed once → invoicing shows Viewed; previews and HEAD don't count; corrections and voids
reach the page; an unknown token is a plain 404."""

from __future__ import annotations

import io
import json
import re
from typing import Any

import pytest
import requests
from pypdf import PdfReader

from tests.support.api import Api, address
from tests.support.platform import RunningPlatform, wait_for
from tests.support.topics import read_all

pytestmark = pytest.mark.e2e
SHOP = "shop-pay"
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"
PREVIEW = "facebookexternalhit/1.1 Facebot Twitterbot/1.0"


def sent_invoice(
    invoicing: Api, cents: int = 12900, customer: dict[str, Any] | None = None
) -> dict[str, Any]:
    body = {
        "customer": {
            "customer_id": "c-9",
            "name": "Dana Reyes",
            "email": "dana@example.com",
            "billing_address": address(9),
            "payment_terms_days": 15,
            **(customer or {}),
        },
        "service_address": address(44),
        "lines": [
            {"description": "Water heater flush", "quantity": "1", "unit_price_cents": cents}
        ],
    }
    created = invoicing.post("/invoices", body)
    assert created.status_code == 201, created.text
    sent = invoicing.post(f"/invoices/{created.json()['invoice_id']}/send")
    assert sent.status_code == 200, sent.text
    result: dict[str, Any] = sent.json()
    return result


def page_url(platform: RunningPlatform, invoice: dict[str, Any]) -> str:
    token = invoice["pay_url"].rsplit("/p/", 1)[1]
    return f"{platform.url('payments-web')}/p/{token}"


def open_page(url: str, agent: str = IPHONE, method: str = "GET") -> requests.Response:
    return requests.request(method, url, headers={"User-Agent": agent}, timeout=10)


def test_open_the_link_view_once_and_see_the_invoice(
    module_platform: RunningPlatform, module_settings: Any
) -> None:
    invoicing = Api(module_platform.url("invoicing-web"), SHOP)
    ok = requests.codes.ok
    invoice = sent_invoice(invoicing)
    url = page_url(module_platform, invoice)
    wait_for(lambda: open_page(url, PREVIEW).status_code == ok, 20, "payments' copy")
    assert open_page(url, method="HEAD").status_code == ok
    assert invoicing.get(f"/invoices/{invoice['invoice_id']}").json()["status"] == "sent"

    page = open_page(url)
    assert page.status_code == ok and "no-store" in page.headers["Cache-Control"]
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    html = page.text
    for text in (
        "Shop Pay",
        invoice["invoice_number"],
        "Water heater flush",
        "$129.00",
        "44 Elm St",
    ):
        assert text in html
    for _ in range(3):
        assert open_page(url).status_code == ok
    wait_for(
        lambda: invoicing.get(f"/invoices/{invoice['invoice_id']}").json()["status"] == "viewed",
        20,
        "Viewed in invoicing",
    )
    views = [
        json.loads(m.value or b"")
        for m in read_all(
            module_settings.kafka_bootstrap_servers, "InvoiceViewed", expect_at_least=1
        )
    ]
    assert [v["invoice_id"] for v in views].count(invoice["invoice_id"]) == 1

    pdf = requests.get(url + "/pdf", timeout=10)
    assert pdf.headers["Content-Type"] == "application/pdf"
    assert "$129.00" in PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()


def test_corrections_and_voids_reach_the_page_and_unknown_links_reveal_nothing(
    module_platform: RunningPlatform,
) -> None:
    invoicing = Api(module_platform.url("invoicing-web"), SHOP)
    invoice = sent_invoice(invoicing, cents=20000)
    url = page_url(module_platform, invoice)
    wait_for(lambda: open_page(url).status_code == 200, 20, "payments' copy")
    line = invoice["lines"][0]["line_id"]
    patched = invoicing.session.patch(
        f"{invoicing.base}/invoices/{invoice['invoice_id']}/lines/{line}",
        json={"unit_price_cents": 18000},
        timeout=10,
    )
    assert patched.status_code == 200, patched.text
    wait_for(lambda: "$180.00" in open_page(url).text, 20, "the corrected invoice on the page")
    assert (
        invoicing.post(
            f"/invoices/{invoice['invoice_id']}/void", {"reason": "duplicate"}
        ).status_code
        == 200
    )
    wait_for(lambda: "was voided" in open_page(url).text, 20, "the void on the page")

    base = module_platform.url("payments-web")
    unknown = open_page(f"{base}/p/AAAAAAAAAAAAAAAAAAAAAA")
    malformed = open_page(f"{base}/p/%00%01")
    assert unknown.status_code == malformed.status_code == 404
    assert unknown.text == malformed.text and invoice["invoice_number"] not in unknown.text


def test_pay_links_carry_128_bits_and_guessing_them_is_rate_limited(
    module_platform: RunningPlatform,
) -> None:
    """Last in this module: it spends the pay page's budget for this address for a minute."""
    invoicing = Api(module_platform.url("invoicing-web"), SHOP)
    token = sent_invoice(invoicing, cents=5_000)["pay_url"].rsplit("/p/", 1)[1]
    assert len(token) >= 22 and re.fullmatch(r"[A-Za-z0-9_-]+", token)  # ≥ 128 bits, base64url
    base = module_platform.url("payments-web")
    answers = [open_page(f"{base}/p/guess{n:017d}").status_code for n in range(125)]
    first_refusal = answers.index(429)  # a script guessing links is stopped (120/min/address)
    assert set(answers[:first_refusal]) == {404}  # every guess misses, none reveals anything
    assert set(answers[first_refusal:]) == {429}
    assert "Retry-After" in open_page(f"{base}/p/guess").headers
