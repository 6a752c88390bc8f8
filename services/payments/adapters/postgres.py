"""PostgreSQL adapters of the payments service."""

from __future__ import annotations

from dataclasses import astuple
from datetime import datetime

import psycopg
from psycopg.types.json import Jsonb
from pydantic import TypeAdapter

from services.payments.domain.ledger import Charge
from services.payments.domain.model import PayableInvoice
from services.payments.service_layer.gateway import SavedCard
from services.payments.service_layer.unit_of_work import (
    Charges,
    GiveBacks,
    Opened,
    PayableInvoices,
    Processor,
    UnitOfWork,
)
from shared import eventstore
from shared.contracts import pay_token_digest
from shared.envelope import Envelope
from shared.unit_of_work import PooledTransaction

COPY = TypeAdapter(PayableInvoice)

OPEN = """
UPDATE payable_invoices
SET opens = opens + %(count)s,
    bot_opens = bot_opens + 1 - %(count)s,
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
                invoice.reachable_token,
                Jsonb(COPY.dump_python(invoice, mode="json")),
            ),
        )
        for digest in invoice.revoked:
            self.conn.execute(
                "INSERT INTO revoked_pay_links (token_sha256, invoice_id, shop_id)"
                " VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                (digest, invoice.invoice_id, invoice.shop_id),
            )

    def revoked(self, token: str) -> bool:
        found = self.conn.execute(
            "SELECT 1 FROM revoked_pay_links WHERE token_sha256 = %s", (pay_token_digest(token),)
        )
        return found.fetchone() is not None

    def by_token(self, token: str) -> PayableInvoice | None:
        row = self.conn.execute(
            "SELECT copy FROM payable_invoices WHERE pay_token = %s FOR UPDATE", (token,)
        ).fetchone()
        return COPY.validate_python(row[0]) if row else None

    def open(self, token: str, real: bool, now: datetime) -> Opened | None:
        """One statement: the row lock orders racing opens, so exactly one is the first view."""
        params = {"count": 1 if real else 0, "real": real, "now": now, "token": token}
        row = self.conn.execute(OPEN, params).fetchone()
        if row is None:
            return None
        invoice = COPY.validate_python(row[0])
        return Opened(invoice, bool(row[1])) if invoice.pay_token else None


CHARGE_COLUMNS = (
    "charge_id, invoice_id, shop_id, amount_cents, method, status, intent_id, refunded_cents,"
    " created_at"
)

DUE_FOR_CHECK = f"""
UPDATE charges SET checked_at = %(now)s
WHERE charge_id IN (
    SELECT charge_id FROM charges
    WHERE status IN ('created', 'processing') AND intent_id IS NOT NULL
      AND created_at BETWEEN %(since)s AND %(due)s
      AND (checked_at IS NULL OR checked_at <= %(due)s)
    ORDER BY checked_at NULLS FIRST, created_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
RETURNING {CHARGE_COLUMNS}
"""


class PostgresCharges(Charges):
    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def add(self, charge: Charge) -> bool:
        cur = self.conn.execute(
            f"INSERT INTO charges ({CHARGE_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s,"
            " coalesce(%s, clock_timestamp())) ON CONFLICT (charge_id) DO NOTHING",
            astuple(charge),
        )
        return cur.rowcount == 1

    def get(self, charge_id: str) -> Charge | None:
        row = self.conn.execute(
            f"SELECT {CHARGE_COLUMNS} FROM charges WHERE charge_id = %s FOR UPDATE", (charge_id,)
        ).fetchone()
        return Charge(*row) if row else None

    def find(self, intent_id: str, charge_id: str) -> Charge | None:
        row = self.conn.execute(
            f"SELECT {CHARGE_COLUMNS} FROM charges WHERE intent_id = %s OR charge_id = %s"
            " ORDER BY intent_id = %s DESC LIMIT 1",
            (intent_id, charge_id, intent_id),
        ).fetchone()
        return Charge(*row) if row else None

    def for_invoice(self, invoice_id: str) -> list[Charge]:
        rows = self.conn.execute(
            f"SELECT {CHARGE_COLUMNS} FROM charges WHERE invoice_id = %s ORDER BY created_at",
            (invoice_id,),
        ).fetchall()
        return [Charge(*row) for row in rows]

    def due_for_check(
        self, made_since: datetime, due: datetime, now: datetime, limit: int
    ) -> list[Charge]:
        params = {"since": made_since, "due": due, "now": now, "limit": limit}
        rows = self.conn.execute(DUE_FOR_CHECK, params).fetchall()
        return [Charge(*row) for row in rows]

    def save(self, charge: Charge) -> None:
        self.conn.execute(
            "UPDATE charges SET status = %s, intent_id = %s, refunded_cents = %s"
            " WHERE charge_id = %s",
            (charge.status, charge.intent_id, charge.refunded_cents, charge.charge_id),
        )


class PostgresProcessor(Processor):
    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def customer_ref(self, shop_id: str, customer_id: str) -> str | None:
        row = self.conn.execute(
            "SELECT stripe_customer_id FROM stripe_customers"
            " WHERE shop_id = %s AND customer_id = %s",
            (shop_id, customer_id),
        ).fetchone()
        return str(row[0]) if row else None

    def remember_customer(self, shop_id: str, customer_id: str, ref: str) -> None:
        self.conn.execute(
            "INSERT INTO stripe_customers (shop_id, customer_id, stripe_customer_id)"
            " VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
            (shop_id, customer_id, ref),
        )

    def first_delivery(self, event_id: str, event_type: str) -> bool:
        cur = self.conn.execute(
            "INSERT INTO stripe_events (event_id, event_type) VALUES (%s, %s)"
            " ON CONFLICT DO NOTHING",
            (event_id, event_type),
        )
        return cur.rowcount == 1

    def save_card(self, shop_id: str, customer_id: str, card: SavedCard) -> None:
        self.conn.execute(
            "INSERT INTO saved_cards (shop_id, customer_id, payment_method, brand, last4)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            (shop_id, customer_id, card.payment_method, card.brand, card.last4),
        )

    def saved_cards(self, shop_id: str, customer_id: str) -> list[SavedCard]:
        rows = self.conn.execute(
            "SELECT payment_method, brand, last4 FROM saved_cards"
            " WHERE shop_id = %s AND customer_id = %s ORDER BY saved_at DESC",
            (shop_id, customer_id),
        ).fetchall()
        return [SavedCard(*row) for row in rows]

    def has_refund(self, refund_id: str) -> bool:
        found = self.conn.execute("SELECT 1 FROM refunds WHERE refund_id = %s", (refund_id,))
        return found.fetchone() is not None

    def record_refund(
        self, refund_id: str, charge_id: str, amount_cents: int, reason: str, by: str, ref: str
    ) -> None:
        self.conn.execute(
            "INSERT INTO refunds (refund_id, charge_id, amount_cents, reason, refunded_by,"
            " stripe_refund_id) VALUES (%s, %s, %s, %s, %s, %s)",
            (refund_id, charge_id, amount_cents, reason, by, ref),
        )


class PostgresGiveBacks(GiveBacks):
    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def queue(self, invoice_id: str, shop_id: str) -> None:
        self.conn.execute(
            "INSERT INTO give_backs (invoice_id, shop_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",
            (invoice_id, shop_id),
        )

    def queued(self, limit: int) -> list[str]:
        rows = self.conn.execute(
            "SELECT invoice_id FROM give_backs ORDER BY queued_at LIMIT %s", (limit,)
        ).fetchall()
        return [str(row[0]) for row in rows]

    def take(self, invoice_id: str) -> bool:
        cur = self.conn.execute("DELETE FROM give_backs WHERE invoice_id = %s", (invoice_id,))
        return cur.rowcount == 1


class ConsumerUnitOfWork(UnitOfWork):
    """On the consumer's connection; the consumer commits the batch."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.invoices = PostgresPayableInvoices(conn)
        self.charges = PostgresCharges(conn)
        self.processor = PostgresProcessor(conn)
        self.give_backs = PostgresGiveBacks(conn)
        self.conn = conn

    def publish(self, aggregate_id: str, version: int, envelope: Envelope) -> None:
        eventstore.append(self.conn, aggregate_id, version - 1, [envelope])

    def commit(self) -> None:
        """The consumer commits."""

    def rollback(self) -> None:
        """The consumer rolls back."""


class PooledUnitOfWork(PooledTransaction, UnitOfWork):
    """Borrows a pooled connection for one ``with`` block (HTTP requests)."""

    def bind(self, conn: psycopg.Connection) -> None:
        self.invoices = PostgresPayableInvoices(conn)
        self.charges = PostgresCharges(conn)
        self.processor = PostgresProcessor(conn)
        self.give_backs = PostgresGiveBacks(conn)

    def publish(self, aggregate_id: str, version: int, envelope: Envelope) -> None:
        eventstore.append(self.conn, aggregate_id, version - 1, [envelope])
