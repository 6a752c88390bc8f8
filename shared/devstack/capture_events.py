"""The providers' side of the capture server (shared/devstack/capture.py, which only speaks HTTP):
what Twilio and SendGrid do with a message after accepting it, and what they report about it.

A message moves on by itself — an SMS is sent, then delivered (undelivered, error 30003, to a
number ending in 0199); an email is processed, then delivered (bounced for a recipient whose local
part starts with "bounce") — and the customer's webhooks hear about it, signed as the providers
sign them: Twilio's X-Twilio-Signature (HMAC-SHA1 keyed with the auth token), SendGrid's Signed
Event Webhook (ECDSA P-256 over timestamp + payload). Also here: the JSON shapes of Twilio's
messages, pages and incoming numbers, and SendGrid's Email Activity query."""

from __future__ import annotations

import base64
import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from twilio.request_validator import RequestValidator

log = logging.getLogger("capture")

TRIES = 3
RETRY_SECONDS = 0.5
STEP_SECONDS = 0.2
"""Between a message's steps (accepted → sent → delivered), so callbacks come in order."""
TIMEOUT_SECONDS = 10.0
TWILIO_API_VERSION = "2010-04-01"
UNREACHABLE_SUFFIX = "0199"
UNREACHABLE_ERROR = 30003
BOUNCE_PREFIX = "bounce"
BOUNCE_REASON = "550 5.1.1 The email account that you tried to reach does not exist"
EVENT_FLAGS = (
    "group_resubscribe",
    "delivered",
    "group_unsubscribe",
    "spam_report",
    "bounce",
    "deferred",
    "unsubscribe",
    "processed",
    "open",
    "click",
    "dropped",
)


def in_background(work: Callable[[], None]) -> None:
    threading.Thread(target=work, daemon=True).start()


def post(url: str, body: bytes, headers: Mapping[str, str], what: str) -> None:
    """POST as a provider does: up to TRIES tries, RETRY_SECONDS apart, while the receiver cannot
    be reached or answers 5xx; then give up (logged)."""
    for attempt in range(1, TRIES + 1):
        try:
            answer = requests.post(url, data=body, headers=dict(headers), timeout=TIMEOUT_SECONDS)
        except requests.RequestException as exc:
            problem = type(exc).__name__
        else:
            if answer.status_code < 500:
                level = logging.INFO if answer.status_code < 400 else logging.WARNING
                log.log(level, "%s → %s: HTTP %d", what, url, answer.status_code)
                return
            problem = f"HTTP {answer.status_code}"
        log.warning("%s → %s: try %d of %d failed (%s)", what, url, attempt, TRIES, problem)
        if attempt < TRIES:
            time.sleep(RETRY_SECONDS)
    log.error("%s → %s: gave up after %d tries", what, url, TRIES)


# Twilio: resources


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def sms_record(account: str, form: Mapping[str, str]) -> dict[str, Any]:
    """A captured SMS, as Messages.create received it."""
    return {
        "channel": "sms",
        "id": "SM" + secrets.token_hex(16),
        "account": account,
        "to": form.get("To"),
        "from": form.get("From"),
        "body": form.get("Body"),
        "status_callback": form.get("StatusCallback"),
        "at": now_iso(),
        "status": "queued",
        "error_code": None,
    }


def reply_record(number: Number, sender: str, to: str, body: str) -> dict[str, Any]:
    """A customer's SMS to one of the account's numbers."""
    return {
        "channel": "sms_in",
        "id": "SM" + secrets.token_hex(16),
        "account": number.account,
        "to": to,
        "from": sender,
        "body": body,
        "status_callback": None,
        "at": now_iso(),
        "status": "received",
        "error_code": None,
        "sms_url": number.sms_url,
        "webhook_status": None,
    }


def twilio_time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")


