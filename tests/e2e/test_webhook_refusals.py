"""Every provider webhook of notifications refuses a delivery that is unsigned, signed wrongly (or
for another request) or replayed, on the real platform, and a duplicate never records anything
twice. Twilio (status callbacks and SMS replies) signs with the auth token over the URL and
form, without a timestamp: a replay is the same signed request again, so its effect is made
idempotent (one outcome per message; one action per reply's MessageSid — a replayed STOP cannot
undo a later START). SendGrid's Signed Event Webhook (ECDSA over timestamp + body) is refused
once the timestamp is over 10 minutes old; a copy inside the window records nothing new.
Stripe's webhook is proven in tests/e2e/test_card_payments.py (see docs/security.md).

This module signs like the providers itself: it knows Twilio's auth token (the platform's
setting) and holds the SendGrid signing key whose public half notifications is given."""

from __future__ import annotations

import base64
import contextlib
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from twilio.request_validator import RequestValidator

from shared.settings import Settings
from tests.conftest import env_for
from tests.e2e.test_pay_link import sent_invoice
from tests.support.api import Api
from tests.support.platform import RunningPlatform, plan, wait_for

pytestmark = pytest.mark.e2e
SHOP = "shop-hooks"
PHONE = "+15595550142"
PUBLIC_URL = "http://127.0.0.1:9"
"""notifications' public address as the providers see it (as behind an ingress): signatures are
over it. Nothing listens there, so the capture server's own callbacks never arrive and every
report below is one this module sent."""
KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_KEY = ec.generate_private_key(ec.SECP256R1())


def public_key(key: ec.EllipticCurvePrivateKey) -> str:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


