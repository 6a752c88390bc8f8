"""PostgreSQL adapters of reporting's read model (tables: migrations/0001_aging.sql)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from typing import TypeVar

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from services.reporting.domain.aging import Buckets
from services.reporting.domain.ledger import InvoiceFacts, from_record, to_record
from services.reporting.service_layer.store import (
    AgingReports,
    AgingStore,
    Bucketed,
    InvoiceOwed,
    Owed,
    Shop,
    Sums,
)

K = TypeVar("K")
ADD_CHANGE = (
    "INSERT INTO ar_changes (shop_id, due_date, day, cents, count) VALUES (%s, %s, %s, %s, %s)"
    " ON CONFLICT (shop_id, due_date, day) DO UPDATE SET cents = ar_changes.cents +"
    " excluded.cents, count = ar_changes.count + excluded.count"
)
ADD_DUE = (
    "INSERT INTO ar_due (shop_id, due_date, cents, count) VALUES (%s, %s, %s, %s)"
    " ON CONFLICT (shop_id, due_date) DO UPDATE SET cents = ar_due.cents + excluded.cents,"
    " count = ar_due.count + excluded.count"
)
ADD_CUSTOMER_DUE = (
    "INSERT INTO ar_customer_due (shop_id, customer_id, due_date, cents, count)"
    " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (shop_id, customer_id, due_date) DO UPDATE SET"
    " cents = ar_customer_due.cents + excluded.cents,"
    " count = ar_customer_due.count + excluded.count"
)


class AgingOnConnection(AgingStore):
    """The consumer's side, inside its batch transaction (the consumer commits)."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def locked(self, invoice_id: str, shop_id: str) -> InvoiceFacts:
        self.conn.execute(
            "INSERT INTO ar_invoices (invoice_id, shop_id, facts) VALUES (%s, %s, %s)"
            " ON CONFLICT DO NOTHING",
            (invoice_id, shop_id, Jsonb(to_record(InvoiceFacts(invoice_id, shop_id)))),
        )
        row = self.conn.execute(
            "SELECT shop_id, facts FROM ar_invoices WHERE invoice_id = %s FOR UPDATE",
            (invoice_id,),
        ).fetchone()
        assert row is not None
        return from_record(invoice_id, row[0], row[1])

    def save(self, facts: InvoiceFacts, delta: Sums, contributions: Sums) -> None:
        shop = facts.shop_id
        self.conn.execute(
            "UPDATE ar_invoices SET facts = %s, number = %s, customer_id = %s"
            " WHERE invoice_id = %s",
            (Jsonb(to_record(facts)), facts.number, facts.customer_id, facts.invoice_id),
        )
        if facts.sent_at is not None:
            self._shop_and_customer(facts)
        if not delta:
            return
        self.conn.execute("DELETE FROM ar_contributions WHERE invoice_id = %s", (facts.invoice_id,))
        with self.conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO ar_contributions (invoice_id, shop_id, customer_id, due_date, day,"
                " cents, count) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                [(facts.invoice_id, shop, *key, *sums) for key, sums in contributions.items()],
            )
            # Sorted, so two transactions adding to the same rows take their locks in one order.
            cur.executemany(ADD_CHANGE, [(shop, *k, *v) for k, v in sorted(_by_day(delta).items())])
            cur.executemany(ADD_DUE, [(shop, k, *v) for k, v in sorted(_by_due(delta).items())])
            cur.executemany(
                ADD_CUSTOMER_DUE,
                [(shop, *k, *v) for k, v in sorted(_by_customer(delta).items())],
            )

    def _shop_and_customer(self, facts: InvoiceFacts) -> None:
        self.conn.execute(
            "INSERT INTO ar_shops (shop_id, time_zone, zone_since) VALUES (%s, %s, %s)"
            " ON CONFLICT (shop_id) DO UPDATE SET time_zone = excluded.time_zone,"
            " zone_since = excluded.zone_since"
            " WHERE ar_shops.zone_since IS NULL OR ar_shops.zone_since < excluded.zone_since",
            (facts.shop_id, facts.zone, facts.sent_at),
        )
        self.conn.execute(
            "INSERT INTO ar_customers (shop_id, customer_id, name) VALUES (%s, %s, %s)"
            " ON CONFLICT (shop_id, customer_id) DO UPDATE SET name = excluded.name"
            " WHERE ar_customers.name <> excluded.name",
            (facts.shop_id, facts.customer_id, facts.customer_name),
        )


def _by_day(delta: Sums) -> dict[tuple[date, date], tuple[int, int]]:
    return _sum(((due, day), v) for (_, due, day), v in delta.items())


def _by_due(delta: Sums) -> dict[date, tuple[int, int]]:
    return _sum((due, v) for (_, due, _), v in delta.items())


