"""Wiring of the notifications service."""

from __future__ import annotations

from pathlib import Path

from services.notifications.adapters.providers import SendGridEmail, TwilioSms
from shared.wiring import ServiceWiring, utc_now

SERVICE = "notifications"
wiring = ServiceWiring(SERVICE, Path(__file__).parent / "migrations")


def sms() -> TwilioSms:
    s = wiring.settings
    callback = s.notifications_public_url.rstrip("/") + "/webhooks/twilio/status"
    return TwilioSms(
        s.twilio_account_sid, s.twilio_auth_token, s.twilio_from, s.twilio_api_base, callback
    )


def email() -> SendGridEmail:
    s = wiring.settings
    return SendGridEmail(s.sendgrid_api_key, s.sendgrid_from, s.sendgrid_api_base)


__all__ = ["SERVICE", "email", "sms", "utc_now", "wiring"]
