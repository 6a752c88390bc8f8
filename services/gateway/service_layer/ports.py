"""Ports of the staff app: its users, password hashing, and the services it calls."""

from __future__ import annotations

import abc
from typing import Any

from services.gateway.domain.access import StaffUser


class Users(abc.ABC):
    @abc.abstractmethod
    def by_email(self, email: str) -> tuple[StaffUser, str] | None:
        """The user and their password hash, or None."""

    @abc.abstractmethod
    def add(self, user: StaffUser, password_hash: str) -> None: ...


class Passwords(abc.ABC):
    @abc.abstractmethod
    def hash(self, password: str) -> str: ...

    @abc.abstractmethod
    def matches(self, password_hash: str, password: str) -> bool: ...


class NotFound(Exception):
    """The service has no such thing for this shop (another shop's looks the same)."""


class Refused(Exception):
    """The service refused the command; ``reasons`` say why, field by field."""

    def __init__(self, message: str, reasons: list[str]) -> None:
        super().__init__(message)
        self.reasons = reasons


class Invoicing(abc.ABC):
    """The invoicing service's HTTP API, as the signed-in user's shop."""

    @abc.abstractmethod
    def invoices(self, shop_id: str, status: str | None) -> list[dict[str, Any]]: ...

    @abc.abstractmethod
    def invoice(self, shop_id: str, invoice_id: str) -> dict[str, Any]: ...

    @abc.abstractmethod
    def send(self, shop_id: str, invoice_id: str, actor: str) -> dict[str, Any]: ...

    @abc.abstractmethod
    def void(self, shop_id: str, invoice_id: str, actor: str, reason: str) -> dict[str, Any]: ...

    @abc.abstractmethod
    def timeline(self, shop_id: str, invoice_id: str) -> list[dict[str, Any]]: ...

    @abc.abstractmethod
    def pdf(self, shop_id: str, invoice_id: str) -> bytes: ...


class Notifications(abc.ABC):
    @abc.abstractmethod
    def nudge(self, shop_id: str, invoice_id: str, channels: list[str], actor: str) -> None:
        """Raises Refused with the reason (within the hour, no such channel, paid)."""


class Reporting(abc.ABC):
    @abc.abstractmethod
    def aging(self, shop_id: str, as_of: str | None, by_customer: bool) -> dict[str, Any]: ...

    @abc.abstractmethod
    def aging_csv(self, shop_id: str, as_of: str | None) -> tuple[str, bytes]:
        """(file name, CSV)."""
