"""Projections the invoicing service keeps from its own events (same transaction as the append)."""

from __future__ import annotations

import psycopg

from shared.contracts import Event, InvoiceDrafted, InvoiceDraftWithdrawn

UPSERT_DRAFT = """
INSERT INTO invoices (invoice_id, shop_id, status, source, job_id, customer_id, customer_name,
                      currency, total_cents, drafted_at, document, version)
VALUES (%s, %s, 'draft', %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s)
ON CONFLICT (invoice_id) DO UPDATE SET
    status = EXCLUDED.status, total_cents = EXCLUDED.total_cents, drafted_at = EXCLUDED.drafted_at,
    document = EXCLUDED.document, version = EXCLUDED.version
WHERE invoices.version < EXCLUDED.version
"""


WITHDRAW = """
UPDATE invoices SET status = 'withdrawn', version = %s WHERE invoice_id = %s AND version < %s
"""


def project(conn: psycopg.Connection, event: Event, version: int) -> None:
    if isinstance(event, InvoiceDrafted):
        _project_drafted(conn, event, version)
    elif isinstance(event, InvoiceDraftWithdrawn):
        conn.execute(WITHDRAW, (version, event.invoice_id, version))


def _project_drafted(conn: psycopg.Connection, event: InvoiceDrafted, version: int) -> None:
    conn.execute(
        UPSERT_DRAFT,
        (
            event.invoice_id,
            event.shop_id,
            event.source,
            event.job_id,
            event.customer.customer_id,
            event.customer.name,
            event.currency,
            event.totals.total_cents,
            event.drafted_at,
            event.model_dump_json(),
            version,
        ),
    )
