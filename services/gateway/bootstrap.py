"""Wiring of the staff web app (gateway). One client per service per process: its HTTP
connections are kept and shared by the request threads."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from pathlib import Path

from services.gateway.adapters.argon import Argon2Passwords
from services.gateway.adapters.live import live_changes
from services.gateway.adapters.postgres import PooledUsers
from services.gateway.adapters.services import (
    HttpInvoicing,
    HttpJobs,
    HttpNotifications,
    HttpPayments,
    HttpReporting,
)
from shared.wiring import ServiceWiring, utc_now

SERVICE = "gateway"
wiring = ServiceWiring(SERVICE, Path(__file__).parent / "migrations")


def users() -> PooledUsers:
    return PooledUsers(wiring.pool)


def passwords() -> Argon2Passwords:
    return Argon2Passwords()


@cache
def invoicing() -> HttpInvoicing:
    s = wiring.settings
    return HttpInvoicing(s.invoicing_url, s.internal_api_token)


@cache
def notifications() -> HttpNotifications:
    s = wiring.settings
    return HttpNotifications(s.notifications_url, s.internal_api_token)


@cache
def reporting() -> HttpReporting:
    s = wiring.settings
    return HttpReporting(s.reporting_url, s.internal_api_token)


@cache
def jobs() -> HttpJobs:
    s = wiring.settings
    return HttpJobs(s.jobs_url, s.internal_api_token)


@cache
def payments() -> HttpPayments:
    s = wiring.settings
    return HttpPayments(s.payments_url, s.internal_api_token)


def live(shop_id: str, after: int | None) -> Iterator[str]:
    return live_changes(wiring.database_url, shop_id, after)


__all__ = [
    "SERVICE",
    "invoicing",
    "jobs",
    "live",
    "notifications",
    "passwords",
    "payments",
    "reporting",
    "users",
    "utc_now",
    "wiring",
]
