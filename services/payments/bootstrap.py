"""Wiring of the payments service."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from services.payments.adapters.stripe_gateway import StripeGateway
from shared.wiring import ServiceWiring, utc_now

SERVICE = "payments"
wiring = ServiceWiring(SERVICE, Path(__file__).parent / "migrations")


@cache
def gateway() -> StripeGateway:
    settings = wiring.settings
    return StripeGateway(
        settings.stripe_api_key, settings.stripe_webhook_secret, settings.stripe_api_base or None
    )


__all__ = ["SERVICE", "gateway", "utc_now", "wiring"]
