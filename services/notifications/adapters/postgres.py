"""PostgreSQL adapters of notifications' stores. Facts notifications tells (ReminderSent,
MessageDelivered, MessageFailed) go to the events table — its outbox — in the same transaction as
the change they describe."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from services.notifications.domain.messages import Message, relinked
from services.notifications.domain.reminders import DEFAULTS, Automations
from services.notifications.domain.standing import Standing, corrected
from services.notifications.service_layer.automations import AutomationsForm
from services.notifications.service_layer.store import (
    AutomationsStore,
    Claimed,
    DeliveryStore,
    InvoiceFacts,
    MessageQueue,
    MessageStore,
    NudgeStore,
    ReminderStore,
    Sent,
)
from shared import eventstore
from shared.contracts import (
    Event,
    InvoiceSent,
    InvoiceUpdated,
    InvoiceVoided,
    MessageDelivered,
    MessageFailed,
    PayLinkReplaced,
    ReminderSent,
)
from shared.envelope import Envelope

SOURCE = "/notifications"
MESSAGE_COLUMNS = (
    "message_id, invoice_id, shop_id, channel, recipient, kind, subject, body, balance_cents, step"
)
CLAIM = f"""
UPDATE messages SET status = 'sending', claimed_at = clock_timestamp()
WHERE message_id = (
    SELECT message_id FROM messages WHERE status = 'pending'
    ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED
)
RETURNING {MESSAGE_COLUMNS}, claimed_at
"""
INSERT_MESSAGE = (
    f"INSERT INTO messages ({MESSAGE_COLUMNS}, status, created_at)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'pending', coalesce(%s, clock_timestamp()))"
    " ON CONFLICT DO NOTHING"
)
STANDINGS = """
SELECT s.event, c.event, coalesce(p.paid, 0), coalesce(p.clearing, false),
       v.invoice_id IS NOT NULL, coalesce(m.done, '{}'), m.last, o.phone IS NOT NULL, l.pay_url
