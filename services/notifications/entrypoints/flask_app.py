"""HTTP API of the notifications service: translate, dispatch, map errors. Staff routes (nudge,
Settings → Automations) need the internal token and a shop; the providers' webhooks are public
and verified by their signatures instead."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Literal

from flask import Flask, Response, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, RootModel
from sendgrid.helpers.eventwebhook import EventWebhook
from twilio.request_validator import RequestValidator

from services.notifications import bootstrap
from services.notifications.adapters.postgres import (
    PooledAutomations,
    PooledDeliveryStore,
    PooledNudgeStore,
)
from services.notifications.domain.delivery import SENDGRID_OUTCOMES, TWILIO_OUTCOMES
from services.notifications.domain.messages import NoSuchChannel, NothingOwed, TooSoon
from services.notifications.domain.reminders import DEFAULTS
from services.notifications.service_layer import handlers
from services.notifications.service_layer.automations import AutomationsForm
from shared.http import FieldError, actor, create_app, parse_body, shop_id
from shared.metrics import WEBHOOKS_REFUSED
from shared.openapi import doc

log = logging.getLogger(__name__)
WEBHOOKS = "/webhooks/"
EVENT_MAX_AGE_SECONDS = 600
"""A SendGrid event batch signed longer ago than this is refused (a replay)."""
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


class Nudge(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    channels: list[Literal["sms", "email"]] = Field(min_length=1, max_length=2)


class Queued(BaseModel):
    message_id: str
    channel: str


class NudgeQueued(BaseModel):
    messages: list[Queued]


class TwilioStatus(BaseModel):
    """Twilio's status callback form (only its signature makes it trusted)."""

    MessageSid: str
    MessageStatus: str
    ErrorCode: str | None = None


class TwilioReply(BaseModel):
    """Twilio's form for an SMS a customer sent to the shop's number (acted on once per
    MessageSid)."""

    MessageSid: str
    From: str
    Body: str


class SendGridEvent(BaseModel):
    event: str
    message_id: str | None = None
    timestamp: int | None = None
    reason: str | None = None


class SendGridEvents(RootModel[list[SendGridEvent]]):
    """SendGrid's signed event batch."""


TWILIO_SIGNED = {"X-Twilio-Signature": "Twilio's signature of the URL and form"}
SENDGRID_SIGNED = {
    "X-Twilio-Email-Event-Webhook-Signature": "SendGrid's ECDSA signature of the batch",
    "X-Twilio-Email-Event-Webhook-Timestamp": "when SendGrid signed it (Unix seconds)",
}
FORM = "application/x-www-form-urlencoded"


class Forbidden(Exception):
    """A webhook whose signature does not verify."""

    field = "signature"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def build_app() -> Flask:
    app = create_app(
        bootstrap.SERVICE,
        bootstrap.wiring.settings.internal_api_token,
        bootstrap.wiring.ready,
        errors={
            handlers.UnknownInvoice: 404,
            TooSoon: 409,
            NothingOwed: 409,
            NoSuchChannel: 422,
            Forbidden: 403,
        },
        public=(WEBHOOKS,),
    )
    _staff_routes(app)
    _webhooks(app)
    return app


def _staff_routes(app: Flask) -> None:
    @app.post("/invoices/<invoice_id>/nudge")
    @doc(
        "Nudge the customer now on the chosen channels (refused within the hour after a message)",
        body=Nudge,
        response=NudgeQueued,
        status=202,
        errors=(409,),
    )
    def nudge(invoice_id: str) -> tuple[Response, int]:
        cmd = parse_body(Nudge)
        messages = handlers.nudge(
            shop_id(),
            invoice_id,
            list(cmd.channels),
            actor(),
            PooledNudgeStore(bootstrap.wiring.pool),
            bootstrap.utc_now(),
        )
        queued = [Queued(message_id=m.message_id, channel=m.channel) for m in messages]
        return jsonify(NudgeQueued(messages=queued).model_dump()), 202

    @app.get("/settings/automations")
    @doc(
        "The shop's reminder policies and quiet hours (the defaults until saved)",
        response=AutomationsForm,
    )
    def get_automations() -> Response:
        automations = PooledAutomations(bootstrap.wiring.pool).get(shop_id()) or DEFAULTS
        return jsonify(AutomationsForm.of(automations).model_dump(mode="json"))

    @app.put("/settings/automations")
    @doc(
        "Replace the shop's reminder policies and quiet hours",
        body=AutomationsForm,
        response=AutomationsForm,
    )
    def put_automations() -> Response:
        form = parse_body(AutomationsForm)
        PooledAutomations(bootstrap.wiring.pool).save(shop_id(), form.to_domain(), actor())
        return jsonify(form.model_dump(mode="json"))


