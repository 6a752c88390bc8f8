"""Development and tests: a local stand-in for Twilio's Messages API and SendGrid's v3 mail/send,
so the official SDKs (pointed here by base URL) send exactly what they would send for real, and
nothing leaves the machine. Every SMS and email is kept in memory; `/` is an inbox page (the PDF
attachments downloadable, a Reply form under each SMS), `/api/messages` the same as JSON for tests.

Like the providers, it also reports back (shared/devstack/capture_events.py): signed Twilio status
callbacks, the message list, incoming numbers with their SMS webhook (`POST /api/sms/replies`
plays the customer answering), SendGrid's signed event webhook and Email Activity API.

Run: `python -m shared.devstack.capture PORT`."""

from __future__ import annotations

import base64
import json
import logging
import re
import secrets
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, replace
from html import escape
from typing import Any

import requests
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from shared.devstack import capture_events as provider

ACCOUNT = "/2010-04-01/Accounts/<account>"
REPLY_FIELDS = ("from", "to", "body")
ROUTES = Map(
    [
        Rule(f"{ACCOUNT}/Messages.json", methods=["POST"], endpoint="sms"),
        Rule(f"{ACCOUNT}/Messages.json", methods=["GET"], endpoint="sms_list"),
        Rule(f"{ACCOUNT}/Messages/<sid>.json", methods=["GET"], endpoint="sms_fetch"),
        Rule(f"{ACCOUNT}/IncomingPhoneNumbers.json", methods=["GET"], endpoint="numbers_list"),
        Rule(f"{ACCOUNT}/IncomingPhoneNumbers/<sid>.json", endpoint="number_detail"),
        Rule("/api/sms/replies", methods=["POST"], endpoint="sms_reply"),
        Rule("/v3/mail/send", methods=["POST"], endpoint="email"),
        Rule(
            "/v3/user/webhooks/event/settings", methods=["GET", "PATCH"], endpoint="event_settings"
        ),
        Rule(
            "/v3/user/webhooks/event/settings/signed",
            methods=["GET", "PATCH"],
            endpoint="event_signing",
        ),
        Rule("/v3/messages", methods=["GET"], endpoint="activity"),
        Rule("/api/messages", endpoint="api_messages"),
        Rule("/attachments/<message_id>/<int:index>", endpoint="attachment"),
        Rule("/", endpoint="inbox"),
    ]
)


def _without_attachments(record: dict[str, Any]) -> dict[str, Any]:
    if "payload" not in record:
        return record
    payload = {k: v for k, v in record["payload"].items() if k != "attachments"}
    return {**record, "payload": payload}


def as_json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status, mimetype="application/json")


def twilio_error(status: int, code: int, message: str) -> Response:
    more = f"https://www.twilio.com/docs/errors/{code}"
    return as_json({"code": code, "message": message, "more_info": more, "status": status}, status)


def twilio_not_found(request: Request) -> Response:
    return twilio_error(404, 20404, f"The requested resource {request.path} was not found")


def twilio_credentials(request: Request) -> tuple[str, str] | None:
    """Basic auth (account SID, auth token) as the SDK sends it."""
    auth = request.authorization
    if auth is None or auth.type != "basic" or not auth.username:
        return None
    return auth.username, auth.password or ""


def sendgrid_authorized(request: Request) -> bool:
    return request.headers.get("Authorization", "").startswith("Bearer ")


def sendgrid_error(status: int, message: str) -> Response:
    return as_json({"errors": [{"field": None, "message": message}]}, status)


def after(response: Response, work: Callable[[], None]) -> Response:
    """Start ``work`` in the background once the response has been sent."""
    response.call_on_close(lambda: provider.in_background(work))
    return response


