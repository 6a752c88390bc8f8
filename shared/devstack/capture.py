"""Development and tests: a local stand-in for Twilio's Messages API and SendGrid's v3 mail/send,
so the official SDKs (pointed here by base URL) send exactly what they would send for real, and
nothing leaves the machine. Every SMS and email is kept in memory; `/` is an inbox page (the PDF
attachments downloadable), `/api/messages` the same as JSON for tests.

Run: `python -m shared.devstack.capture PORT`."""

from __future__ import annotations

import base64
import json
import secrets
import threading
from datetime import UTC, datetime
from html import escape
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


class Capture:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        return self.route(request)(environ, start_response)

    def route(self, request: Request) -> Response:
        path = request.path
        if request.method == "POST" and path.endswith("/Messages.json"):
            return self.sms(request)
        if request.method == "POST" and path == "/v3/mail/send":
            return self.email(request)
        if path == "/api/messages":
            return Response(json.dumps(self.messages), mimetype="application/json")
        if path.startswith("/attachments/"):
            return self.attachment(path)
        if path == "/":
            return Response(self.inbox(), mimetype="text/html")
        return Response("not found", 404)

    def sms(self, request: Request) -> Response:
        """Twilio's Messages.create: form fields To, From, Body (Basic auth = account SID)."""
        auth = request.authorization
        if auth is None or not auth.username:
            return Response(json.dumps({"code": 20003, "message": "Authenticate"}), 401)
        form = request.form
        sid = "SM" + secrets.token_hex(16)
        record = {
            "channel": "sms",
            "id": sid,
            "account": auth.username,
            "to": form.get("To"),
            "from": form.get("From"),
            "body": form.get("Body"),
            "status_callback": form.get("StatusCallback"),
            "at": datetime.now(UTC).isoformat(),
        }
        self._keep(record)
        answer = {
            "sid": sid,
            "account_sid": auth.username,
            "to": record["to"],
            "from": record["from"],
            "body": record["body"],
            "status": "queued",
            "num_segments": "1",
            "direction": "outbound-api",
            "date_created": datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000"),
            "uri": f"/2010-04-01/Accounts/{auth.username}/Messages/{sid}.json",
        }
        return Response(json.dumps(answer), 201, mimetype="application/json")

    def email(self, request: Request) -> Response:
        """SendGrid's v3 mail/send: the JSON payload as the SDK built it (Bearer auth)."""
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            return Response(json.dumps({"errors": [{"message": "unauthorized"}]}), 401)
        payload = request.get_json(silent=True) or {}
        message_id = secrets.token_urlsafe(16)
        record = {
            "channel": "email",
            "id": message_id,
            "payload": payload,
            "at": datetime.now(UTC).isoformat(),
        }
        self._keep(record)
        return Response("", 202, headers={"X-Message-Id": message_id})

    def _keep(self, record: dict[str, Any]) -> None:
        with self.lock:
            self.messages.append(record)

    def attachment(self, path: str) -> Response:
        _, _, message_id, index = path.split("/", 3)
        for record in self.messages:
            if record["id"] == message_id and record["channel"] == "email":
                files = record["payload"].get("attachments") or []
                found = files[int(index)] if index.isdigit() and int(index) < len(files) else None
                if found:
                    return Response(
                        base64.b64decode(found["content"]),
                        mimetype=found.get("type", "application/octet-stream"),
                        headers={"Content-Disposition": f'inline; filename="{found["filename"]}"'},
                    )
        return Response("not found", 404)

    def inbox(self) -> str:
        rows = []
        for record in reversed(self.messages):
            if record["channel"] == "sms":
                text = f"<b>SMS</b> to {escape(str(record['to']))}: {escape(str(record['body']))}"
            else:
                payload = record["payload"]
                to = ", ".join(
                    p["email"] for part in payload.get("personalizations", []) for p in part["to"]
                )
                links = " ".join(
                    f'<a href="/attachments/{record["id"]}/{n}">{escape(a["filename"])}</a>'
                    for n, a in enumerate(payload.get("attachments") or [])
                )
                subject = escape(str(payload.get("subject", "")))
                text = f"<b>Email</b> to {escape(to)}: {subject} {links}"
            rows.append(f"<li>{escape(record['at'])} — {text}</li>")
        return (
            "<!doctype html><meta charset=utf-8><title>FieldPay inbox (development)</title>"
            "<h1>Captured SMS and email</h1><ul>" + "".join(rows) + "</ul>"
        )


def serve(port: int) -> None:
    make_server("127.0.0.1", port, Capture(), threaded=True).serve_forever()


if __name__ == "__main__":
    import sys

    serve(int(sys.argv[1]))
