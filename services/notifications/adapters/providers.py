"""Twilio and SendGrid through their official SDKs. In development and tests both point at the
local capture server (shared/devstack/capture.py) by base URL — the same requests.

Our message id travels with each message (the SMS's status-callback URL, the email's custom args)
so delivery reports name it, and a sender restarted after a crash can ask the provider whether a
message went out: Twilio's message list (to, from, since, same words); SendGrid's Email Activity
API (by the custom arg; a paid add-on: without it the answer is "cannot tell")."""

from __future__ import annotations

import base64
import json
import socket
from datetime import datetime
from html import escape
from urllib.error import URLError
from urllib.parse import quote

import requests
from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import (
    Attachment,
    CustomArg,
    Disposition,
    FileContent,
    FileName,
    FileType,
    Mail,
)
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client
from urllib3.exceptions import NewConnectionError

from services.notifications.service_layer.providers import (
    Email,
    EmailProvider,
    LookupUnavailable,
    ProviderRefused,
    ProviderUnreachable,
    SmsProvider,
)
from shared.metrics import provider_call

TIMEOUT_SECONDS = 10.0
"""A provider call that takes longer is abandoned (and reconciled later, never sent blindly)."""


class TwilioSms(SmsProvider):
    def __init__(
        self,
        account_sid: str,
        token: str,
        from_number: str,
        base_url: str = "",
        status_callback: str = "",
    ) -> None:
        self.client = Client(
            account_sid, token, http_client=TwilioHttpClient(timeout=TIMEOUT_SECONDS)
        )
        if base_url:
            self.client.api.base_url = base_url
        self.from_number = from_number
        self.status_callback = status_callback
        """Our public URL for Twilio's status callbacks (…/webhooks/twilio/status), if any."""

    @provider_call("twilio", "send")
    def send(self, to: str, body: str, reference: str) -> str:
        extra = {}
        if self.status_callback:
            extra["status_callback"] = f"{self.status_callback}?m={quote(reference)}"
        try:
            message = self.client.messages.create(to=to, from_=self.from_number, body=body, **extra)
        except TwilioRestException as exc:
            if 400 <= exc.status < 500:
                raise ProviderRefused(str(exc.msg)) from exc
            raise
        return str(message.sid)

    @provider_call("twilio", "find")
    def find(self, to: str, body: str, since: datetime) -> str | None:
        sent = self.client.messages.list(
            to=to, from_=self.from_number, date_sent_after=since, limit=50
        )
        return next((str(m.sid) for m in sent if m.body == body), None)


class SendGridEmail(EmailProvider):
    def __init__(self, api_key: str, from_email: str, host: str = "") -> None:
        self.client = (
            SendGridAPIClient(api_key=api_key, host=host) if host else SendGridAPIClient(api_key)
        )
        self.client.client.timeout = TIMEOUT_SECONDS
        self.from_email = from_email

    @provider_call("sendgrid", "send")
    def send(self, email: Email) -> str:
        mail = Mail(
            from_email=(self.from_email, email.from_name),
            to_emails=email.to,
            subject=email.subject,
            plain_text_content=email.text,
            html_content='<pre style="font: 15px system-ui, sans-serif; white-space: pre-wrap">'
            + escape(email.text)
            + "</pre>",
        )
        mail.attachment = Attachment(
            FileContent(base64.b64encode(email.pdf).decode()),
            FileName(email.pdf_name),
            FileType("application/pdf"),
            Disposition("attachment"),
        )
        mail.custom_arg = CustomArg("message_id", email.reference)
        try:
            response = self.client.send(mail)
        except HTTPError as exc:
            if 400 <= exc.status_code < 500:
                raise ProviderRefused(f"SendGrid answered {exc.status_code}") from exc
            raise
        except URLError as exc:
            if isinstance(exc.reason, ConnectionRefusedError | socket.gaierror):
                raise ProviderUnreachable(type(exc.reason).__name__) from exc
            raise
        return str(response.headers.get("X-Message-Id", ""))

    @provider_call("sendgrid", "find")
    def find(self, reference: str) -> str | None:
        query = f"unique_args['message_id']=\"{reference}\""
        try:
            response = self.client.client.messages.get(query_params={"limit": 10, "query": query})
        except HTTPError as exc:
            if exc.status_code in (400, 401, 403, 404):
                raise LookupUnavailable(
                    f"SendGrid's Email Activity API answered {exc.status_code}"
                ) from exc
            raise
        found = json.loads(response.body or b"{}").get("messages") or []
        return str(found[0]["msg_id"]) if found else None


def _never_connected(exc: requests.ConnectionError) -> bool:
    """Refused or no such host: the request was never sent (a connect timeout is the same)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, NewConnectionError)