@pytest.fixture(scope="module")
def hooks(module_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Invoicing, payments and notifications, notifications verifying SendGrid with our key."""
    running = plan(
        env_for(module_settings),
        tmp_path_factory.mktemp("hooks"),
        services=("invoicing", "payments", "notifications"),
    )
    running.env.update(
        {"NOTIFICATIONS_PUBLIC_URL": PUBLIC_URL, "SENDGRID_WEBHOOK_PUBLIC_KEY": public_key(KEY)}
    )
    for name in running.procs:
        running.start(name)
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop_all()


@contextlib.contextmanager
def notifications_db(settings: Settings) -> Iterator[psycopg.Connection]:
    with psycopg.connect(settings.database_url_for("notifications"), autocommit=True) as conn:
        yield conn


def facts_about(settings: Settings, message_id: str) -> int:
    """How many delivery facts notifications recorded (its outbox) about one message."""
    with notifications_db(settings) as conn:
        row = conn.execute(
            "SELECT count(*) FROM events WHERE aggregate_id = %s", (f"message:{message_id}",)
        ).fetchone()
    return int(row[0]) if row else 0


def message_of(settings: Settings, invoice_id: str, channel: str) -> tuple[str, str]:
    """(our message id, the provider's id) once the message went out."""
    with notifications_db(settings) as conn:
        row = conn.execute(
            "SELECT message_id, provider_id FROM messages WHERE invoice_id = %s AND channel = %s"
            " AND status = 'sent'",
            (invoice_id, channel),
        ).fetchone()
    assert row is not None
    return str(row[0]), str(row[1])


def opted_out(settings: Settings, phone: str) -> bool:
    with notifications_db(settings) as conn:
        found = conn.execute("SELECT 1 FROM opted_out WHERE phone = %s", (phone,)).fetchone()
    return found is not None


def twilio_post(
    platform: RunningPlatform,
    path: str,
    form: dict[str, str],
    signature: str | None = "sign",
    signed_url: str | None = None,
) -> requests.Response:
    """A POST as Twilio sends it: the X-Twilio-Signature over the public URL and the form
    (``signature=None``: no header; ``signed_url``: signed for another request)."""
    headers = {}
    if signature == "sign":
        token = Settings().twilio_auth_token
        headers["X-Twilio-Signature"] = RequestValidator(token).compute_signature(
            signed_url or PUBLIC_URL + path, form
        )
    elif signature is not None:
        headers["X-Twilio-Signature"] = signature
    url = platform.url("notifications-web") + path
    return requests.post(url, data=form, headers=headers, timeout=10)


def sendgrid_post(
    platform: RunningPlatform,
    events: list[dict[str, Any]],
    key: ec.EllipticCurvePrivateKey | None = KEY,
    age_seconds: int = 0,
    signed_body: str | None = None,
) -> requests.Response:
    """A batch as SendGrid's Signed Event Webhook posts it: ECDSA (P-256, SHA-256) over the
    timestamp and the body (``key=None``: unsigned; ``signed_body``: a signature of another
    body)."""
    payload = json.dumps(events)
    headers = {"Content-Type": "application/json"}
    if key is not None:
        stamp = str(int(time.time()) - age_seconds)
        signature = key.sign((stamp + (signed_body or payload)).encode(), ec.ECDSA(hashes.SHA256()))
        headers["X-Twilio-Email-Event-Webhook-Signature"] = base64.b64encode(signature).decode()
        headers["X-Twilio-Email-Event-Webhook-Timestamp"] = stamp
    url = platform.url("notifications-web") + "/webhooks/sendgrid"
    return requests.post(url, data=payload.encode(), headers=headers, timeout=10)


def test_twilio_status_callbacks_unsigned_forged_or_replayed_record_nothing_new(
    hooks: RunningPlatform, module_settings: Settings
) -> None:
    invoicing = Api(hooks.url("invoicing-web"), SHOP)
    invoice = sent_invoice(invoicing, customer={"phone": PHONE})
    wait_for(lambda: _sent(module_settings, invoice["invoice_id"], "sms"), 30, "the text sent")
    message_id, sid = message_of(module_settings, invoice["invoice_id"], "sms")
    path = f"/webhooks/twilio/status?m={message_id}"
    delivered = {"MessageSid": sid, "MessageStatus": "delivered", "To": PHONE}

    assert twilio_post(hooks, path, delivered, signature=None).status_code == 403  # missing
    assert twilio_post(hooks, path, delivered, signature="bm90IGEgc2lnbmF0dXJl").status_code == 403
    other = PUBLIC_URL + f"/webhooks/twilio/status?m={uuid.uuid4()}"
    moved = twilio_post(hooks, path, delivered, signed_url=other)  # a real signature, elsewhere
    assert moved.status_code == 403 and moved.json()["fields"][0]["field"] == "signature"
    undelivered = {**delivered, "MessageStatus": "undelivered", "ErrorCode": "30003"}
    assert twilio_post(hooks, path, undelivered, signature=None).status_code == 403
    assert facts_about(module_settings, message_id) == 0  # nothing refused was recorded

    for _ in range(3):  # the genuine callback, then the same signed request replayed twice
        assert twilio_post(hooks, path, delivered).status_code == 204
    assert twilio_post(hooks, path, undelivered).status_code == 204  # a later, other outcome
    assert facts_about(module_settings, message_id) == 1
    wait_for(
        lambda: reports(invoicing, invoice, "•••0142") == ["invoice text to •••0142 delivered"],
        20,
        "one delivery report on the timeline",
    )


def reports(invoicing: Api, invoice: dict[str, Any], to: str) -> list[str]:
    items = invoicing.get(f"/invoices/{invoice['invoice_id']}/timeline").json()["items"]
    return [i["what"] for i in items if f" to {to} " in i["what"]]


def _sent(settings: Settings, invoice_id: str, channel: str) -> bool:
    try:
        message_of(settings, invoice_id, channel)
    except AssertionError:
        return False
    return True


def test_twilio_replies_unsigned_forged_or_replayed_change_nothing(
    hooks: RunningPlatform, module_settings: Settings
) -> None:
    phone = "+15595550177"
    stop = {"MessageSid": "SM" + uuid.uuid4().hex, "From": phone, "Body": "STOP"}
    start = {"MessageSid": "SM" + uuid.uuid4().hex, "From": phone, "Body": "START"}
    path = "/webhooks/twilio/inbound"
    assert twilio_post(hooks, path, stop, signature=None).status_code == 403
    assert twilio_post(hooks, path, stop, signature="bm90IGEgc2lnbmF0dXJl").status_code == 403
    tampered = twilio_post(hooks, path, {**stop, "From": "+15595550999"}, signature=None)
    assert tampered.status_code == 403
    assert not opted_out(module_settings, phone)

    assert twilio_post(hooks, path, stop).status_code == 200
    assert opted_out(module_settings, phone)
    assert twilio_post(hooks, path, start).status_code == 200
    assert not opted_out(module_settings, phone)
    replayed = twilio_post(hooks, path, stop)  # the STOP's signed request, captured and replayed
    assert replayed.status_code == 200 and "<Response>" in replayed.text
    assert not opted_out(module_settings, phone)  # it cannot undo the START
    no_sid = twilio_post(hooks, path, {"From": phone, "Body": "STOP"})
    assert no_sid.status_code == 422 and no_sid.json()["fields"][0]["field"] == "MessageSid"
    assert not opted_out(module_settings, phone)


def test_sendgrid_events_unsigned_forged_stale_or_replayed_record_nothing_new(
    hooks: RunningPlatform, module_settings: Settings
) -> None:
    invoicing = Api(hooks.url("invoicing-web"), SHOP)
    invoice = sent_invoice(invoicing)
    wait_for(lambda: _sent(module_settings, invoice["invoice_id"], "email"), 30, "the email sent")
    message_id, _ = message_of(module_settings, invoice["invoice_id"], "email")
    delivered = [
        {
            "email": "dana@example.com",
            "event": "delivered",
            "timestamp": int(time.time()),
            "message_id": message_id,
            "sg_event_id": uuid.uuid4().hex,
        }
    ]
    bounced = [{**delivered[0], "event": "bounce", "reason": "550 no such user"}]

    assert sendgrid_post(hooks, delivered, key=None).status_code == 403  # missing
    assert sendgrid_post(hooks, delivered, key=OTHER_KEY).status_code == 403  # wrong key
    tampered = sendgrid_post(hooks, bounced, signed_body=json.dumps(delivered))
    assert tampered.status_code == 403  # a real signature, of another body
    stale = sendgrid_post(hooks, delivered, age_seconds=11 * 60)  # replayed after the window
    assert stale.status_code == 403 and "replay" in stale.json()["message"]
    future = sendgrid_post(hooks, delivered, age_seconds=-11 * 60)
    assert future.status_code == 403
    assert facts_about(module_settings, message_id) == 0

    assert sendgrid_post(hooks, delivered).status_code == 204
    for _ in range(2):  # the same batch again inside the window, then another outcome
        assert sendgrid_post(hooks, delivered).status_code == 204
    assert sendgrid_post(hooks, bounced).status_code == 204
    assert facts_about(module_settings, message_id) == 1
    wait_for(
        lambda: (
            reports(invoicing, invoice, "d•••@example.com")
            == ["invoice email to d•••@example.com delivered"]
        ),
        20,
        "one delivery report on the timeline",
    )
