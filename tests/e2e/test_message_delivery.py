"""Delivery reports and replies through the providers' own webhooks (signed by the local capture
server exactly as Twilio and SendGrid sign them): delivered, undelivered and bounced messages are
on the invoice's timeline; a STOP reply stops texts to that number; forged reports are refused;
settings → automations round-trip, one shop's own."""

from __future__ import annotations

import copy
import os
from typing import Any

import pytest
import requests

from tests.e2e.test_invoice_messages import captured
from tests.e2e.test_pay_link import sent_invoice
from tests.support.api import Api
from tests.support.platform import RunningPlatform, wait_for

pytestmark = pytest.mark.e2e
SHOP = "shop-delivery"


def timeline(invoicing: Api, invoice: dict[str, Any]) -> list[str]:
    items = invoicing.get(f"/invoices/{invoice['invoice_id']}/timeline").json()["items"]
    return [f"{item['who']}: {item['what']}" for item in items]


def test_delivery_reports_are_on_the_timeline(module_platform: RunningPlatform) -> None:
    invoicing = Api(module_platform.url("invoicing-web"), SHOP)
    good = sent_invoice(invoicing, customer={"phone": "+15595550142"})
    bad = sent_invoice(invoicing, customer={"phone": "+15595550199", "email": "bounce@example.com"})

    def reports(invoice: dict[str, Any]) -> list[str]:
        return [t for t in timeline(invoicing, invoice) if " to " in t]

    wait_for(lambda: len(reports(good)) == 2 and len(reports(bad)) == 2, 30, "4 reports")
    assert sorted(reports(good)) == [
        "FieldPay: invoice email to d•••@example.com delivered",
        "FieldPay: invoice text to •••0142 delivered",
    ]
    bounced, undelivered = sorted(reports(bad))
    assert bounced.startswith("FieldPay: invoice email to b•••@example.com bounced (550")
    assert undelivered == "FieldPay: invoice text to •••0199 was not delivered (Twilio error 30003)"


def test_stop_stops_texts_and_start_lets_them_through_again(
    module_platform: RunningPlatform,
) -> None:
    invoicing = Api(module_platform.url("invoicing-web"), SHOP)
    notifications = Api(module_platform.url("notifications-web"), SHOP)
    phone = "+15595550155"
    invoice = sent_invoice(invoicing, customer={"phone": phone})
    wait_for(lambda: len(captured(invoice["pay_url"])) == 2, 20, "the SMS and the email")
    reply = requests.post(
        os.environ["TWILIO_API_BASE"] + "/api/sms/replies",
        json={"from": phone, "to": "+15005550006", "body": "STOP"},
        timeout=10,
    )
    assert reply.json()["status"] == 200, reply.text
    nudge = f"/invoices/{invoice['invoice_id']}/nudge"
    stopped = notifications.post(nudge, {"channels": ["sms", "email"]})
    assert stopped.status_code == 422 and "replied STOP" in stopped.json()["message"]
    too_soon = notifications.post(nudge, {"channels": ["email"]})
    assert too_soon.status_code == 409
    requests.post(
        os.environ["TWILIO_API_BASE"] + "/api/sms/replies",
        json={"from": phone, "to": "+15005550006", "body": "START"},
        timeout=10,
    )
    assert notifications.post(nudge, {"channels": ["sms"]}).status_code == 409  # texts again


def test_forged_reports_are_refused(module_platform: RunningPlatform) -> None:
    base = module_platform.url("notifications-web")
    forged = requests.post(
        base + "/webhooks/twilio/status?m=x",
        data={"MessageSid": "SM1", "MessageStatus": "delivered"},
        headers={"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"},
        timeout=10,
    )
    assert forged.status_code == 403 and forged.json()["fields"][0]["field"] == "signature"
    unsigned = requests.post(base + "/webhooks/sendgrid", json=[{"event": "delivered"}], timeout=10)
    assert unsigned.status_code == 403
    reply = requests.post(
        base + "/webhooks/twilio/inbound", data={"From": "+15595550100", "Body": "STOP"}, timeout=10
    )
    assert reply.status_code == 403


def test_automations_round_trip_and_bad_messages_are_refused(
    module_platform: RunningPlatform,
) -> None:
    notifications = Api(module_platform.url("notifications-web"), SHOP)
    defaults = notifications.get("/settings/automations").json()
    assert [s["days"] for s in defaults["policies"]["residential"]["steps"]] == [
        -3,
        0,
        3,
        7,
        14,
        30,
    ]
    mine = {**copy.deepcopy(defaults), "quiet_hours_start": "21:00"}
    mine["policies"]["commercial"]["steps"] = [
        {"days": 10, "channels": ["email"], "message": "{invoice}: {balance} is late. {link}"}
    ]
    saved = notifications.session.put(notifications.base + "/settings/automations", json=mine)
    assert saved.status_code == 200, saved.text
    assert notifications.get("/settings/automations").json() == mine
    other = Api(module_platform.url("notifications-web"), "shop-other")
    assert other.get("/settings/automations").json() == defaults  # one shop's settings only
    mine["policies"]["commercial"]["steps"][0]["message"] = "pay {amount} now"
    refused = notifications.session.put(notifications.base + "/settings/automations", json=mine)
    assert refused.status_code == 422
    (error,) = refused.json()["fields"]
    assert error["field"] == "policies.commercial.steps.0.message"
    assert "add {link}" in error["reason"]