def message_json(record: Mapping[str, Any]) -> dict[str, Any]:
    """A captured SMS (sent, or a customer's reply) as Twilio's Message resource."""
    sid, account = record["id"], record["account"]
    uri = f"/{TWILIO_API_VERSION}/Accounts/{account}/Messages/{sid}"
    created = twilio_time(datetime.fromisoformat(record["at"]))
    inbound = record["channel"] == "sms_in"
    return {
        "account_sid": account,
        "api_version": TWILIO_API_VERSION,
        "body": record["body"],
        "date_created": created,
        "date_sent": created,
        "date_updated": created,
        "direction": "inbound" if inbound else "outbound-api",
        "error_code": record.get("error_code"),
        "error_message": None,
        "from": record["from"],
        "messaging_service_sid": None,
        "num_media": "0",
        "num_segments": "1",
        "price": None,
        "price_unit": "USD",
        "sid": sid,
        "status": record["status"],
        "subresource_uris": {"media": f"{uri}/Media.json"},
        "to": record["to"],
        "uri": f"{uri}.json",
    }


def page_json(path: str, args: Mapping[str, str], key: str, items: list[Any]) -> dict[str, Any]:
    """One page of a Twilio list (Page, PageSize), with the URIs the SDK follows."""
    size = min(max(_int(args.get("PageSize"), 50), 1), 1000)
    page = max(_int(args.get("Page"), 0), 0)
    start = page * size
    query = {k: v for k, v in args.items() if k not in ("Page", "PageSize", "PageToken")}

    def uri(n: int) -> str:
        return f"{path}?{urlencode({**query, 'PageSize': size, 'Page': n})}"

    return {
        key: items[start : start + size],
        "start": start,
        "end": start + max(len(items[start : start + size]) - 1, 0),
        "page": page,
        "page_size": size,
        "uri": uri(page),
        "first_page_uri": uri(0),
        "next_page_uri": uri(page + 1) if start + size < len(items) else None,
        "previous_page_uri": uri(page - 1) if page else None,
    }


def _int(value: str | None, default: int) -> int:
    return int(value) if value and value.isdigit() else default


DATE_FILTERS = ("DateSent", "DateSent>", "DateSent<")


def message_filter(args: Mapping[str, str]) -> Callable[[Mapping[str, Any]], bool] | None:
    """To, From, and DateSent> / DateSent< (inclusive, to the second; a date alone: from the start
    or to the end of its day, UTC), DateSent (that day); None when a date cannot be read."""
    try:
        given = {k: _date_bounds(args[k], k == "DateSent") for k in DATE_FILTERS if k in args}
    except ValueError:
        return None
    lower = [bounds[0] for k, bounds in given.items() if k != "DateSent<"]
    upper = [bounds[1] for k, bounds in given.items() if k != "DateSent>"]
    to, sender = args.get("To"), args.get("From")

    def wanted(record: Mapping[str, Any]) -> bool:
        sent = datetime.fromisoformat(record["at"]).replace(microsecond=0)
        return (
            to in (None, record["to"])
            and sender in (None, record["from"])
            and all(sent >= at for at in lower)
            and all(sent <= at for at in upper)
        )

    return wanted


def _date_bounds(value: str, whole_day: bool) -> tuple[datetime, datetime]:
    """The first and last second a DateSent value covers."""
    at = datetime.fromisoformat(value)
    at = (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC).replace(microsecond=0)
    if whole_day or len(value) == len("YYYY-MM-DD"):
        day = at.replace(hour=0, minute=0, second=0)
        return day, day + timedelta(days=1, seconds=-1)
    return at, at


@dataclass
class Number:
    """An incoming phone number of an account (the capture server owns every number), with the
    auth token of its last update — Twilio signs the number's webhooks with it."""

    sid: str
    account: str
    phone_number: str
    created: datetime
    updated: datetime
    sms_url: str = ""
    sms_method: str = "POST"
    token: str = ""

    @classmethod
    def provision(cls, account: str, phone_number: str) -> Number:
        now = datetime.now(UTC)
        return cls("PN" + secrets.token_hex(16), account, phone_number, now, now)

    def update(self, form: Mapping[str, str], auth_token: str) -> str | None:
        """Apply SmsUrl and SmsMethod; the problem if refused."""
        method = form.get("SmsMethod", self.sms_method).upper()
        url = form.get("SmsUrl", self.sms_url)
        if method not in ("GET", "POST"):
            return "SmsMethod must be GET or POST"
        if url and not url.startswith(("http://", "https://")):
            return "SmsUrl is not a valid URL"
        self.sms_url, self.sms_method = url, method
        self.token, self.updated = auth_token, datetime.now(UTC)
        return None

    def json(self) -> dict[str, Any]:
        uri = f"/{TWILIO_API_VERSION}/Accounts/{self.account}/IncomingPhoneNumbers/{self.sid}"
        return {
            "account_sid": self.account,
            "api_version": TWILIO_API_VERSION,
            "capabilities": {"voice": True, "sms": True, "mms": True, "fax": False},
            "date_created": twilio_time(self.created),
            "date_updated": twilio_time(self.updated),
            "friendly_name": self.phone_number,
            "origin": "twilio",
            "phone_number": self.phone_number,
            "sid": self.sid,
            "sms_method": self.sms_method,
            "sms_url": self.sms_url,
            "status": "in-use",
            "uri": f"{uri}.json",
        }


