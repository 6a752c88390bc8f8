"""Send an invoice → exactly one SMS and one email through the official Twilio and SendGrid SDKs
(pointed at the local capture server), with the link, the amount and the PDF — even when
InvoiceSent is delivered twice."""

from __future__ import annotations

import base64
import io
import json
import os
import time
from typing import Any

import pytest
import requests
from pypdf import PdfReader

from shared import contracts
from tests.e2e.test_pay_link import sent_invoice
from tests.support.api import Api
from tests.support.platform import RunningPlatform, wait_for
from tests.support.topics import publish

pytestmark = pytest.mark.e2e


def captured(pay_link: str) -> list[dict[str, Any]]:
    """The messages about one invoice (its pay link is unique; numbers repeat across shops)."""
    messages = requests.get(os.environ["TWILIO_API_BASE"] + "/api/messages", timeout=10).json()
    return [m for m in messages if pay_link in json.dumps(m)]


def test_one_sms_and_one_email_per_invoice_sent(
    module_platform: RunningPlatform, module_settings: Any
) -> None:
    invoicing = Api(module_platform.url("invoicing-web"), "shop-notify")
    with_phone = {"phone": "+15595550142"}
    invoice = sent_invoice(invoicing, cents=44_819, customer=with_phone)
    number, link = invoice["invoice_number"], invoice["pay_url"]
    wait_for(lambda: len(captured(link)) == 2, 20, "the SMS and the email")

    sms, email = sorted(captured(link), key=lambda m: m["channel"] != "sms")
    assert sms["to"] == "+15595550142" and sms["from"] == "+15005550006"
    assert sms["body"] == f"Shop Notify: invoice {number} for $448.19 is ready. Pay: {link}"
    assert len(sms["body"]) <= 160
    payload = email["payload"]
    assert [p["email"] for part in payload["personalizations"] for p in part["to"]] == [
        "dana@example.com"
    ]
    assert payload["from"] == {"email": "invoices@fieldpay.example", "name": "Shop Notify"}
    assert payload["subject"] == f"Invoice {number} from Shop Notify — $448.19"
    text = next(c["value"] for c in payload["content"] if c["type"] == "text/plain")
    assert link in text and "$448.19" in text
    (attachment,) = payload["attachments"]
    assert attachment["filename"] == f"{number}.pdf" and attachment["type"] == "application/pdf"
    pdf_text = (
        PdfReader(io.BytesIO(base64.b64decode(attachment["content"]))).pages[0].extract_text()
    )
    assert "$448.19" in pdf_text and number in pdf_text

    # The same fact delivered again (a new envelope, as after a relay's re-publish): no more.
    history = invoicing.get(f"/invoices/{invoice['invoice_id']}").json()
    again = contracts.InvoiceSent(
        invoice_id=invoice["invoice_id"],
        shop_id="shop-notify",
        invoice_number=number,
        sent_at=history["sent_at"],
        due_date=history["due_date"],
        customer=contracts.CustomerSnapshot.model_validate(history["customer"]),
        service_address=contracts.Address.model_validate(history["service_address"]),
        lines=[contracts.InvoiceLine.model_validate(line) for line in history["lines"]],
        totals=contracts.InvoiceTotals.model_validate(history["totals"]),
        allowed_payment_methods=history["allowed_payment_methods"],
        pay_url=link,
    )
    for _ in range(2):
        publish(module_settings.kafka_bootstrap_servers, again, "shop-notify")
    sentinel = sent_invoice(invoicing, cents=100, customer=with_phone)
    wait_for(lambda: len(captured(sentinel["pay_url"])) == 2, 20, "a later invoice's messages")
    assert len(captured(link)) == 2  # still one SMS and one email


def test_a_nudge_goes_out_at_once_and_a_second_within_the_hour_is_refused(
    module_platform: RunningPlatform,
) -> None:
    invoicing = Api(module_platform.url("invoicing-web"), "shop-nudge")
    notifications = Api(module_platform.url("notifications-web"), "shop-nudge")
    invoice = sent_invoice(invoicing, customer={"phone": "+15595550142"})
    link = invoice["pay_url"]
    wait_for(lambda: len(captured(link)) == 2, 20, "the invoice's SMS and email")
    nudge = f"/invoices/{invoice['invoice_id']}/nudge"
    too_soon = notifications.post(nudge, {"channels": ["sms"]})
    assert too_soon.status_code == 409 and "less than an hour" in too_soon.json()["message"]
    intruder = Api(module_platform.url("notifications-web"), "shop-intruder")
    assert intruder.post(nudge, {"channels": ["sms"]}).status_code == 404
    assert notifications.post(nudge, {"channels": ["fax"]}).status_code == 422
    time.sleep(0.2)
    assert len(captured(link)) == 2  # nothing more went out
