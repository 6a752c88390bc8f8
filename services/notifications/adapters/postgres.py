"""PostgreSQL adapter of notifications' message store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from services.notifications.domain.messages import Message
from services.notifications.service_layer.store import (
    Claimed,
    MessageQueue,
    MessageStore,
    NudgeStore,
)
from shared.contracts import InvoiceSent

CLAIM = """
UPDATE messages SET status = 'sending'
WHERE message_id = (
    SELECT message_id FROM messages WHERE status = 'pending'
    ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED
)
RETURNING message_id, invoice_id, shop_id, channel, recipient, kind
"""


class QueueOnConnection(MessageQueue):
    """Queueing inside the consumer's transaction (the consumer commits)."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def queue(self, sent: InvoiceSent, messages: list[Message]) -> int:
        self.conn.execute(
            "INSERT INTO sent_invoices (invoice_id, shop_id, event) VALUES (%s, %s, %s)"
            " ON CONFLICT DO NOTHING",
            (sent.invoice_id, sent.shop_id, Jsonb(sent.model_dump(mode="json"))),
        )
        new = 0
        for m in messages:
            cur = self.conn.execute(
                "INSERT INTO messages (message_id, invoice_id, shop_id, kind, channel, recipient,"
                " status) VALUES (%s, %s, %s, %s, %s, %s, 'pending') ON CONFLICT DO NOTHING",
                (m.message_id, m.invoice_id, m.shop_id, m.kind, m.channel, m.recipient),
            )
            new += cur.rowcount
        self.conn.execute("NOTIFY messages_to_send")
        return new


class PooledMessageStore(MessageStore):
    """The sender's side: each step its own committed transaction."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def claim_next(self) -> Claimed | None:
        with self.pool.connection() as conn:
            row = conn.execute(CLAIM).fetchone()
            if row is None:
                return None
            message = Message(row[0], row[1], row[2], row[3], row[4], row[5])
            event = conn.execute(
                "SELECT event FROM sent_invoices WHERE invoice_id = %s", (message.invoice_id,)
            ).fetchone()
            assert event is not None
            return Claimed(message, InvoiceSent.model_validate(event[0]))

    def sent(self, message_id: str, provider_id: str) -> None:
        self._set(message_id, "sent", provider_id=provider_id)

    def failed(self, message_id: str, error: str) -> None:
        self._set(message_id, "failed", error=error)

    def retry_later(self, message_id: str, error: str) -> None:
        self._set(message_id, "pending", error=error)

    def _set(self, message_id: str, status: str, **values: str) -> None:
        with self.pool.connection() as conn:
            conn.execute(
                "UPDATE messages SET status = %s, provider_id = coalesce(%s, provider_id),"
                " error = %s, sent_at = CASE WHEN %s = 'sent' THEN clock_timestamp() END"
                " WHERE message_id = %s",
                (status, values.get("provider_id"), values.get("error"), status, message_id),
            )


class PooledNudgeStore(NudgeStore):
    """A nudge decided and queued in one transaction, the invoice's row locked meanwhile."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool
        self._conn: psycopg.Connection | None = None

    @contextmanager
    def locked(
        self, shop_id: str, invoice_id: str
    ) -> Iterator[tuple[InvoiceSent, datetime | None] | None]:
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT event FROM sent_invoices WHERE invoice_id = %s AND shop_id = %s FOR UPDATE",
                (invoice_id, shop_id),
            ).fetchone()
            if row is None:
                yield None
                return
            last = conn.execute(
                "SELECT max(created_at) FROM messages WHERE invoice_id = %s AND status <> 'failed'",
                (invoice_id,),
            ).fetchone()
            self._conn = conn
            try:
                yield InvoiceSent.model_validate(row[0]), last[0] if last else None
            finally:
                self._conn = None

    def add(self, messages: list[Message]) -> None:
        assert self._conn is not None, "add inside locked()"
        for m in messages:
            self._conn.execute(
                "INSERT INTO messages (message_id, invoice_id, shop_id, kind, channel, recipient,"
                " status) VALUES (%s, %s, %s, %s, %s, %s, 'pending')",
                (m.message_id, m.invoice_id, m.shop_id, m.kind, m.channel, m.recipient),
            )
        self._conn.execute("NOTIFY messages_to_send")
