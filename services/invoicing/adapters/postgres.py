"""PostgreSQL adapters of the invoicing service: the invoice event stream, its projection, the
shop's settings and invoice numbers, and the copies of approved estimates."""

from __future__ import annotations

import time
from dataclasses import astuple, fields
from typing import ClassVar

import psycopg
from psycopg.types.json import Jsonb

from services.invoicing import projections
from services.invoicing.domain.model import Invoice
from services.invoicing.domain.settings import ShopSettings
from services.invoicing.service_layer.unit_of_work import (
    ApprovedEstimates,
    InvoiceNumbers,
    InvoiceRepository,
    ShopSettingsRepository,
    UnitOfWork,
    envelopes_for,
)
from shared import eventstore
from shared.contracts import EstimateApproved, InvoiceDrafted
from shared.envelope import Envelope
from shared.unit_of_work import PooledTransaction


class PostgresInvoices(InvoiceRepository):
    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def get(self, invoice_id: str) -> Invoice:
        history = [stored.envelope.event for stored in eventstore.load(self.conn, invoice_id)]
        return Invoice.from_history(invoice_id, history)

    def save(
        self, invoice: Invoice, cause: Envelope | None, source: str, correlation_id: str = ""
    ) -> None:
        version = invoice.version
        for envelope, publish in envelopes_for(invoice, cause, source, correlation_id):
            version = eventstore.append(
                self.conn, invoice.invoice_id, version, [envelope], publish=publish
            )
        drafted = [e.drafted_at for e in invoice.pending if isinstance(e, InvoiceDrafted)]
        invoice.version = version
        invoice.pending.clear()
        projections.project(self.conn, invoice, drafted[-1] if drafted else None)


class PostgresShopSettings(ShopSettingsRepository):
    COLUMNS = ", ".join(f.name for f in fields(ShopSettings))

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def get(self, shop_id: str) -> ShopSettings:
        row = self.conn.execute(
            f"SELECT {self.COLUMNS} FROM shop_settings WHERE shop_id = %s", (shop_id,)
        ).fetchone()
        return ShopSettings(*row) if row else ShopSettings(shop_id)

    def save(self, settings: ShopSettings) -> None:
        names = [f.name for f in fields(ShopSettings)]
        updates = ", ".join(f"{n} = EXCLUDED.{n}" for n in names[1:])
        self.conn.execute(
            f"INSERT INTO shop_settings ({self.COLUMNS}) VALUES ({', '.join(['%s'] * len(names))})"
            f" ON CONFLICT (shop_id) DO UPDATE SET {updates}, updated_at = clock_timestamp()",
            astuple(settings),
        )


class RecentShopSettings(ShopSettingsRepository):
    """The consumer's view of shop settings: read once per shop per ``ttl`` seconds (a draft
    needs only the card limit; a change reaches new drafts within seconds), shared by the
    consumer's batches so a batch of 500 drafts costs one read per shop, not 500."""

    _cache: ClassVar[dict[str, tuple[float, ShopSettings]]] = {}

    def __init__(self, conn: psycopg.Connection, ttl: float = 5.0) -> None:
        self.stored = PostgresShopSettings(conn)
        self.ttl = ttl

    def get(self, shop_id: str) -> ShopSettings:
        now = time.monotonic()
        hit = self._cache.get(shop_id)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        settings = self.stored.get(shop_id)
        self._cache[shop_id] = (now, settings)
        return settings

    def save(self, settings: ShopSettings) -> None:
        self.stored.save(settings)
        self._cache.pop(settings.shop_id, None)


class PostgresInvoiceNumbers(InvoiceNumbers):
    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def next(self, shop_id: str) -> int:
        row = self.conn.execute(
            "INSERT INTO invoice_numbers (shop_id, last) VALUES (%s, 1)"
            " ON CONFLICT (shop_id) DO UPDATE SET last = invoice_numbers.last + 1"
            " RETURNING last",
            (shop_id,),
        ).fetchone()
        assert row is not None
        return int(row[0])


class PostgresApprovedEstimates(ApprovedEstimates):
    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def add(self, estimate: EstimateApproved) -> None:
        self.conn.execute(
            "INSERT INTO approved_estimates (shop_id, estimate_id, event) VALUES (%s, %s, %s)"
            " ON CONFLICT DO NOTHING",
            (estimate.shop_id, estimate.estimate_id, Jsonb(estimate.model_dump(mode="json"))),
        )

    def get(self, shop_id: str, estimate_id: str) -> EstimateApproved | None:
        row = self.conn.execute(
            "SELECT event FROM approved_estimates WHERE shop_id = %s AND estimate_id = %s",
            (shop_id, estimate_id),
        ).fetchone()
        return EstimateApproved.model_validate(row[0]) if row else None


class PostgresUnitOfWork(UnitOfWork):
    """On a connection whose transaction someone else owns (the consumer's batch)."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn
        self.invoices = PostgresInvoices(conn)
        self.settings = RecentShopSettings(conn)
        self.numbers = PostgresInvoiceNumbers(conn)
        self.estimates = PostgresApprovedEstimates(conn)

    def commit(self) -> None:
        """The owner of the transaction commits."""

    def rollback(self) -> None:
        """The owner of the transaction rolls back."""


class PooledUnitOfWork(PooledTransaction, UnitOfWork):
    """Borrows a pooled connection for one ``with`` block and owns its transaction (HTTP)."""

    def bind(self, conn: psycopg.Connection) -> None:
        self.invoices = PostgresInvoices(conn)
        self.settings = PostgresShopSettings(conn)
        self.numbers = PostgresInvoiceNumbers(conn)
        self.estimates = PostgresApprovedEstimates(conn)
