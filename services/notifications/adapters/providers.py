"""Twilio and SendGrid through their official SDKs. In development and tests both point at the
local capture server (shared/devstack/capture.py) by base URL — the same requests."""

from __future__ import annotations

import base64

from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import Attachment, Disposition, FileContent, FileName, FileType, Mail
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from services.notifications.service_layer.providers import (
    Email,
    EmailProvider,
    ProviderRefused,
    SmsProvider,
)


class TwilioSms(SmsProvider):
    def __init__(self, account_sid: str, token: str, from_number: str, base_url: str = "") -> None:
        self.client = Client(account_sid, token)
        if base_url:
            self.client.api.base_url = base_url
        self.from_number = from_number

    def send(self, to: str, body: str) -> str:
        try:
            message = self.client.messages.create(to=to, from_=self.from_number, body=body)
        except TwilioRestException as exc:
            if 400 <= exc.status < 500:
                raise ProviderRefused(str(exc.msg)) from exc
            raise
        return str(message.sid)


class SendGridEmail(EmailProvider):
    def __init__(self, api_key: str, from_email: str, host: str = "") -> None:
        self.client = (
            SendGridAPIClient(api_key=api_key, host=host) if host else SendGridAPIClient(api_key)
        )
        self.from_email = from_email

    def send(self, email: Email) -> str:
        mail = Mail(
            from_email=(self.from_email, email.from_name),
            to_emails=email.to,
            subject=email.subject,
            plain_text_content=email.text,
            html_content='<pre style="font: 15px system-ui, sans-serif">'
            + email.text.replace("&", "&amp;").replace("<", "&lt;")
            + "</pre>",
        )
        mail.attachment = Attachment(
            FileContent(base64.b64encode(email.pdf).decode()),
            FileName(email.pdf_name),
            FileType("application/pdf"),
            Disposition("attachment"),
        )
        try:
            response = self.client.send(mail)
        except HTTPError as exc:
            if 400 <= exc.status_code < 500:
                raise ProviderRefused(f"SendGrid answered {exc.status_code}") from exc
            raise
        return str(response.headers.get("X-Message-Id", ""))
