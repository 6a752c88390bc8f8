"""Ports of the invoicing service."""

from __future__ import annotations

import abc

from services.invoicing.domain.model import Invoice
from shared.envelope import Envelope


class InvoiceRepository(abc.ABC):
    """Invoices as event streams. ``save`` appends the pending events optimistically."""

    @abc.abstractmethod
    def get(self, invoice_id: str) -> Invoice: ...

    @abc.abstractmethod
    def save(self, invoice: Invoice, cause: Envelope, source: str) -> None:
        """Append ``invoice.pending`` after ``invoice.version`` (ConcurrencyConflict on a race),
        update the projections, and clear ``pending``."""


class UnitOfWork(abc.ABC):
    """The current transaction; the consumer loop owns begin and commit."""

    invoices: InvoiceRepository
