"""Ports of the staff app: its users, password hashing, and the services it calls."""

from __future__ import annotations

import abc
from typing import Any, Literal

from services.gateway.domain.access import StaffUser

Page = dict[str, Any]
"""A page of a list: ``items`` and ``next`` (the cursor of the next page, or None)."""


class Users(abc.ABC):
    @abc.abstractmethod
    def by_email(self, email: str) -> tuple[StaffUser, str] | None:
        """The user and their password hash, or None."""

    @abc.abstractmethod
    def add(self, user: StaffUser, password_hash: str) -> None: ...

    @abc.abstractmethod
    def create(self, user: StaffUser, password_hash: str) -> bool:
        """A new user only: False (nothing written) when the email already signs in; NameTaken
        when the shop has a user of that name."""

    @abc.abstractmethod
    def of_shop(self, shop_id: str) -> list[StaffUser]: ...

    @abc.abstractmethod
    def current(self, user_id: str, version: int) -> StaffUser | None:
        """The user as they are now if their sessions of this version still stand (a role
        change, a new password or a removal ends every earlier session), else None."""

    @abc.abstractmethod
    def version(self, user_id: str) -> int: ...

    @abc.abstractmethod
    def end_sessions(self, user_id: str) -> None:
        """Every session of the user ends (signing out signs out everywhere)."""

    @abc.abstractmethod
    def change_role(self, shop_id: str, user_id: str, role: str) -> bool:
        """False when the shop has no such user; LastOwner when it would leave no owner."""

    @abc.abstractmethod
    def remove(self, shop_id: str, user_id: str) -> bool:
        """False when the shop has no such user; LastOwner when it would leave no owner."""


class NameTaken(Exception):
    """Another user of the shop has this name (a technician's jobs are found by their name)."""


class LastOwner(Exception):
    """Every shop keeps at least one owner (settings and refunds need one)."""


class Passwords(abc.ABC):
    @abc.abstractmethod
    def hash(self, password: str) -> str: ...

    @abc.abstractmethod
    def matches(self, password_hash: str, password: str) -> bool: ...


class NotFound(Exception):
    """The service has no such thing for this shop (another shop's looks the same)."""


class ServiceDown(Exception):
    """The service did not answer (down, timed out, or failed): try again shortly."""


class Refused(Exception):
    """The service refused the command; ``reasons`` say why, field by field."""

    def __init__(self, message: str, reasons: list[str]) -> None:
        super().__init__(message)
        self.reasons = reasons


class Invoicing(abc.ABC):
    """The invoicing service's HTTP API, as the signed-in user's shop."""

    @abc.abstractmethod
    def invoices(self, shop_id: str, status: str | None, after: str | None = None) -> Page:
        """Oldest first (the queue's order), a page at a time."""

    @abc.abstractmethod
    def invoice(self, shop_id: str, invoice_id: str) -> dict[str, Any]: ...

    @abc.abstractmethod
    def send(self, shop_id: str, invoice_id: str, actor: str) -> dict[str, Any]: ...

    @abc.abstractmethod
    def void(self, shop_id: str, invoice_id: str, actor: str, reason: str) -> dict[str, Any]: ...

    @abc.abstractmethod
    def replace_pay_link(
        self, shop_id: str, invoice_id: str, actor: str, reason: str, link_number: int | None
    ) -> dict[str, Any]:
        """Revoke the customer's pay link (number ``link_number``: a repeat revokes it once) and
        issue a new one; Refused when there is none to replace (not sent, void, nothing owed)."""

    @abc.abstractmethod
    def timeline(self, shop_id: str, invoice_id: str) -> list[dict[str, Any]]: ...

    @abc.abstractmethod
    def pdf(self, shop_id: str, invoice_id: str) -> bytes: ...

    @abc.abstractmethod
    def search(self, shop_id: str, text: str, after: str | None = None) -> Page:
        """Any status, by part of the number or the customer's name."""

    @abc.abstractmethod
    def edit(
        self, shop_id: str, invoice_id: str, change: Change, body: dict[str, Any], actor: str
    ) -> dict[str, Any]:
        """One review edit (``body`` as invoicing's API takes it; ``line_id`` says which line
        for line changes); Refused names the field."""

    @abc.abstractmethod
    def create(self, shop_id: str, body: dict[str, Any], actor: str) -> dict[str, Any]:
        """+ New Invoice: a draft for a customer snapshot, a service address and lines."""

    @abc.abstractmethod
    def from_estimate(self, shop_id: str, estimate_id: str, actor: str) -> dict[str, Any]: ...

    @abc.abstractmethod
    def settings(self, shop_id: str) -> dict[str, Any]: ...

    @abc.abstractmethod
    def save_settings(self, shop_id: str, body: dict[str, Any], actor: str) -> dict[str, Any]: ...


