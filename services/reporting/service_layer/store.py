"""Ports to reporting's read model: the consumer's side (one invoice at a time, locked) and the
report's side (sums as of a day)."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import date

from services.reporting.domain.aging import Buckets
from services.reporting.domain.ledger import InvoiceFacts, Key

Sums = dict[Key, tuple[int, int]]
Owed = list[tuple[str, date, int, int]]
"""(customer, due date, cents, open invoices)."""
Bucketed = list[tuple[int, int, int]]
"""(bucket, cents, open invoices)."""


class AgingStore(abc.ABC):
    @abc.abstractmethod
    def locked(self, invoice_id: str, shop_id: str) -> InvoiceFacts:
        """The invoice's facts so far (none yet: empty), locked until the transaction ends."""

    @abc.abstractmethod
    def save(self, facts: InvoiceFacts, delta: Sums, contributions: Sums) -> None:
        """Keep the facts and the invoice's contributions; add ``delta`` to the shop's sums."""


@dataclass(frozen=True)
class InvoiceOwed:
    invoice_id: str
    number: str
    customer_id: str
    customer_name: str
    due_date: date
    balance_cents: int


@dataclass(frozen=True)
class Shop:
    time_zone: str
    buckets: Buckets


class AgingReports(abc.ABC):
    @abc.abstractmethod
    def shop(self, shop_id: str) -> Shop: ...

    @abc.abstractmethod
    def set_buckets(self, shop_id: str, buckets: Buckets) -> None: ...

    @abc.abstractmethod
    def owed_now(self, shop_id: str) -> Owed:
        """What each customer owes after every change so far (today's report per customer)."""

    @abc.abstractmethod
    def owed_on(self, shop_id: str, day: date) -> Owed:
        """What each customer owed at the end of ``day``."""

    @abc.abstractmethod
    def bucketed(self, shop_id: str, day: date, buckets: Buckets, now: bool) -> Bucketed:
        """The shop's totals per bucket on ``day`` (``now``: after every change so far)."""

    @abc.abstractmethod
    def invoices(
        self,
        shop_id: str,
        day: date,
        due_from: date | None,
        due_to: date | None,
        customer_id: str | None,
    ) -> list[InvoiceOwed]:
        """The invoices owing at the end of ``day`` with a due date in that range."""

    @abc.abstractmethod
    def customer_names(self, shop_id: str) -> dict[str, str]: ...