# Twilio: webhooks


def twilio_form(
    url: str, params: Mapping[str, str], auth_token: str
) -> tuple[bytes, dict[str, str]]:
    """A webhook POST's body and headers as Twilio sends them, signed for this URL."""
    signature = RequestValidator(auth_token).compute_signature(url, dict(params))
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "User-Agent": "TwilioProxy/1.1",
        "X-Twilio-Signature": str(signature),
        "I-Twilio-Idempotency-Token": secrets.token_hex(16),
    }
    return urlencode(params).encode(), headers


def call_webhook(
    url: str, method: str, params: Mapping[str, str], auth_token: str
) -> requests.Response:
    """One signed request to a number's SMS URL (Twilio does not retry these); raises
    requests.RequestException when it cannot be reached. GET: the fields in the query string,
    signed as part of the URL."""
    if method == "GET":
        full = url + ("&" if "?" in url else "?") + urlencode(params)
        _, headers = twilio_form(full, {}, auth_token)
        del headers["Content-Type"]
        return requests.get(full, headers=headers, timeout=TIMEOUT_SECONDS)
    body, headers = twilio_form(url, params, auth_token)
    return requests.post(url, data=body, headers=headers, timeout=TIMEOUT_SECONDS)


def inbound_params(reply: Mapping[str, Any]) -> dict[str, str]:
    """Twilio's incoming-message webhook form for a customer's reply."""
    return {
        "MessageSid": reply["id"],
        "SmsSid": reply["id"],
        "SmsMessageSid": reply["id"],
        "AccountSid": reply["account"],
        "From": reply["from"],
        "To": reply["to"],
        "Body": reply["body"],
        "NumMedia": "0",
        "NumSegments": "1",
        "SmsStatus": "received",
        "ApiVersion": TWILIO_API_VERSION,
    }


def sms_outcome(to: str) -> tuple[str, int | None]:
    """The final status of an SMS to this number, and its error code."""
    if to.endswith(UNREACHABLE_SUFFIX):
        return "undelivered", UNREACHABLE_ERROR
    return "delivered", None


def status_params(sms: Mapping[str, Any], status: str, error_code: int | None) -> dict[str, str]:
    params = {
        "MessageSid": str(sms["id"]),
        "SmsSid": str(sms["id"]),
        "AccountSid": str(sms["account"]),
        "From": str(sms.get("from") or ""),
        "To": str(sms.get("to") or ""),
        "MessageStatus": status,
        "SmsStatus": status,
        "ApiVersion": TWILIO_API_VERSION,
    }
    if error_code is not None:
        params["ErrorCode"] = str(error_code)
    return params


def deliver_sms(
    sms: Mapping[str, Any], auth_token: str, on_status: Callable[[str, int | None], None]
) -> None:
    """Sent, then delivered or undelivered: each step recorded, then posted to the message's
    StatusCallback (if any) signed with the auth token the message was created with."""
    final, error_code = sms_outcome(str(sms.get("to") or ""))
    callback = sms.get("status_callback")
    for status, code in (("sent", None), (final, error_code)):
        time.sleep(STEP_SECONDS)
        on_status(status, code)
        if callback:
            body, headers = twilio_form(callback, status_params(sms, status, code), auth_token)
            post(callback, body, headers, f"status callback {status} of {sms['id']}")


# SendGrid: event webhook


