"""Invoicing's business figures for Prometheus (read at scrape time from its projection)."""

from __future__ import annotations

from shared.metrics import Figure

FIGURES = [
    Figure(
        "invoices",
        "Invoices by status, every shop",
        ("status",),
        "SELECT status, count(*) FROM invoices GROUP BY status",
    ),
    Figure(
        "invoices_total_cents",
        "What the invoices of each status add up to, in cents",
        ("status",),
        "SELECT status, sum(total_cents) FROM invoices GROUP BY status",
    ),
]
