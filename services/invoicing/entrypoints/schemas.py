"""Response models of the invoicing API."""

from __future__ import annotations

from pydantic import BaseModel

from shared.contracts import InvoiceDrafted


class InvoiceSummary(BaseModel):
    invoice_id: str
    status: str
    source: str
    job_id: str | None
    customer_id: str
    customer_name: str
    currency: str
    total_cents: int
    drafted_at: str


class InvoicePage(BaseModel):
    items: list[InvoiceSummary]
    next: str | None
    """Pass as ``after`` for the next page; null on the last page."""


class InvoiceOut(InvoiceDrafted):
    """The invoice as drafted, with its current status and stream version."""

    status: str
    version: int