@dataclass(frozen=True)
class Recipient:
    """One address of a mail, with what SendGrid's events and Email Activity say about it."""

    email: str
    subject: str
    custom_args: dict[str, str]
    sg_message_id: str
    status: str = "processed"
    last_event_at: float = field(default_factory=time.time)


def recipients(payload: Mapping[str, Any], message_id: str) -> list[Recipient]:
    """Every to/cc/bcc address; custom args: the mail's, overridden by the personalization's."""
    top = _strings(payload.get("custom_args"))
    found: list[Recipient] = []
    for part in payload.get("personalizations") or []:
        args = {**top, **_strings(part.get("custom_args"))}
        subject = str(part.get("subject") or payload.get("subject") or "")
        for kind in ("to", "cc", "bcc"):
            for address in part.get(kind) or []:
                suffix = f"filterdrecv-capture-{len(found)}-{secrets.token_hex(4)}.0"
                email = str(address.get("email", ""))
                found.append(Recipient(email, subject, args, f"{message_id}.{suffix}"))
    return found


def email_record(message_id: str, payload: dict[str, Any], to: list[Recipient]) -> dict[str, Any]:
    """A captured email, as mail/send accepted it."""
    return {
        "channel": "email",
        "id": message_id,
        "payload": payload,
        "at": now_iso(),
        "status": "processed",
        "custom_args": custom_args(payload),
        "recipients": [asdict(r) for r in to],
    }


def custom_args(payload: Mapping[str, Any]) -> dict[str, str]:
    """The mail's custom args and its personalizations' (these win)."""
    merged = _strings(payload.get("custom_args"))
    for part in payload.get("personalizations") or []:
        merged.update(_strings(part.get("custom_args")))
    return merged


