"""Delivery reports from Twilio and SendGrid, in the shop's words: delivered, or failed (with how).
STOP and START replies. Standard library and the contracts only."""

from __future__ import annotations

from datetime import datetime

from services.notifications.domain.messages import Message, masked
from shared.contracts import MessageDelivered, MessageFailed

TWILIO_OUTCOMES = {"delivered": "delivered", "undelivered": "undelivered", "failed": "failed"}
"""Twilio's MessageStatus → ours; queued, sending, sent, accepted are on the way (ignored)."""
SENDGRID_OUTCOMES = {"delivered": "delivered", "bounce": "bounced", "dropped": "dropped"}
"""SendGrid's event → ours; processed, deferred, open, click … are not an outcome."""
OPT_OUT = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
OPT_IN = {"START", "UNSTOP", "YES"}
"""The keywords carriers and Twilio honour (Advanced Opt-Out)."""


def opt_out_reply(body: str) -> bool | None:
    """True: stop texting this number; False: texts welcome again; None: an ordinary reply."""
    word = body.strip().upper().rstrip(".!")
    if word in OPT_OUT:
        return True
    if word in OPT_IN:
        return False
    return None


def outcome_fact(
    message: Message, outcome: str, at: datetime, reason: str = ""
) -> MessageDelivered | MessageFailed:
    if outcome == "delivered":
        return MessageDelivered(**_about(message), delivered_at=at)
    return failure_fact(message, outcome, at, reason)


def failure_fact(message: Message, status: str, at: datetime, reason: str = "") -> MessageFailed:
    """The provider's words, with the recipient masked in them too (events keep no full phone
    numbers or addresses)."""
    told = reason.replace(message.recipient, masked(message.recipient))
    return MessageFailed.model_validate(
        {**_about(message), "failed_at": at, "status": status, "reason": told[:300]}
    )


def _about(message: Message) -> dict[str, str]:
    return {
        "message_id": message.message_id,
        "invoice_id": message.invoice_id,
        "shop_id": message.shop_id,
        "channel": message.channel,
        "kind": message.kind,
        "to": masked(message.recipient),
    }