def _by_customer(delta: Sums) -> dict[tuple[str, date], tuple[int, int]]:
    return _sum(((customer, due), v) for (customer, due, _), v in delta.items())


def _sum(items: Iterable[tuple[K, tuple[int, int]]]) -> dict[K, tuple[int, int]]:
    found: dict[K, tuple[int, int]] = defaultdict(lambda: (0, 0))
    for key, (cents, count) in items:
        had = found[key]
        found[key] = (had[0] + cents, had[1] + count)
    return dict(found)


class PooledAgingReports(AgingReports):
    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def shop(self, shop_id: str) -> Shop:
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT time_zone, edges FROM ar_shops WHERE shop_id = %s", (shop_id,)
            ).fetchone()
        if row is None:
            return Shop("America/Los_Angeles", Buckets())
        return Shop(row[0], Buckets(tuple(row[1])))

    def set_buckets(self, shop_id: str, buckets: Buckets) -> None:
        with self.pool.connection() as conn:
            conn.execute(
                "INSERT INTO ar_shops (shop_id, edges) VALUES (%s, %s) ON CONFLICT (shop_id)"
                " DO UPDATE SET edges = excluded.edges",
                (shop_id, list(buckets.edges)),
            )

    def owed_now(self, shop_id: str) -> Owed:
        return self._rows(
            "SELECT customer_id, due_date, cents, count FROM ar_customer_due"
            " WHERE shop_id = %s AND (cents <> 0 OR count <> 0)",
            shop_id,
        )

    def owed_on(self, shop_id: str, day: date) -> Owed:
        return self._rows(
            "SELECT customer_id, due_date, sum(cents)::bigint, sum(count)::bigint"
            " FROM ar_contributions WHERE shop_id = %s AND day <= %s"
            " GROUP BY customer_id, due_date",
            shop_id,
            day,
        )

    def bucketed(self, shop_id: str, day: date, buckets: Buckets, now: bool) -> Bucketed:
        """Summed per bucket in the database: a handful of rows back, not one per due date."""
        late = "%(day)s - due_date"
        cases = " ".join(
            f"WHEN {late} <= {int(edge)} THEN {i + 1}" for i, edge in enumerate(buckets.edges)
        )
        bucket = f"CASE WHEN {late} <= 0 THEN 0 {cases} ELSE {len(buckets.edges) + 1} END"
        source = (
            "ar_due WHERE shop_id = %(shop)s"
            if now
            else "(SELECT due_date, sum(cents) AS cents, sum(count) AS count FROM ar_changes"
            " WHERE shop_id = %(shop)s AND day <= %(day)s GROUP BY due_date) AS owed"
        )
        query = (
            f"SELECT {bucket} AS bucket, sum(cents)::bigint, sum(count)::bigint FROM {source}"
            " GROUP BY bucket"
        )
        with self.pool.connection() as conn:
            rows = conn.execute(query, {"shop": shop_id, "day": day}).fetchall()
        return [(int(r[0]), int(r[1]), int(r[2])) for r in rows]

    def _rows(self, query: str, *args: object) -> Owed:
        with self.pool.connection() as conn:
            return [(r[0], r[1], int(r[2]), int(r[3])) for r in conn.execute(query, args)]

    def invoices(
        self,
        shop_id: str,
        day: date,
        due_from: date | None,
        due_to: date | None,
        customer_id: str | None,
    ) -> list[InvoiceOwed]:
        query = (
            "SELECT c.invoice_id, i.number, c.customer_id, coalesce(n.name, ''), c.due_date,"
            " sum(c.cents)::bigint FROM ar_contributions c"
            " JOIN ar_invoices i ON i.invoice_id = c.invoice_id"
            " LEFT JOIN ar_customers n ON n.shop_id = c.shop_id AND n.customer_id = c.customer_id"
            " WHERE c.shop_id = %s AND c.day <= %s AND c.due_date >= %s AND c.due_date <= %s"
            " AND (%s::text IS NULL OR c.customer_id = %s)"
            " GROUP BY c.invoice_id, i.number, c.customer_id, n.name, c.due_date"
            " HAVING sum(c.count) <> 0 OR sum(c.cents) <> 0"
            " ORDER BY c.due_date, i.number LIMIT 1000"
        )
        args = (
            shop_id,
            day,
            due_from or date.min,
            due_to or date.max,
            customer_id,
            customer_id,
        )
        with self.pool.connection() as conn:
            rows = conn.execute(query, args).fetchall()
        return [InvoiceOwed(r[0], r[1], r[2], r[3], r[4], int(r[5])) for r in rows]

    def customer_names(self, shop_id: str) -> dict[str, str]:
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT customer_id, name FROM ar_customers WHERE shop_id = %s", (shop_id,)
            ).fetchall()
        return {r[0]: r[1] for r in rows}
