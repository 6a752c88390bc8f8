"""Ports of the invoicing service."""

from __future__ import annotations

import abc

from services.invoicing.domain.model import EXTERNAL_FACTS, Invoice
from services.invoicing.domain.settings import ShopSettings
from shared import unit_of_work as shared_uow
from shared.contracts import EstimateApproved
from shared.envelope import Envelope


class InvoiceRepository(abc.ABC):
    """Invoices as event streams. ``save`` appends the pending events optimistically."""

    @abc.abstractmethod
    def get(self, invoice_id: str) -> Invoice: ...

    @abc.abstractmethod
    def save(
        self, invoice: Invoice, cause: Envelope | None, source: str, correlation_id: str = ""
    ) -> None:
        """Append ``invoice.pending`` after ``invoice.version`` (ConcurrencyConflict on a race),
        update the projections, and clear ``pending``. Events the invoice made are published,
        caused by ``cause`` (a consumed event) or by a request (``correlation_id``); facts it
        recorded from other services are kept as they came and not published again."""


def envelopes_for(
    invoice: Invoice, cause: Envelope | None, source: str, correlation_id: str = ""
) -> list[tuple[Envelope, bool]]:
    """Each pending event as it is stored, and whether it is published: a recorded fact keeps
    the envelope it came in (its own id), the invoice's own events are new envelopes."""
    stored = []
    for event in invoice.pending:
        if cause is not None and event is cause.event and isinstance(event, EXTERNAL_FACTS):
            stored.append((cause, False))
        elif cause is not None:
            stored.append((cause.caused(event, source), True))
        else:
            envelope = Envelope(
                event=event, tenant=invoice.shop_id, source=source, correlation_id=correlation_id
            )
            stored.append((envelope, True))
    return stored


class ShopSettingsRepository(abc.ABC):
    @abc.abstractmethod
    def get(self, shop_id: str) -> ShopSettings:
        """The shop's settings, or the defaults for a shop that never changed them."""

    @abc.abstractmethod
    def save(self, settings: ShopSettings) -> None: ...


class InvoiceNumbers(abc.ABC):
    @abc.abstractmethod
    def next(self, shop_id: str) -> int:
        """The shop's next invoice number, taken in this transaction: gapless, because a rolled
        back transaction gives it back, and never twice, because the shop's counter is locked
        until commit."""


class ApprovedEstimates(abc.ABC):
    """Invoicing's own copy of each EstimateApproved, for + Invoice without calling jobs."""

    @abc.abstractmethod
    def add(self, estimate: EstimateApproved) -> None:
        """Keep it (a redelivery changes nothing)."""

    @abc.abstractmethod
    def get(self, shop_id: str, estimate_id: str) -> EstimateApproved | None: ...


class UnitOfWork(shared_uow.UnitOfWork):
    """One transaction. The consumer loop owns the one its handlers run in (``commit`` is then
    the loop's); an HTTP command begins and commits its own."""

    invoices: InvoiceRepository
    settings: ShopSettingsRepository
    numbers: InvoiceNumbers
    estimates: ApprovedEstimates
