"""The invoices table: the office's view of each invoice, written from the aggregate in the same
transaction as its events (the events table is the truth; this is rebuilt from it)."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from services.invoicing.domain.model import Invoice

UPSERT = """
INSERT INTO invoices (invoice_id, shop_id, status, source, job_id, estimate_id, customer_id,
                      customer_name, currency, total_cents, drafted_at, document, version,
                      invoice_number, sent_at, due_date, paid_cents, refunded_cents,
                      pending_cents, balance_cents, viewed_at)
VALUES (%(invoice_id)s, %(shop_id)s, %(status)s, %(source)s, %(job_id)s, %(estimate_id)s,
        %(customer_id)s, %(customer_name)s, %(currency)s, %(total_cents)s, %(drafted_at)s,
        %(document)s, %(version)s, %(invoice_number)s, %(sent_at)s, %(due_date)s,
        %(paid_cents)s, %(refunded_cents)s, %(pending_cents)s, %(balance_cents)s, %(viewed_at)s)
ON CONFLICT (invoice_id) DO UPDATE SET
    status = EXCLUDED.status, customer_id = EXCLUDED.customer_id,
    customer_name = EXCLUDED.customer_name, total_cents = EXCLUDED.total_cents,
    drafted_at = CASE WHEN invoices.status = 'withdrawn' THEN EXCLUDED.drafted_at
                      ELSE invoices.drafted_at END,
    projected_at = clock_timestamp(),
    document = EXCLUDED.document, version = EXCLUDED.version,
    invoice_number = EXCLUDED.invoice_number, sent_at = EXCLUDED.sent_at,
    due_date = EXCLUDED.due_date, paid_cents = EXCLUDED.paid_cents,
    refunded_cents = EXCLUDED.refunded_cents, pending_cents = EXCLUDED.pending_cents,
    balance_cents = EXCLUDED.balance_cents, viewed_at = EXCLUDED.viewed_at
WHERE invoices.version < EXCLUDED.version
"""


UPDATE = """
UPDATE invoices SET status = %(status)s, customer_id = %(customer_id)s,
    customer_name = %(customer_name)s, total_cents = %(total_cents)s, document = %(document)s,
    version = %(version)s, invoice_number = %(invoice_number)s, sent_at = %(sent_at)s,
    due_date = %(due_date)s, paid_cents = %(paid_cents)s, refunded_cents = %(refunded_cents)s,
    pending_cents = %(pending_cents)s, balance_cents = %(balance_cents)s,
    viewed_at = %(viewed_at)s, projected_at = clock_timestamp()
WHERE invoice_id = %(invoice_id)s AND version < %(version)s
"""


def project(conn: psycopg.Connection, invoice: Invoice, drafted_at: Any) -> None:
    """Write the invoice's row as it now stands: inserted (or moved back into the queue) when
    drafted, updated otherwise. An invoice known only from facts recorded before its draft has
    no row yet."""
    if invoice.customer is None:
        return
    conn.execute(UPSERT if drafted_at is not None else UPDATE, row_of(invoice, drafted_at))


def row_of(invoice: Invoice, drafted_at: Any) -> dict[str, Any]:
    assert invoice.customer is not None
    money = invoice.balance()
    return {
        "invoice_id": invoice.invoice_id,
        "shop_id": invoice.shop_id,
        "status": invoice.base_status().value,
        "source": invoice.source,
        "job_id": invoice.job_id,
        "estimate_id": invoice.estimate_id,
        "customer_id": invoice.customer.customer_id,
        "customer_name": invoice.customer.name,
        "currency": invoice.currency,
        "total_cents": money.total_cents,
        "drafted_at": drafted_at,
        "document": Jsonb(document_of(invoice)),
        "version": invoice.version,
        "invoice_number": invoice.number,
        "sent_at": invoice.sent_at,
        "due_date": invoice.due_date if invoice.is_sent else None,
        "paid_cents": money.paid_cents,
        "refunded_cents": money.refunded_cents,
        "pending_cents": invoice.pending_cents,
        "balance_cents": money.balance_cents,
        "viewed_at": invoice.viewed_at,
    }


def document_of(invoice: Invoice) -> dict[str, Any]:
    """What the API shows of the invoice itself (status and review are added when read)."""
    assert invoice.customer is not None and invoice.service_address is not None
    return {
        "invoice_id": invoice.invoice_id,
        "shop_id": invoice.shop_id,
        "source": invoice.source,
        "job_id": invoice.job_id,
        "estimate_id": invoice.estimate_id,
        "invoice_number": invoice.number,
        "currency": invoice.currency,
        "customer": invoice.customer.model_dump(mode="json"),
        "service_address": invoice.service_address.model_dump(mode="json"),
        "lines": [line.model_dump(mode="json") for line in invoice.lines],
        "totals": invoice.totals().model_dump(mode="json"),
        "allowed_payment_methods": invoice.allowed_payment_methods,
        "payment_methods_chosen": invoice.payment_methods_chosen,
        "due_date": invoice.due_date.isoformat() if invoice.due_date else None,
        "sent_at": invoice.sent_at.isoformat() if invoice.sent_at else None,
        "pay_url": invoice.pay_url,
        "viewed_at": invoice.viewed_at.isoformat() if invoice.viewed_at else None,
    }