Change = Literal[
    "bill_to", "service_address", "add_line", "change_line", "remove_line",
    "payment_methods", "due_date", "note",
]  # fmt: skip


class Jobs(abc.ABC):
    """The jobs service's HTTP API: customers, their places, jobs and estimates."""

    @abc.abstractmethod
    def customers(self, shop_id: str, text: str | None, after: str | None = None) -> Page: ...

    @abc.abstractmethod
    def customer(self, shop_id: str, customer_id: str) -> dict[str, Any]: ...

    def names(self, shop_id: str, customer_ids: list[str]) -> dict[str, str]:
        """The names of these customers of the shop (one not found is left out); here one
        lookup each, an adapter that can ask for all at once does."""
        found = {}
        for customer_id in customer_ids:
            try:
                found[customer_id] = self.customer(shop_id, customer_id)["name"]
            except NotFound:
                continue
        return found

    @abc.abstractmethod
    def add_customer(self, shop_id: str, body: dict[str, Any]) -> dict[str, Any]: ...

    @abc.abstractmethod
    def locations(self, shop_id: str, customer_id: str) -> list[dict[str, Any]]: ...

    @abc.abstractmethod
    def add_location(self, shop_id: str, customer_id: str, body: dict[str, Any]) -> None: ...

    @abc.abstractmethod
    def jobs(
        self,
        shop_id: str,
        status: str | None,
        technician: str | None,
        customer_id: str | None,
        after: str | None = None,
    ) -> Page: ...

    @abc.abstractmethod
    def job(self, shop_id: str, job_id: str) -> dict[str, Any]: ...

    @abc.abstractmethod
    def add_job(self, shop_id: str, body: dict[str, Any]) -> dict[str, Any]: ...

    @abc.abstractmethod
    def work(self, shop_id: str, job_id: str, step: Work, body: dict[str, Any]) -> None:
        """Add an item or labor, start or close the job; Refused says why not."""

    @abc.abstractmethod
    def approved_estimates(self, shop_id: str, after: str | None = None) -> Page: ...


Work = Literal["items", "labor", "start", "close"]


class Payments(abc.ABC):
    @abc.abstractmethod
    def payments(self, shop_id: str, invoice_id: str) -> list[dict[str, Any]]: ...

    @abc.abstractmethod
    def refund(
        self, shop_id: str, charge_id: str, cents: int, reason: str, actor: str, key: str
    ) -> dict[str, Any]:
        """``key``: the form's idempotency key (a form sent twice is one refund)."""


class Notifications(abc.ABC):
    @abc.abstractmethod
    def nudge(self, shop_id: str, invoice_id: str, channels: list[str], actor: str) -> None:
        """Raises Refused with the reason (within the hour, no such channel, paid)."""

    @abc.abstractmethod
    def automations(self, shop_id: str) -> dict[str, Any]: ...

    @abc.abstractmethod
    def save_automations(
        self, shop_id: str, body: dict[str, Any], actor: str
    ) -> dict[str, Any]: ...


class Reporting(abc.ABC):
    @abc.abstractmethod
    def aging(self, shop_id: str, as_of: str | None, by_customer: bool) -> dict[str, Any]: ...

    @abc.abstractmethod
    def aging_csv(self, shop_id: str, as_of: str | None) -> tuple[str, bytes]:
        """(file name, CSV)."""

    @abc.abstractmethod
    def aging_invoices(
        self, shop_id: str, as_of: str | None, bucket: int, customer_id: str | None
    ) -> dict[str, Any]:
        """The invoices in one bucket (its index, 0 = Current), shop-wide or one customer's."""