def _strings(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def email_outcome(email: str) -> str:
    return "bounce" if email.lower().startswith(BOUNCE_PREFIX) else "delivered"


def email_status(to: list[Recipient]) -> str:
    """A mail's status: bounce if any recipient bounced, else delivered once all were."""
    statuses = {r.status for r in to}
    return next((s for s in ("bounce", "processed") if s in statuses), "delivered")


def sendgrid_event(
    recipient: Recipient, name: str, smtp_id: str, categories: list[str]
) -> dict[str, Any]:
    """An event as SendGrid posts it: custom args at top level, next to the event's own fields."""
    event: dict[str, Any] = {
        **recipient.custom_args,
        "email": recipient.email,
        "timestamp": int(recipient.last_event_at),
        "event": name,
        "sg_event_id": secrets.token_urlsafe(16),
        "sg_message_id": recipient.sg_message_id,
        "smtp-id": smtp_id,
    }
    if categories:
        event["category"] = categories
    if name == "delivered":
        event.update(response="250 OK", ip="127.0.0.1", tls=1)
    if name == "bounce":
        event.update(type="bounce", status="5.1.1", reason=BOUNCE_REASON, ip="127.0.0.1")
        event["bounce_classification"] = "Invalid Address"
    return event


class EventWebhook:
    """The account's event webhook settings and its signing key (one per capture process)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.settings: dict[str, Any] = {"enabled": False, "url": ""}
        self.settings.update(dict.fromkeys(EVENT_FLAGS, False))
        self.settings.update(oauth_client_id="", oauth_token_url="")
        self.signed = False
        self._key = ec.generate_private_key(ec.SECP256R1())
        der = self._key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.public_key = base64.b64encode(der).decode()

    def update(self, changes: Mapping[str, Any]) -> str | None:
        """Apply a PATCH; the problem if refused."""
        for name in ("enabled", *EVENT_FLAGS):
            if name in changes and not isinstance(changes[name], bool):
                return f"{name} must be a boolean"
        with self.lock:
            url = changes.get("url", self.settings["url"])
            enabled = changes.get("enabled", self.settings["enabled"])
            if not isinstance(url, str) or (enabled and not url.startswith("http")):
                return "url must be an http(s) URL"
            self.settings.update({k: v for k, v in changes.items() if k in self.settings})
        return None

    def view(self) -> dict[str, Any]:
        with self.lock:
            return dict(self.settings)

    def signed_view(self) -> dict[str, str]:
        return {"public_key": self.public_key if self.signed else ""}

    def send(self, events: list[dict[str, Any]], what: str) -> None:
        """POST the events the settings ask for (signed if signing is on)."""
        settings, signed = self.view(), self.signed
        wanted = [e for e in events if settings.get(e["event"])]
        if not (settings["enabled"] and settings["url"] and wanted):
            return
        payload = json.dumps(wanted)
        headers = {"Content-Type": "application/json", "User-Agent": "SendGrid Event API"}
        if signed:
            timestamp = str(int(time.time()))
            signature = self._key.sign((timestamp + payload).encode(), ec.ECDSA(hashes.SHA256()))
            headers["X-Twilio-Email-Event-Webhook-Signature"] = base64.b64encode(signature).decode()
            headers["X-Twilio-Email-Event-Webhook-Timestamp"] = timestamp
        post(settings["url"], payload.encode(), headers, what)


def deliver_email(
    message_id: str,
    payload: Mapping[str, Any],
    to: list[Recipient],
    webhook: EventWebhook,
    on_outcome: Callable[[list[Recipient]], None],
) -> None:
    """Processed (the recipients' status already), then each recipient's outcome: recorded, then
    posted to the event webhook — one batch per step."""
    smtp_id = f"<{message_id}@ismtpd-capture>"
    categories = [str(c) for c in payload.get("categories") or []]
    processed = [sendgrid_event(r, "processed", smtp_id, categories) for r in to]
    webhook.send(processed, f"processed events of {message_id}")
    time.sleep(STEP_SECONDS)
    now = time.time()
    done = [replace(r, status=email_outcome(r.email), last_event_at=now) for r in to]
    on_outcome(done)
    outcomes = [sendgrid_event(r, r.status, smtp_id, categories) for r in done]
    webhook.send(outcomes, f"delivery events of {message_id}")


# SendGrid: Email Activity

ACTIVITY_STATUS = {"processed": "processed", "delivered": "delivered", "bounce": "not_delivered"}
QUERY_FIELDS = ("msg_id", "from_email", "subject", "to_email", "status", "unique_args")
QUERY_CLAUSE = re.compile(
    r"""\s*(?P<field>\w+)(?:\['(?P<key>[^']+)'\])?\s*=\s*"(?P<value>[^"]*)"\s*"""
)
QUERY_AND = re.compile(r"AND\s+", re.IGNORECASE)


@dataclass(frozen=True)
class Clause:
    field: str
    key: str | None
    value: str


def parse_query(query: str) -> list[Clause] | None:
    """`field="value"` or `unique_args['key']="value"` clauses joined by AND; None if unreadable."""
    clauses: list[Clause] = []
    position = 0
    while query.strip():
        found = QUERY_CLAUSE.match(query, position)
        if found is None or found["field"] not in QUERY_FIELDS:
            return None
        if (found["field"] == "unique_args") != (found["key"] is not None):
            return None
        clauses.append(Clause(found["field"], found["key"], found["value"]))
        position = found.end()
        if position == len(query):
            break
        joint = QUERY_AND.match(query, position)
        if joint is None:
            return None
        position = joint.end()
    return clauses


def activity_rows(email: Mapping[str, Any]) -> list[tuple[dict[str, Any], dict[str, str]]]:
    """A captured email as Email Activity messages (one per recipient), each with its custom
    args (for unique_args queries)."""
    sender = (email["payload"].get("from") or {}).get("email", "")
    rows = []
    for recipient in email.get("recipients") or []:
        last = datetime.fromtimestamp(recipient["last_event_at"], UTC)
        row = {
            "from_email": sender,
            "msg_id": recipient["sg_message_id"],
            "subject": recipient["subject"],
            "to_email": recipient["email"],
            "status": ACTIVITY_STATUS.get(recipient["status"], recipient["status"]),
            "opens_count": 0,
            "clicks_count": 0,
            "last_event_time": last.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        rows.append((row, recipient["custom_args"]))
    return rows


def matches(row: Mapping[str, Any], args: Mapping[str, str], clauses: list[Clause]) -> bool:
    return all(
        (args.get(c.key) if c.key is not None else str(row[c.field])) == c.value for c in clauses
    )
