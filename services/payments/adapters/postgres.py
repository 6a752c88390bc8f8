"""PostgreSQL adapters of the payments service."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool
from pydantic import TypeAdapter

from services.payments.domain.model import PayableInvoice
from services.payments.service_layer.unit_of_work import Opened, PayableInvoices, UnitOfWork
from shared import eventstore
from shared.envelope import Envelope

COPY = TypeAdapter(PayableInvoice)

OPEN = """
UPDATE payable_invoices
SET opens = opens + %(count)s,
    first_viewed_at = CASE WHEN %(real)s THEN coalesce(first_viewed_at, %(now)s)
                           ELSE first_viewed_at END
WHERE pay_token = %(token)s
RETURNING copy, first_viewed_at = %(now)s AND %(real)s
"""


class PostgresPayableInvoices(PayableInvoices):
    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def get(self, invoice_id: str) -> PayableInvoice | None:
        row = self.conn.execute(
            "SELECT copy FROM payable_invoices WHERE invoice_id = %s FOR UPDATE", (invoice_id,)
        ).fetchone()
        return COPY.validate_python(row[0]) if row else None

    def save(self, invoice: PayableInvoice) -> None:
        self.conn.execute(
            "INSERT INTO payable_invoices (invoice_id, shop_id, pay_token, copy)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT (invoice_id) DO UPDATE SET"
            " pay_token = EXCLUDED.pay_token, copy = EXCLUDED.copy,"
            " updated_at = clock_timestamp()",
            (
                invoice.invoice_id,
                invoice.shop_id,
                invoice.pay_token,
                Jsonb(COPY.dump_python(invoice, mode="json")),
            ),
        )

    def open(self, token: str, real: bool, now: datetime) -> Opened | None:
        """One statement: the row lock orders racing opens, so exactly one is the first view."""
        params = {"count": 1 if real else 0, "real": real, "now": now, "token": token}
        row = self.conn.execute(OPEN, params).fetchone()
        if row is None:
            return None
        invoice = COPY.validate_python(row[0])
        return Opened(invoice, bool(row[1])) if invoice.pay_token else None


class ConsumerUnitOfWork(UnitOfWork):
    """On the consumer's connection; the consumer commits the batch."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.invoices = PostgresPayableInvoices(conn)
        self.conn = conn

    def publish(self, aggregate_id: str, version: int, envelope: Envelope) -> None:
        eventstore.append(self.conn, aggregate_id, version - 1, [envelope])

    def commit(self) -> None:
        """The consumer commits."""

    def rollback(self) -> None:
        """The consumer rolls back."""


class PooledUnitOfWork(UnitOfWork):
    """Borrows a pooled connection for one ``with`` block (HTTP requests)."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool
        self._conn: psycopg.Connection | None = None

    def __enter__(self) -> PooledUnitOfWork:
        self._conn = self.pool.getconn()
        self.invoices = PostgresPayableInvoices(self._conn)
        return self

    def __exit__(self, *exc: Any) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.rollback()
        except psycopg.Error:
            pass  # a broken connection: the pool discards it below
        finally:
            self.pool.putconn(conn)

    @property
    def conn(self) -> psycopg.Connection:
        assert self._conn is not None, "use the unit of work in a with block"
        return self._conn

    def publish(self, aggregate_id: str, version: int, envelope: Envelope) -> None:
        eventstore.append(self.conn, aggregate_id, version - 1, [envelope])

    def commit(self) -> None:
        self.conn.commit()

    def rollback(self) -> None:
        if self._conn is not None:
            self._conn.rollback()
