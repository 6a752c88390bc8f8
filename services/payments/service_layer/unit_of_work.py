"""Ports of the payments service."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType

from services.payments.domain.model import PayableInvoice
from shared.envelope import Envelope


@dataclass(frozen=True)
class Opened:
    invoice: PayableInvoice
    first_view: bool
    """This open is the invoice's first real view (InvoiceViewed goes out once)."""


class PayableInvoices(abc.ABC):
    @abc.abstractmethod
    def get(self, invoice_id: str) -> PayableInvoice | None:
        """Locked for this transaction (the consumer changes it)."""

    @abc.abstractmethod
    def save(self, invoice: PayableInvoice) -> None: ...

    @abc.abstractmethod
    def open(self, token: str, real: bool, now: datetime) -> Opened | None:
        """Count an open of the pay link (``real``: by a person); None for an unknown token."""


class UnitOfWork(abc.ABC):
    invoices: PayableInvoices

    def __enter__(self) -> UnitOfWork:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.rollback()

    @abc.abstractmethod
    def publish(self, aggregate_id: str, version: int, envelope: Envelope) -> None:
        """Record an event in the outbox, in this transaction, as ``version`` of the stream."""

    @abc.abstractmethod
    def commit(self) -> None: ...

    @abc.abstractmethod
    def rollback(self) -> None: ...
