"""Read-side queries of the invoicing service (the office's queue)."""

from __future__ import annotations

from typing import Any

import psycopg

from shared.pagination import Cursor, Listing, fetch_page

INVOICES = Listing(
    "invoices",
    (
        "invoice_id",
        "status",
        "source",
        "job_id",
        "customer_id",
        "customer_name",
        "currency",
        "total_cents",
        "drafted_at",
    ),
    order="drafted_at",
    key="invoice_id",
)


def list_invoices(
    conn: psycopg.Connection,
    shop_id: str,
    *,
    status: str | None,
    limit: int,
    after: Cursor | None = None,
    job_id: str | None = None,
) -> list[dict[str, Any]]:
    """Oldest first (the queue's order), keyset-paginated by (drafted_at, invoice_id)."""
    return fetch_page(
        conn,
        INVOICES,
        shop_id,
        limit=limit,
        after=after,
        equal={"status": status, "job_id": job_id},
    )


def get_invoice(conn: psycopg.Connection, shop_id: str, invoice_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT document, status, version FROM invoices WHERE shop_id = %s AND invoice_id = %s",
        (shop_id, invoice_id),
    ).fetchone()
    if row is None:
        return None
    document: dict[str, Any] = row[0]
    return {**document, "status": row[1], "version": row[2]}