FROM sent_invoices s
LEFT JOIN corrections c ON c.invoice_id = s.invoice_id
LEFT JOIN voided_invoices v ON v.invoice_id = s.invoice_id
LEFT JOIN LATERAL (
    SELECT (sum(amount_cents) FILTER (WHERE state = 'received'))::bigint AS paid,
           bool_or(state = 'clearing') AS clearing
    FROM invoice_payments WHERE invoice_id = s.invoice_id
) p ON true
LEFT JOIN LATERAL (
    SELECT array_agg(step || ' ' || channel) FILTER (WHERE step IS NOT NULL) AS done,
           max(created_at) FILTER (WHERE status <> 'failed') AS last
    FROM messages WHERE invoice_id = s.invoice_id
) m ON true
LEFT JOIN opted_out o ON o.phone = coalesce(c.event, s.event) -> 'customer' ->> 'phone'
LEFT JOIN LATERAL (
    SELECT pay_url FROM pay_links WHERE invoice_id = s.invoice_id AND shop_id = s.shop_id
    ORDER BY link_number DESC LIMIT 1
) l ON true
"""
OPEN = (
    " WHERE v.invoice_id IS NULL AND"
    " (coalesce(c.event, s.event) -> 'totals' ->> 'total_cents')::bigint > coalesce(p.paid, 0)"
)


def _message(row: tuple[Any, ...]) -> Message:
    return Message(*row[:10])


def _standing(row: tuple[Any, ...]) -> Standing:
    sent = InvoiceSent.model_validate(row[0])
    correction = InvoiceUpdated.model_validate(row[1]) if row[1] else None
    done = frozenset(tuple(d.split(" ", 1)) for d in row[5])
    invoice = corrected(sent, correction, row[8])
    return Standing(invoice, row[2], row[3], row[4], done, row[6], row[7])


def _insert(conn: psycopg.Connection, messages: list[Message], at: datetime | None) -> int:
    new = 0
    for m in messages:
        values = (m.message_id, m.invoice_id, m.shop_id, m.channel, m.recipient, m.kind)
        more = (m.subject, m.body, m.balance_cents, m.step, at)
        new += conn.execute(INSERT_MESSAGE, values + more).rowcount
    if new:
        conn.execute("NOTIFY messages_to_send")
    return new


def tell(conn: psycopg.Connection, stream: str, fact: Event, shop_id: str) -> bool:
    """Record a fact once (its stream's first version) in the outbox; False if it was already."""
    try:
        with conn.transaction():
            eventstore.append(conn, stream, 0, [Envelope(fact, shop_id, SOURCE)])
    except eventstore.ConcurrencyConflict:
        return False
    return True


class QueueOnConnection(MessageQueue, InvoiceFacts):
    """The consumer's side, inside its transaction (the consumer commits)."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def queue(self, sent: InvoiceSent, messages: list[Message]) -> int:
        self.conn.execute(
            "INSERT INTO sent_invoices (invoice_id, shop_id, event) VALUES (%s, %s, %s)"
            " ON CONFLICT DO NOTHING",
            (sent.invoice_id, sent.shop_id, Jsonb(sent.model_dump(mode="json"))),
        )
        return _insert(self.conn, messages, None)

    def correct(self, correction: InvoiceUpdated) -> None:
        self.conn.execute(
            "INSERT INTO corrections (invoice_id, shop_id, updated_at, event) VALUES (%s, %s, %s,"
            " %s) ON CONFLICT (invoice_id) DO UPDATE SET updated_at = excluded.updated_at,"
            " event = excluded.event WHERE corrections.updated_at < excluded.updated_at",
            (
                correction.invoice_id,
                correction.shop_id,
                correction.updated_at,
                Jsonb(correction.model_dump(mode="json")),
            ),
        )

    def void(self, voided: InvoiceVoided) -> None:
        self.conn.execute(
            "INSERT INTO voided_invoices (invoice_id, shop_id, voided_at) VALUES (%s, %s, %s)"
            " ON CONFLICT DO NOTHING",
            (voided.invoice_id, voided.shop_id, voided.voided_at),
        )

    def new_pay_link(self, replaced: PayLinkReplaced) -> None:
        self.conn.execute(
            "INSERT INTO pay_links (invoice_id, link_number, shop_id, pay_url)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
            (replaced.invoice_id, replaced.link_number, replaced.shop_id, replaced.pay_url),
        )

    def payment(
        self, payment_id: str, invoice_id: str, shop_id: str, amount_cents: int, state: str
    ) -> None:
        rank = {"clearing": 1, "received": 2, "failed": 3}[state]
        self.conn.execute(
            "INSERT INTO invoice_payments (payment_id, invoice_id, shop_id, amount_cents, state,"
            " rank) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (payment_id) DO UPDATE SET"
            " state = excluded.state, rank = excluded.rank"
            " WHERE invoice_payments.rank < excluded.rank",
            (payment_id, invoice_id, shop_id, amount_cents, state, rank),
        )


class PooledMessageStore(MessageStore):
    """The sender's side: each step its own committed transaction."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def claim_next(self) -> Claimed | None:
        with self.pool.connection() as conn:
            row = conn.execute(CLAIM).fetchone()
            return None if row is None else self._claimed(conn, _message(row), row[10], True)

    def stuck(self, claimed_before: datetime) -> list[Claimed]:
        with self.pool.connection() as conn:
            rows = conn.execute(
                f"SELECT {MESSAGE_COLUMNS}, claimed_at FROM messages"
                " WHERE status = 'sending' AND claimed_at < %s ORDER BY claimed_at LIMIT 100",
                (claimed_before,),
            ).fetchall()
            return [self._claimed(conn, _message(row), row[10]) for row in rows]

    def _claimed(
        self, conn: psycopg.Connection, message: Message, at: datetime, relink: bool = False
    ) -> Claimed:
        """With the invoice as the customer has it now (the PDF shows corrections), and the live
        pay link: a message claimed to be sent (``relink``) that was queued before staff replaced
        the link goes out with the new one (its words on record are changed to match, under this
        claim). One left half-sent keeps its words: the provider is asked for exactly those."""
        row = conn.execute(
            "SELECT s.event, c.event, o.phone IS NOT NULL,"
            " (SELECT array_agg(pay_url ORDER BY link_number) FROM pay_links"
            "  WHERE invoice_id = s.invoice_id AND shop_id = s.shop_id)"
            " FROM sent_invoices s"
            " LEFT JOIN corrections c ON c.invoice_id = s.invoice_id"
            " LEFT JOIN opted_out o ON o.phone = %s WHERE s.invoice_id = %s",
            (message.recipient, message.invoice_id),
        ).fetchone()
        assert row is not None
        sent = InvoiceSent.model_validate(row[0])
        correction = InvoiceUpdated.model_validate(row[1]) if row[1] else None
        links: list[str] = row[3] or []
        if links and relink:
            now_reads = relinked(message, [sent.pay_url, *links[:-1]], links[-1])
            if now_reads != message:
                conn.execute(
                    "UPDATE messages SET body = %s"
                    " WHERE message_id = %s AND status = 'sending' AND claimed_at = %s",
                    (now_reads.body, message.message_id, at),
                )
                message = now_reads
        invoice = corrected(sent, correction, links[-1] if links else None)
        return Claimed(message, invoice, at, bool(row[2]))

    def sent(self, claimed: Claimed, provider_id: str) -> None:
        self._settle(claimed, "sent", provider_id=provider_id)

    def failed(self, claimed: Claimed, fact: MessageFailed) -> None:
        with self.pool.connection() as conn, conn.transaction():
            if self._settle(claimed, "failed", conn, error=fact.reason):
                tell(conn, f"message:{fact.message_id}", fact, fact.shop_id)

    def retry_later(self, claimed: Claimed, error: str) -> None:
        self._settle(claimed, "pending", error=error)

    def unknown(self, claimed: Claimed, error: str) -> None:
        self._settle(claimed, "unknown", error=error)

    def _settle(
        self,
        claimed: Claimed,
        status: str,
        conn: psycopg.Connection | None = None,
        **values: str,
    ) -> bool:
        """Only if the message is still being sent under this claim; whether it was."""
        query = (
            "UPDATE messages SET status = %s, provider_id = coalesce(%s, provider_id),"
            " error = %s, sent_at = CASE WHEN %s = 'sent' THEN clock_timestamp() END"
            " WHERE message_id = %s AND status = 'sending' AND claimed_at = %s"
        )
        args = (
            status,
            values.get("provider_id"),
            values.get("error"),
            status,
            claimed.message.message_id,
            claimed.claimed_at,
        )
        if conn is not None:
            return conn.execute(query, args).rowcount == 1
        with self.pool.connection() as own:
            return own.execute(query, args).rowcount == 1


class PooledNudgeStore(NudgeStore):
    """A nudge decided and queued in one transaction, the invoice's row locked meanwhile."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool
        self._conn: psycopg.Connection | None = None

    @contextmanager
    def locked(self, shop_id: str, invoice_id: str) -> Iterator[Standing | None]:
        with self.pool.connection() as conn:
            mine = conn.execute(
                "SELECT 1 FROM sent_invoices WHERE invoice_id = %s AND shop_id = %s FOR UPDATE",
                (invoice_id, shop_id),
            ).fetchone()
            row = (
                conn.execute(STANDINGS + " WHERE s.invoice_id = %s", (invoice_id,)).fetchone()
                if mine
                else None
            )
            self._conn = conn
            try:
                yield _standing(row) if row else None
            finally:
                self._conn = None

    def add(self, messages: list[Message], fact: ReminderSent) -> None:
        assert self._conn is not None, "add inside locked()"
        _insert(self._conn, messages, fact.sent_at)
        tell(self._conn, f"reminder:{fact.reminder_id}", fact, fact.shop_id)


class PooledReminderStore(ReminderStore):
    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def standings(self) -> Iterator[Standing]:
        with self.pool.connection() as conn:
            rows = conn.execute(STANDINGS + OPEN + " ORDER BY s.invoice_id").fetchall()
        return (_standing(row) for row in rows)

    def automations(self, shop_id: str) -> Automations:
        return PooledAutomations(self.pool).get(shop_id) or DEFAULTS

    def queue_reminder(
        self, messages: list[Message], fact: ReminderSent, quiet_since: datetime
    ) -> int:
        with self.pool.connection() as conn:
            conn.execute(
                "SELECT 1 FROM sent_invoices WHERE invoice_id = %s FOR UPDATE", (fact.invoice_id,)
            )
            last = conn.execute(
                "SELECT max(created_at) FROM messages WHERE invoice_id = %s AND status <> 'failed'",
                (fact.invoice_id,),
            ).fetchone()
            if last and last[0] is not None and last[0] > quiet_since:
                return 0  # a nudge (or another scheduler) just sent something
            new = _insert(conn, messages, fact.sent_at)
            if new:
                tell(conn, f"reminder:{fact.reminder_id}", fact, fact.shop_id)
            return new


class PooledAutomations(AutomationsStore):
    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def get(self, shop_id: str) -> Automations | None:
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT settings FROM automations WHERE shop_id = %s", (shop_id,)
            ).fetchone()
        return AutomationsForm.model_validate(row[0]).to_domain() if row else None

    def save(self, shop_id: str, automations: Automations, by: str) -> None:
        settings = Jsonb(AutomationsForm.of(automations).model_dump(mode="json"))
        with self.pool.connection() as conn:
            conn.execute(
                "INSERT INTO automations (shop_id, settings, updated_by) VALUES (%s, %s, %s)"
                " ON CONFLICT (shop_id) DO UPDATE SET settings = excluded.settings,"
                " updated_by = excluded.updated_by, updated_at = clock_timestamp()",
                (shop_id, settings, by),
            )


class PooledDeliveryStore(DeliveryStore):
    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def by_message_id(self, message_id: str) -> Sent | None:
        return self._find("message_id", message_id)

    def by_provider_id(self, provider_id: str) -> Sent | None:
        return self._find("provider_id", provider_id)

    def _find(self, column: str, value: str) -> Sent | None:
        with self.pool.connection() as conn:
            row = conn.execute(
                f"SELECT {MESSAGE_COLUMNS}, provider_id FROM messages WHERE {column} = %s",
                (value,),
            ).fetchone()
        return Sent(_message(row), row[10] or "") if row else None

    def report(self, fact: MessageDelivered | MessageFailed) -> bool:
        outcome = "delivered" if isinstance(fact, MessageDelivered) else fact.status
        with self.pool.connection() as conn, conn.transaction():
            told = tell(conn, f"message:{fact.message_id}", fact, fact.shop_id)
            if told:
                conn.execute(
                    "UPDATE messages SET outcome = %s WHERE message_id = %s",
                    (outcome, fact.message_id),
                )
            return told

    def opt_out(self, phone: str, opted_out: bool, reply_id: str) -> bool:
        with self.pool.connection() as conn, conn.transaction():
            first = conn.execute(
                "INSERT INTO inbound_replies (reply_id) VALUES (%s) ON CONFLICT DO NOTHING",
                (reply_id,),
            )
            if first.rowcount != 1:
                return False
            if opted_out:
                conn.execute(
                    "INSERT INTO opted_out (phone) VALUES (%s) ON CONFLICT DO NOTHING", (phone,)
                )
            else:
                conn.execute("DELETE FROM opted_out WHERE phone = %s", (phone,))
            return True
