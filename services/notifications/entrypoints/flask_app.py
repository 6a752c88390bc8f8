"""HTTP API of the notifications service: translate, dispatch, map errors."""

from __future__ import annotations

from typing import Literal

from flask import Flask, Response, jsonify
from pydantic import BaseModel, ConfigDict, Field

from services.notifications import bootstrap
from services.notifications.adapters.postgres import PooledNudgeStore
from services.notifications.domain.messages import NoSuchChannel, TooSoon
from services.notifications.service_layer import handlers
from shared.http import create_app, parse_body, shop_id
from shared.openapi import doc


class Nudge(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    channels: list[Literal["sms", "email"]] = Field(min_length=1, max_length=2)


class Queued(BaseModel):
    message_id: str
    channel: str


class NudgeQueued(BaseModel):
    messages: list[Queued]


def build_app() -> Flask:
    app = create_app(
        bootstrap.SERVICE,
        bootstrap.wiring.settings.internal_api_token,
        bootstrap.wiring.ready,
        errors={handlers.UnknownInvoice: 404, TooSoon: 409, NoSuchChannel: 422},
    )

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
            PooledNudgeStore(bootstrap.wiring.pool),
            bootstrap.utc_now(),
        )
        queued = [Queued(message_id=m.message_id, channel=m.channel) for m in messages]
        return jsonify(NudgeQueued(messages=queued).model_dump()), 202

    return app


app = build_app()
