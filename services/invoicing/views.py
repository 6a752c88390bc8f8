"""Read-side queries of the invoicing service: the office's queue and lists by status."""

from __future__ import annotations

from datetime import date
from typing import Any

import psycopg

from shared.pagination import Cursor, Listing, fetch_page, like_pattern

INVOICES = Listing(
    "invoices",
    (
        "invoice_id",
        "status",
        "source",
        "job_id",
        "estimate_id",
        "invoice_number",
        "customer_id",
        "customer_name",
        "currency",
        "total_cents",
        "balance_cents",
        "due_date",
        "drafted_at",
        "sent_at",
    ),
    order="drafted_at",
    key="invoice_id",
)
OWING = ("sent", "viewed", "partially_paid")
"""The stored statuses that turn Overdue once past due with a balance."""


def list_invoices(
    conn: psycopg.Connection,
    shop_id: str,
    *,
    today: date,
    status: str | None,
    limit: int,
    after: Cursor | None = None,
    job_id: str | None = None,
    customer_id: str | None = None,
    search: str | None = None,
) -> list[dict[str, Any]]:
    """Oldest first (the queue's order), keyset-paginated by (drafted_at, invoice_id). Overdue
    is derived from the shop's today; ``search`` matches the number or the customer's name."""
    where: list[tuple[str, Any]] = []
    if search:
        clause = "coalesce(invoice_number, '') || ' ' || customer_name ILIKE %s"
        where.append((clause, like_pattern(search)))
    stored = status
    if status == "overdue":
        stored = None
        where.append(("status = ANY(%s)", list(OWING)))
        where.append(("due_date < %s AND balance_cents > 0", today))
    elif status in OWING:
        where.append(("NOT (due_date < %s AND balance_cents > 0)", today))
    rows = fetch_page(
        conn,
        INVOICES,
        shop_id,
        limit=limit,
        after=after,
        equal={"status": stored, "job_id": job_id, "customer_id": customer_id},
        where=where,
    )
    return [_with_overdue(row, today) for row in rows]


def _with_overdue(row: dict[str, Any], today: date) -> dict[str, Any]:
    due = row["due_date"]
    late = due is not None and due < today and row["balance_cents"] > 0
    if row["status"] in OWING and late:
        row["status"] = "overdue"
    if isinstance(due, date):
        row["due_date"] = due.isoformat()
    return row


def get_invoice(conn: psycopg.Connection, shop_id: str, invoice_id: str) -> dict[str, Any] | None:
    """The projected document of one invoice with its stored status and stream version."""
    row = conn.execute(
        "SELECT document, status, version FROM invoices WHERE shop_id = %s AND invoice_id = %s",
        (shop_id, invoice_id),
    ).fetchone()
    if row is None:
        return None
    document: dict[str, Any] = row[0]
    return {**document, "status": row[1], "version": row[2]}
