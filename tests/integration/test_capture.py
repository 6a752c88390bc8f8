"""The capture server (shared/devstack/capture.py) answers the official Twilio and SendGrid SDKs as
the providers do — and reports back as they do: signed status callbacks, the message list,
incoming numbers whose SMS webhook hears the customer's reply, SendGrid's signed event webhook and
its Email Activity API. A local receiver stands in for our webhooks."""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from sendgrid import SendGridAPIClient
from sendgrid.helpers.eventwebhook import EventWebhook
from sendgrid.helpers.mail import CustomArg, Mail
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from shared.devstack.infra import free_port

pytestmark = pytest.mark.integration

ACCOUNT = "AC" + "c0ffee" * 5 + "00"
TOKEN = "capture-test-auth-token"
OUR_NUMBER = "+15005550006"
SENDER = "invoices@fieldpay.example"


@dataclass(frozen=True)
class Received:
    url: str
    headers: dict[str, str]
    body: str
    form: dict[str, str]


class Receiver:
    """Our side of the webhooks: records every request; answers 200 unless told otherwise."""

    def __init__(self) -> None:
        self.port = free_port()
        self.received: dict[str, list[Received]] = {}
        self.answers: dict[str, tuple[int, str]] = {}
        self.lock = threading.Lock()
        self.server = make_server("127.0.0.1", self.port, self.app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        body = request.get_data(as_text=True)
        seen = Received(request.url, dict(request.headers), body, request.form.to_dict())
        with self.lock:
            self.received.setdefault(request.path, []).append(seen)
        status, text = self.answers.get(request.path, (200, ""))
        return Response(text, status, mimetype="text/xml")(environ, start_response)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait(self, path: str, count: int, timeout: float = 10) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                got = list(self.received.get(path, []))
            if len(got) >= count:
                return got
            time.sleep(0.05)
        raise AssertionError(f"{path}: {len(got)} requests after {timeout}s, expected {count}")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiving = Receiver()
    receiving.thread.start()
    yield receiving
    receiving.server.shutdown()


@pytest.fixture
def twilio(capture_server: str) -> Client:
    client = Client(ACCOUNT, TOKEN)
    client.api.base_url = capture_server
    return client


@pytest.fixture
def sendgrid(capture_server: str) -> Iterator[SendGridAPIClient]:
    """The SDK on the capture server, whose event webhook settings (shared by the session) are
    put back afterwards."""
    client = SendGridAPIClient(api_key="SG.capture-test", host=capture_server)
    settings = client.client.user.webhooks.event.settings
    before = json.loads(settings.get().body)
    signed_before = bool(json.loads(settings.signed.get().body)["public_key"])
    yield client
    settings.patch(request_body=before)
    settings.signed.patch(request_body={"enabled": signed_before})


@pytest.fixture
def events_to(sendgrid: SendGridAPIClient, receiver: Receiver) -> str:
    """The event webhook on (processed, delivered, bounce) and signed; its public key."""
    settings = sendgrid.client.user.webhooks.event.settings
    wanted = {"processed": True, "delivered": True, "bounce": True}
    answer = settings.patch(
        request_body={"enabled": True, "url": receiver.url("/sendgrid"), **wanted}
    )
    assert answer.status_code == 200
    echoed = json.loads(answer.body)
    assert echoed["enabled"] is True and echoed["url"] == receiver.url("/sendgrid")
    assert echoed["open"] is False and all(echoed[k] for k in wanted)
    assert json.loads(settings.get().body) == echoed
    signed = json.loads(settings.signed.patch(request_body={"enabled": True}).body)
    assert json.loads(settings.signed.get().body) == signed
    return str(signed["public_key"])


def customer_number() -> str:
    """A number of our own in each test (the capture server is shared by the session)."""
    return f"+1559{secrets.randbelow(10**7):07d}".replace("0199", "0198")


def captured(capture_server: str, message_id: str) -> dict[str, Any]:
    records = requests.get(capture_server + "/api/messages", timeout=10).json()
    return next(r for r in records if r["id"] == message_id)


def eventually(check: Callable[[], bool], what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def twilio_signed(seen: Received, token: str = TOKEN) -> bool:
    signature = seen.headers.get("X-Twilio-Signature", "")
    return bool(RequestValidator(token).validate(seen.url, seen.form, signature))


# Twilio


def test_status_callbacks_sent_then_delivered_signed_with_the_auth_token(
    twilio: Client, receiver: Receiver, capture_server: str
) -> None:
    to = customer_number()
    message = twilio.messages.create(
        to=to, from_=OUR_NUMBER, body="Invoice ready", status_callback=receiver.url("/status")
    )
    assert message.status == "queued" and message.sid.startswith("SM")

    sent, delivered = receiver.wait("/status", 2)
    assert [sent.form["MessageStatus"], delivered.form["MessageStatus"]] == ["sent", "delivered"]
    assert delivered.form == {
        "MessageSid": message.sid,
        "SmsSid": message.sid,
        "AccountSid": ACCOUNT,
        "From": OUR_NUMBER,
        "To": to,
        "MessageStatus": "delivered",
        "SmsStatus": "delivered",
        "ApiVersion": "2010-04-01",
    }
    assert twilio_signed(sent) and twilio_signed(delivered)
    assert not twilio_signed(delivered, token="another-token")
    assert twilio.messages(message.sid).fetch().status == "delivered"
    assert captured(capture_server, message.sid)["status"] == "delivered"


def test_a_number_ending_in_0199_is_undelivered_with_error_30003(
    twilio: Client, receiver: Receiver, capture_server: str
) -> None:
    message = twilio.messages.create(
        to="+15595550199", from_=OUR_NUMBER, body="Hi", status_callback=receiver.url("/status")
    )
    sent, undelivered = receiver.wait("/status", 2)
    assert sent.form["MessageStatus"] == "sent" and "ErrorCode" not in sent.form
    assert undelivered.form["MessageStatus"] == undelivered.form["SmsStatus"] == "undelivered"
    assert undelivered.form["ErrorCode"] == "30003"
    assert twilio_signed(undelivered)
    fetched = twilio.messages(message.sid).fetch()
    assert (fetched.status, fetched.error_code) == ("undelivered", 30003)
    assert captured(capture_server, message.sid)["status"] == "undelivered"


def test_a_failing_status_callback_is_tried_three_times_then_given_up(
    twilio: Client, receiver: Receiver
) -> None:
    receiver.answers["/down"] = (503, "")
    twilio.messages.create(
        to=customer_number(), from_=OUR_NUMBER, body="Hi", status_callback=receiver.url("/down")
    )
    tries = receiver.wait("/down", 6)
    time.sleep(1.0)  # no more
    assert [t.form["MessageStatus"] for t in receiver.received["/down"]] == 3 * ["sent"] + 3 * [
        "delivered"
    ]
    assert len({t.headers["X-Twilio-Signature"] for t in tries}) == 2  # same request retried


def test_the_message_list_filters_by_to_from_and_date_sent(
    twilio: Client, capture_server: str
) -> None:
    to, since = customer_number(), datetime.now(UTC).replace(microsecond=0)
    first = twilio.messages.create(to=to, from_=OUR_NUMBER, body="first")
    second = twilio.messages.create(to=to, from_=OUR_NUMBER, body="second")
    twilio.messages.create(to=customer_number(), from_=OUR_NUMBER, body="someone else")

    found = twilio.messages.list(to=to, from_=OUR_NUMBER, date_sent_after=since, limit=20)
    assert [m.sid for m in found] == [second.sid, first.sid]  # newest first
    newest = found[0]
    assert (newest.body, newest.to, newest.from_) == ("second", to, OUR_NUMBER)
    assert newest.status in ("queued", "sent", "delivered")
    assert newest.date_sent == newest.date_created and newest.date_sent >= since
    assert [m.sid for m in twilio.messages.list(to=to, page_size=1)] == [second.sid, first.sid]
    later = datetime.now(UTC) + timedelta(minutes=1)
    assert twilio.messages.list(to=to, date_sent_after=later) == []
    assert twilio.messages.list(to=to, from_="+15005550001") == []
    assert len(twilio.messages.list(to=to, date_sent=newest.date_sent.date())) == 2
    unauthenticated = requests.get(
        f"{capture_server}/2010-04-01/Accounts/{ACCOUNT}/Messages.json", timeout=10
    )
    assert unauthenticated.status_code == 401


def test_a_customer_reply_reaches_the_numbers_sms_url_signed(
    twilio: Client, receiver: Receiver, capture_server: str
) -> None:
    ours = f"+1500555{secrets.randbelow(10**4):04d}"  # not the platform's: no shared sms_url
    (number,) = twilio.incoming_phone_numbers.list(phone_number=ours)
    assert number.sid.startswith("PN") and number.phone_number == ours
    updated = twilio.incoming_phone_numbers(number.sid).update(
        sms_url=receiver.url("/sms"), sms_method="POST"
    )
    assert (updated.sms_url, updated.sms_method) == (receiver.url("/sms"), "POST")
    assert [n.sid for n in twilio.incoming_phone_numbers.list(phone_number=ours)] == [number.sid]
    receiver.answers["/sms"] = (200, "<Response></Response>")
    customer = customer_number()

    reply = {"from": customer, "to": ours, "body": "STOP"}
    answer = requests.post(capture_server + "/api/sms/replies", json=reply, timeout=10)
    assert answer.json() == {"status": 200, "body": "<Response></Response>"}

    (seen,) = receiver.wait("/sms", 1)
    assert twilio_signed(seen)
    assert (
        seen.form["MessageSid"].startswith("SM") and seen.form["SmsSid"] == seen.form["MessageSid"]
    )
    expected = {"AccountSid": ACCOUNT, "From": customer, "To": ours, "Body": "STOP"}
    assert {k: seen.form[k] for k in expected} == expected
    assert (seen.form["NumMedia"], seen.form["NumSegments"]) == ("0", "1")
    assert seen.form["ApiVersion"] == "2010-04-01"
    assert captured(capture_server, seen.form["MessageSid"])["channel"] == "sms_in"
    (listed,) = twilio.messages.list(from_=customer)
    assert (listed.body, listed.direction, listed.status) == ("STOP", "inbound", "received")

    receiver.answers["/sms"] = (403, "forbidden")
    again = requests.post(capture_server + "/api/sms/replies", json=reply, timeout=10)
    assert again.json() == {"status": 403, "body": "forbidden"}
    nobody = {**reply, "to": customer_number()}
    missing = requests.post(capture_server + "/api/sms/replies", json=nobody, timeout=10)
    assert missing.status_code == 404 and "error" in missing.json()


def test_the_inbox_offers_a_reply_form_under_each_sms(twilio: Client, capture_server: str) -> None:
    twilio.messages.create(to=customer_number(), from_=OUR_NUMBER, body="<b>not bold</b>")
    page = requests.get(capture_server + "/", timeout=10).text
    assert 'action="/api/sms/replies"' in page and "<b>not bold</b>" not in page
    assert "&lt;b&gt;not bold&lt;/b&gt;" in page


# SendGrid


def mail(to: str, message_id: str) -> Mail:
    message = Mail(
        from_email=SENDER, to_emails=to, subject="Invoice 1042", plain_text_content="Pay here"
    )
    message.custom_arg = CustomArg("message_id", message_id)
    message.custom_arg = CustomArg("shop_id", "shop-capture", p=0)
    return message


def verified(seen: Received, public_key: str) -> bool:
    check = EventWebhook()
    signature = seen.headers["X-Twilio-Email-Event-Webhook-Signature"]
    timestamp = seen.headers["X-Twilio-Email-Event-Webhook-Timestamp"]
    key = check.convert_public_key_to_ecdsa(public_key)
    return bool(check.verify_signature(seen.body, signature, timestamp, key))


def test_signed_events_processed_then_delivered_carry_the_custom_args(
    sendgrid: SendGridAPIClient, events_to: str, receiver: Receiver, capture_server: str
) -> None:
    message_id = secrets.token_hex(8)
    answer = sendgrid.send(mail("dana@example.com", message_id))
    assert answer.status_code == 202
    x_message_id = answer.headers["X-Message-Id"]

    processed, delivered = receiver.wait("/sendgrid", 2)
    assert verified(processed, events_to) and verified(delivered, events_to)
    tampered = Received(delivered.url, delivered.headers, delivered.body.replace("d", "D"), {})
    assert not verified(tampered, events_to)
    events = json.loads(processed.body) + json.loads(delivered.body)
    assert [e["event"] for e in events] == ["processed", "delivered"]
    for event in events:
        assert event["email"] == "dana@example.com" and isinstance(event["timestamp"], int)
        assert event["sg_message_id"].startswith(f"{x_message_id}.filterdrecv")
        assert event["smtp-id"] and event["message_id"] == message_id
        assert event["shop_id"] == "shop-capture"
    assert len({e["sg_event_id"] for e in events}) == 2
    eventually(lambda: captured(capture_server, x_message_id)["status"] == "delivered", "status")
    record = captured(capture_server, x_message_id)
    assert record["custom_args"] == {"message_id": message_id, "shop_id": "shop-capture"}


def test_an_address_starting_with_bounce_bounces(
    sendgrid: SendGridAPIClient, events_to: str, receiver: Receiver, capture_server: str
) -> None:
    answer = sendgrid.send(mail("bounce-dana@example.com", secrets.token_hex(8)))
    processed, bounced = receiver.wait("/sendgrid", 2)
    assert verified(bounced, events_to)
    (event,) = json.loads(bounced.body)
    assert json.loads(processed.body)[0]["event"] == "processed"
    assert (event["event"], event["type"], event["status"]) == ("bounce", "bounce", "5.1.1")
    assert event["reason"] == "550 5.1.1 The email account that you tried to reach does not exist"
    assert event["email"] == "bounce-dana@example.com"
    record = captured(capture_server, answer.headers["X-Message-Id"])
    assert record["status"] == "bounce"


def test_email_activity_finds_a_message_by_its_unique_args(
    sendgrid: SendGridAPIClient, capture_server: str
) -> None:
    message_id = secrets.token_hex(8)
    to = f"{message_id}@example.com"
    x_message_id = sendgrid.send(mail(to, message_id)).headers["X-Message-Id"]

    def activity(query: str) -> list[dict[str, Any]]:
        answer = sendgrid.client.messages.get(query_params={"limit": 10, "query": query})
        return list(json.loads(answer.body)["messages"])

    by_arg = f"unique_args['message_id']=\"{message_id}\""
    eventually(lambda: activity(by_arg)[0]["status"] == "delivered", "delivered")
    (found,) = activity(by_arg)
    assert found["msg_id"].startswith(x_message_id) and found["to_email"] == to
    assert (found["from_email"], found["subject"]) == (SENDER, "Invoice 1042")
    assert (found["opens_count"], found["clicks_count"]) == (0, 0)
    assert datetime.strptime(found["last_event_time"], "%Y-%m-%dT%H:%M:%SZ")
    assert activity(f'to_email="{to}"') == [found]
    assert activity(f'{by_arg} AND status="delivered"') == [found]
    assert activity("unique_args['message_id']=\"no-such-message\"") == []
    unauthenticated = requests.get(capture_server + "/v3/messages", timeout=10)
    assert unauthenticated.status_code == 401