def _webhooks(app: Flask) -> None:
    @app.post("/webhooks/twilio/status")
    @doc(
        "Twilio's message status callback (signed with X-Twilio-Signature)",
        status=204,
        body=TwilioStatus,
        body_media=FORM,
        query={"m": "our message id, in the callback URL we gave Twilio"},
        headers=TWILIO_SIGNED,
        errors=(403,),
    )
    def twilio_status() -> tuple[str, int]:
        form = _verified_twilio_form()
        outcome = TWILIO_OUTCOMES.get(form.get("MessageStatus", ""))
        if outcome is not None:
            reason = f"Twilio error {form['ErrorCode']}" if form.get("ErrorCode") else ""
            _report(outcome, reason, request.args.get("m", ""), form.get("MessageSid", ""))
        return "", 204

    @app.post("/webhooks/twilio/inbound")
    @doc(
        "An SMS reply from a customer (STOP / START), signed by Twilio",
        media="text/xml",
        body=TwilioReply,
        body_media=FORM,
        headers=TWILIO_SIGNED,
        errors=(403,),
    )
    def twilio_inbound() -> Response:
        form = _verified_twilio_form()
        phone, body = form.get("From", ""), form.get("Body", "")
        if not phone:
            raise FieldError("From", "is required")
        if not form.get("MessageSid"):
            raise FieldError("MessageSid", "is required")
        handlers.when_customer_replies(
            PooledDeliveryStore(bootstrap.wiring.pool), phone, body, form["MessageSid"]
        )
        return Response(EMPTY_TWIML, mimetype="text/xml")

    @app.post("/webhooks/sendgrid")
    @doc(
        "SendGrid's signed event webhook: delivered, bounce, dropped …",
        status=204,
        body=SendGridEvents,
        headers=SENDGRID_SIGNED,
        errors=(403,),
    )
    def sendgrid_events() -> tuple[str, int]:
        events = _verified_sendgrid_events()
        for event in events:
            outcome = SENDGRID_OUTCOMES.get(str(event.get("event", "")))
            message_id = str(event.get("message_id", ""))
            if outcome is None or not message_id:
                continue
            reason = str(event.get("reason") or event.get("response") or "")
            _report(outcome, reason, message_id, "", _when(event.get("timestamp")))
        return "", 204


def _report(
    outcome: str, reason: str, message_id: str, provider_id: str, at: datetime | None = None
) -> None:
    """A report about a message that is not ours (or long gone) is dropped, not an error: the
    provider would only retry it."""
    try:
        handlers.when_provider_reports(
            PooledDeliveryStore(bootstrap.wiring.pool),
            outcome,
            at or bootstrap.utc_now(),
            reason,
            message_id=message_id,
            provider_id=provider_id,
        )
    except handlers.UnknownMessage:
        log.info("delivery report for an unknown message", extra={"outcome": outcome})


def _verified_twilio_form() -> dict[str, str]:
    settings = bootstrap.wiring.settings
    query = request.query_string.decode()
    url = (
        settings.notifications_public_url.rstrip("/")
        + request.path
        + (f"?{query}" if query else "")
    )
    form = request.form.to_dict()
    signature = request.headers.get("X-Twilio-Signature", "")
    if not RequestValidator(settings.twilio_auth_token).validate(url, form, signature):
        WEBHOOKS_REFUSED.labels("twilio").inc()
        raise Forbidden("X-Twilio-Signature does not match this request")
    return form


def _verified_sendgrid_events() -> list[dict[str, object]]:
    key = bootstrap.wiring.settings.sendgrid_webhook_public_key
    if not key:
        WEBHOOKS_REFUSED.labels("sendgrid").inc()
        raise Forbidden("no SendGrid verification key is configured (SENDGRID_WEBHOOK_PUBLIC_KEY)")
    signature = request.headers.get("X-Twilio-Email-Event-Webhook-Signature", "")
    stamp = request.headers.get("X-Twilio-Email-Event-Webhook-Timestamp", "")
    payload = request.get_data(as_text=True)
    webhook = EventWebhook()
    try:
        valid = webhook.verify_signature(
            payload, signature, stamp, webhook.convert_public_key_to_ecdsa(key)
        )
    except Exception:  # a malformed signature or key is a failed verification
        valid = False
    if not valid:
        WEBHOOKS_REFUSED.labels("sendgrid").inc()
        raise Forbidden("X-Twilio-Email-Event-Webhook-Signature does not verify")
    if not stamp.isdigit() or abs(time.time() - int(stamp)) > EVENT_MAX_AGE_SECONDS:
        WEBHOOKS_REFUSED.labels("sendgrid").inc()
        raise Forbidden("the event batch is too old (or from the future): a replay")
    events = request.get_json(silent=True)
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise FieldError("body", "must be a JSON array of event objects")
    return events


def _when(timestamp: object) -> datetime | None:
    return datetime.fromtimestamp(timestamp, UTC) if isinstance(timestamp, int) else None


app = build_app()
WEBHOOKS_REFUSED.labels("twilio")
WEBHOOKS_REFUSED.labels("sendgrid")
