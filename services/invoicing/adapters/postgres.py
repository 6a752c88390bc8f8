"""PostgreSQL adapters of the invoicing service: the invoice event stream and its projections."""

from __future__ import annotations

import psycopg

from services.invoicing import projections
from services.invoicing.domain.model import Invoice
from services.invoicing.service_layer.unit_of_work import InvoiceRepository, UnitOfWork
from shared import eventstore
from shared.envelope import Envelope


class PostgresInvoices(InvoiceRepository):
    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def get(self, invoice_id: str) -> Invoice:
        history = [stored.envelope.event for stored in eventstore.load(self.conn, invoice_id)]
        return Invoice.from_history(invoice_id, history)

    def save(self, invoice: Invoice, cause: Envelope, source: str) -> None:
        envelopes = [cause.caused(event, source) for event in invoice.pending]
        eventstore.append(self.conn, invoice.invoice_id, invoice.version, envelopes)
        for offset, event in enumerate(invoice.pending, start=1):
            projections.project(self.conn, event, invoice.version + offset)
        invoice.version += len(invoice.pending)
        invoice.pending.clear()


class PostgresUnitOfWork(UnitOfWork):
    def __init__(self, conn: psycopg.Connection) -> None:
        self.invoices = PostgresInvoices(conn)
