"""Read-side queries of the invoicing service (the office's queue)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg


def list_invoices(
    conn: psycopg.Connection,
    shop_id: str,
    *,
    status: str | None,
    limit: int,
    after: tuple[datetime, str] | None = None,
    job_id: str | None = None,
) -> list[dict[str, Any]]:
    """Oldest first (the queue's order), keyset-paginated by (drafted_at, invoice_id)."""
    clauses = ["shop_id = %s"]
    params: list[Any] = [shop_id]
    if status:
        clauses.append("status = %s")
        params.append(status)
    if job_id:
        clauses.append("job_id = %s")
        params.append(job_id)
    if after:
        clauses.append("(drafted_at, invoice_id) > (%s, %s)")
        params.extend(after)
    rows = conn.execute(
        "SELECT invoice_id, status, source, job_id, customer_id, customer_name, currency,"
        " total_cents, drafted_at FROM invoices WHERE "
        + " AND ".join(clauses)
        + " ORDER BY drafted_at, invoice_id LIMIT %s",
        [*params, limit],
    ).fetchall()
    return [_summary(row) for row in rows]


def get_invoice(conn: psycopg.Connection, shop_id: str, invoice_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT document, status, version FROM invoices WHERE shop_id = %s AND invoice_id = %s",
        (shop_id, invoice_id),
    ).fetchone()
    if row is None:
        return None
    document: dict[str, Any] = row[0]
    return {**document, "status": row[1], "version": row[2]}


def _summary(row: tuple[Any, ...]) -> dict[str, Any]:
    keys = (
        "invoice_id",
        "status",
        "source",
        "job_id",
        "customer_id",
        "customer_name",
        "currency",
        "total_cents",
        "drafted_at",
    )
    summary = dict(zip(keys, row, strict=True))
    summary["drafted_at"] = row[8].isoformat()
    return summary
