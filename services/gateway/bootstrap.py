"""Wiring of the staff web app (gateway)."""

from __future__ import annotations

from pathlib import Path

from services.gateway.adapters.argon import Argon2Passwords
from services.gateway.adapters.postgres import PooledUsers
from services.gateway.adapters.services import HttpInvoicing
from shared.wiring import ServiceWiring, utc_now

SERVICE = "gateway"
wiring = ServiceWiring(SERVICE, Path(__file__).parent / "migrations")


def users() -> PooledUsers:
    return PooledUsers(wiring.pool)


def passwords() -> Argon2Passwords:
    return Argon2Passwords()


def invoicing() -> HttpInvoicing:
    s = wiring.settings
    return HttpInvoicing(s.invoicing_url, s.internal_api_token)


__all__ = ["SERVICE", "invoicing", "passwords", "users", "utc_now", "wiring"]