class Capture:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.by_id: dict[str, dict[str, Any]] = {}
        self.numbers: dict[str, provider.Number] = {}
        self.webhook = provider.EventWebhook()
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        return self.route(request)(environ, start_response)

    def route(self, request: Request) -> Response:
        try:
            endpoint, args = ROUTES.bind_to_environ(request.environ).match()
        except HTTPException as exc:
            return Response("not found", 404) if exc.code == 404 else exc.get_response()
        handler: Callable[..., Response] = getattr(self, endpoint)
        return handler(request, **args)

    def _keep(self, record: dict[str, Any]) -> None:
        with self.lock:
            self.messages.append(record)
            self.by_id[record["id"]] = record

    def _update(self, record_id: str, **changes: Any) -> None:
        with self.lock:
            self.by_id[record_id].update(changes)

    def _records(self, channels: Iterable[str]) -> list[dict[str, Any]]:
        """Copies, newest first."""
        with self.lock:
            return [dict(r) for r in reversed(self.messages) if r["channel"] in channels]

    # Twilio

    def sms(self, request: Request, account: str) -> Response:
        """Twilio's Messages.create: form fields To, From, Body, StatusCallback (Basic auth =
        account SID and auth token); sent and delivered afterwards."""
        auth = twilio_credentials(request)
        if auth is None:
            return twilio_error(401, 20003, "Authenticate")
        record = provider.sms_record(auth[0], request.form)
        self._keep(record)

        def on_status(status: str, error_code: int | None) -> None:
            self._update(record["id"], status=status, error_code=error_code)

        response = as_json(provider.message_json(record), 201)
        return after(response, lambda: provider.deliver_sms(dict(record), auth[1], on_status))

    def sms_list(self, request: Request, account: str) -> Response:
        if twilio_credentials(request) is None:
            return twilio_error(401, 20003, "Authenticate")
        wanted = provider.message_filter(request.args)
        if wanted is None:
            return twilio_error(400, 20001, "Invalid DateSent filter")
        found = [
            provider.message_json(r)
            for r in self._records(("sms", "sms_in"))
            if r["account"] == account and wanted(r)
        ]
        return as_json(provider.page_json(request.path, request.args, "messages", found))

    def sms_fetch(self, request: Request, account: str, sid: str) -> Response:
        if twilio_credentials(request) is None:
            return twilio_error(401, 20003, "Authenticate")
        with self.lock:
            record = dict(self.by_id.get(sid) or {})
        if record.get("channel") not in ("sms", "sms_in") or record["account"] != account:
            return twilio_not_found(request)
        return as_json(provider.message_json(record))

    def numbers_list(self, request: Request, account: str) -> Response:
        """The account's incoming numbers; any number looked up is the account's (provisioned on
        first sight)."""
        if twilio_credentials(request) is None:
            return twilio_error(401, 20003, "Authenticate")
        wanted = request.args.get("PhoneNumber")
        with self.lock:
            owned = [n for n in self.numbers.values() if n.account == account]
            found = [n for n in owned if wanted in (None, n.phone_number)]
            if wanted and not found:
                found = [provider.Number.provision(account, wanted)]
                self.numbers[found[0].sid] = found[0]
            listed = [n.json() for n in found]
        return as_json(
            provider.page_json(request.path, request.args, "incoming_phone_numbers", listed)
        )

    def number_detail(self, request: Request, account: str, sid: str) -> Response:
        """Fetch (GET) or update (POST: SmsUrl, SmsMethod, …) one incoming number; an update
        remembers the auth token it came with, to sign the webhooks."""
        auth = twilio_credentials(request)
        if auth is None:
            return twilio_error(401, 20003, "Authenticate")
        with self.lock:
            number = self.numbers.get(sid)
            if number is None or number.account != account:
                return twilio_not_found(request)
            if request.method == "POST":
                problem = number.update(request.form, auth[1])
                if problem:
                    return twilio_error(400, 21603, problem)
            return as_json(number.json())

    def sms_reply(self, request: Request) -> Response:
        """Capture only: the customer answers. JSON (or form) {from, to, body} → Twilio's signed
        incoming-message webhook to the SMS URL of the number ``to``; answers the webhook's
        {status, body}."""
        given = request.get_json(silent=True) if request.is_json else request.form
        fields = [given.get(k) if isinstance(given, Mapping) else None for k in REPLY_FIELDS]
        if not all(isinstance(v, str) and v for v in fields):
            return as_json({"error": "from, to and body are required strings"}, 400)
        sender, to, body = (str(v) for v in fields)
        with self.lock:
            hooked = [n for n in self.numbers.values() if n.phone_number == to and n.sms_url]
            number = replace(max(hooked, key=lambda n: n.updated)) if hooked else None
        if number is None:
            return as_json({"error": f"no sms_url is configured for {to}"}, 404)
        record = provider.reply_record(number, sender, to, body)
        self._keep(record)
        params = provider.inbound_params(record)
        try:
            answer = provider.call_webhook(number.sms_url, number.sms_method, params, number.token)
        except requests.RequestException as exc:
            return as_json({"error": f"the webhook could not be reached: {exc}"}, 502)
        self._update(record["id"], webhook_status=answer.status_code)
        return as_json({"status": answer.status_code, "body": answer.text})

    # SendGrid

    def email(self, request: Request) -> Response:
        """SendGrid's v3 mail/send: the JSON payload as the SDK built it (Bearer auth); processed
        and delivered afterwards, reported to the event webhook."""
        if not sendgrid_authorized(request):
            return sendgrid_error(401, "unauthorized")
        payload = request.get_json(silent=True) or {}
        if not isinstance(payload, dict):
            return sendgrid_error(400, "the request body must be a JSON object")
        message_id = secrets.token_urlsafe(16)
        to = provider.recipients(payload, message_id)
        self._keep(provider.email_record(message_id, payload, to))

        def on_outcome(done: list[provider.Recipient]) -> None:
            recipients = [asdict(r) for r in done]
            self._update(message_id, status=provider.email_status(done), recipients=recipients)

        def work() -> None:
            provider.deliver_email(message_id, payload, to, self.webhook, on_outcome)

        return after(Response("", 202, headers={"X-Message-Id": message_id}), work)

    def event_settings(self, request: Request) -> Response:
        """The event webhook's settings: enabled, url and which events (GET, PATCH)."""
        if not sendgrid_authorized(request):
            return sendgrid_error(401, "authorization required")
        if request.method == "PATCH":
            changes = request.get_json(silent=True)
            problem = self.webhook.update(changes) if isinstance(changes, dict) else "JSON object"
            if problem:
                return sendgrid_error(400, problem)
        return as_json(self.webhook.view())

    def event_signing(self, request: Request) -> Response:
        """Signing of the event webhook (PATCH {"enabled": bool}) and its public key."""
        if not sendgrid_authorized(request):
            return sendgrid_error(401, "authorization required")
        if request.method == "PATCH":
            enabled = (request.get_json(silent=True) or {}).get("enabled")
            if not isinstance(enabled, bool):
                return sendgrid_error(400, "enabled must be a boolean")
            self.webhook.signed = enabled
        return as_json(self.webhook.signed_view())

    def activity(self, request: Request) -> Response:
        """Email Activity: GET /v3/messages?limit=N&query=… (unique_args['k']="v", to_email="…",
        msg_id, from_email, subject, status; joined by AND)."""
        if not sendgrid_authorized(request):
            return sendgrid_error(401, "authorization required")
        limit = request.args.get("limit", "10")
        clauses = provider.parse_query(request.args.get("query", ""))
        if not limit.isdigit() or not 1 <= int(limit) <= 1000 or clauses is None:
            return sendgrid_error(400, "invalid limit or query")
        rows = [row for r in self._records(("email",)) for row in provider.activity_rows(r)]
        found = [row for row, args in rows if provider.matches(row, args, clauses)]
        return as_json({"messages": found[: int(limit)]})

    # Capture's own pages

    def api_messages(self, request: Request) -> Response:
        """Every message kept; ``?attachments=0`` leaves the emails' attached files out."""
        with self.lock:
            if request.args.get("attachments") != "0":
                return as_json(self.messages)
            return as_json([_without_attachments(m) for m in self.messages])

    def attachment(self, request: Request, message_id: str, index: int) -> Response:
        with self.lock:
            record = self.by_id.get(message_id)
        if record and record["channel"] == "email":
            files = record["payload"].get("attachments") or []
            found = files[index] if index < len(files) else None
            if found:
                name = str(found["filename"]).replace('"', "")
                return Response(
                    base64.b64decode(found["content"]),
                    mimetype=found.get("type", "application/octet-stream"),
                    headers={"Content-Disposition": f'inline; filename="{name}"'},
                )
        return Response("not found", 404)

    def inbox(self, request: Request) -> Response:
        rows = "".join(
            f"<li>{escape(r['at'])} — {describe(r)}</li>"
            for r in self._records(("sms", "sms_in", "email"))
        )
        return Response(INBOX.replace("{rows}", rows), mimetype="text/html")


