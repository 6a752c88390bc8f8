"""Ports of the payments service."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime

from services.payments.domain.ledger import Charge
from services.payments.domain.model import PayableInvoice
from services.payments.service_layer.gateway import SavedCard
from shared import unit_of_work as shared_uow
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
    def by_token(self, token: str) -> PayableInvoice | None:
        """Locked for this transaction."""

    @abc.abstractmethod
    def open(self, token: str, real: bool, now: datetime) -> Opened | None:
        """Count an open of the pay link (``real``: by a person); None for an unknown token."""

    @abc.abstractmethod
    def revoked(self, token: str) -> bool:
        """Whether staff revoked this token (a replaced link): the page says it is no longer
        valid, and nothing can be paid with it."""


class Charges(abc.ABC):
    @abc.abstractmethod
    def add(self, charge: Charge) -> bool:
        """False if a charge with this id exists already (a retried attempt)."""

    @abc.abstractmethod
    def get(self, charge_id: str) -> Charge | None:
        """Locked for this transaction."""

    @abc.abstractmethod
    def find(self, intent_id: str, charge_id: str) -> Charge | None:
        """By its intent id, else by its own id; not locked (to learn which invoice to lock
        first: writers lock the invoice, then the charge)."""

    @abc.abstractmethod
    def for_invoice(self, invoice_id: str) -> list[Charge]: ...

    @abc.abstractmethod
    def due_for_check(
        self, made_since: datetime, due: datetime, now: datetime, limit: int
    ) -> list[Charge]:
        """Up to ``limit`` charges with a PaymentIntent neither succeeded nor failed here, made
        between ``made_since`` and ``due`` and not asked of Stripe since ``due``: those asked
        longest ago (or never) first, so none waits behind others that never settle. They are
        marked asked at ``now``."""

    @abc.abstractmethod
    def save(self, charge: Charge) -> None: ...


class Processor(abc.ABC):
    """What payments remembers of the processor: its customers and the webhooks it handled."""

    @abc.abstractmethod
    def customer_ref(self, shop_id: str, customer_id: str) -> str | None: ...

    @abc.abstractmethod
    def remember_customer(self, shop_id: str, customer_id: str, ref: str) -> None: ...

    @abc.abstractmethod
    def first_delivery(self, event_id: str, event_type: str) -> bool:
        """True the first time a webhook event id is seen (in this transaction's commit)."""

    @abc.abstractmethod
    def save_card(self, shop_id: str, customer_id: str, card: SavedCard) -> None: ...

    @abc.abstractmethod
    def saved_cards(self, shop_id: str, customer_id: str) -> list[SavedCard]: ...

    @abc.abstractmethod
    def has_refund(self, refund_id: str) -> bool: ...

    @abc.abstractmethod
    def record_refund(
        self, refund_id: str, charge_id: str, amount_cents: int, reason: str, by: str, ref: str
    ) -> None: ...


class GiveBacks(abc.ABC):
    """Invoices on which money is kept that nothing is owed for, waiting to be given back."""

    @abc.abstractmethod
    def queue(self, invoice_id: str, shop_id: str) -> None:
        """Once per invoice until it is taken (queued again: nothing more)."""

    @abc.abstractmethod
    def queued(self, limit: int) -> list[str]:
        """Up to ``limit`` queued invoices, oldest first."""

    @abc.abstractmethod
    def take(self, invoice_id: str) -> bool:
        """Remove it from the queue in this transaction; False if it was not queued."""


class UnitOfWork(shared_uow.UnitOfWork):
    invoices: PayableInvoices
    charges: Charges
    processor: Processor
    give_backs: GiveBacks

    @abc.abstractmethod
    def publish(self, aggregate_id: str, version: int, envelope: Envelope) -> None:
        """Record an event in the outbox, in this transaction, as ``version`` of the stream."""