def describe(record: dict[str, Any]) -> str:
    """One captured message as inbox HTML (everything escaped)."""
    status = f" <i>{escape(str(record.get('status')))}</i>"
    if record["channel"] == "sms":
        to, body = escape(str(record["to"])), linked(escape(str(record["body"])))
        return f"<b>SMS</b> to {to}: {body}{status}{reply_form(record)}"
    if record["channel"] == "sms_in":
        sender, body = escape(str(record["from"])), escape(str(record["body"]))
        answered = escape(str(record.get("webhook_status")))
        return f"<b>SMS reply</b> from {sender}: {body} <i>(webhook answered {answered})</i>"
    payload = record["payload"]
    to = ", ".join(r["email"] for r in record.get("recipients") or [])
    links = " ".join(
        f'<a href="/attachments/{escape(record["id"])}/{n}">{escape(str(a.get("filename")))}</a>'
        for n, a in enumerate(payload.get("attachments") or [])
    )
    subject = escape(str(payload.get("subject", "")))
    return f"<b>Email</b> to {escape(to)}: {subject} {links}{status}"


def linked(text: str) -> str:
    """Links in an (escaped) SMS body made clickable, as a phone shows them."""
    return LINK.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', text)


LINK = re.compile(r"https?://[^\s<>\"']+")


def reply_form(sms: dict[str, Any]) -> str:
    """The customer's answer to this SMS: from its recipient, to its sender."""
    sender, to = escape(str(sms["to"]), quote=True), escape(str(sms["from"]), quote=True)
    return (
        '<form class=reply method=post action="/api/sms/replies">'
        f'<input type=hidden name=from value="{sender}">'
        f'<input type=hidden name=to value="{to}">'
        '<input name=body placeholder="Reply as the customer" required> '
        "<button>Reply</button> <output></output></form>"
    )


INBOX = """<!doctype html><meta charset=utf-8><title>FieldPay inbox (development)</title>
<style>form.reply{margin:.2em 0 .8em} output{color:#555}</style>
<h1>Captured SMS and email</h1><ul>{rows}</ul>
<script>
document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!form.matches("form.reply")) return;
  event.preventDefault();
  const body = JSON.stringify(Object.fromEntries(new FormData(form)));
  const headers = {"Content-Type": "application/json"};
  const answer = await fetch(form.action, {method: "POST", headers, body});
  form.querySelector("output").textContent = await answer.text();
});
</script>"""


def serve(port: int) -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    make_server("127.0.0.1", port, Capture(), threaded=True).serve_forever()


if __name__ == "__main__":
    import sys

    serve(int(sys.argv[1]))
