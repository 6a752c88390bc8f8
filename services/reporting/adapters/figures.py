"""Reporting's business figures for Prometheus: what is owed now, every shop, in the standard
aging buckets (days past due as of today, UTC), read at scrape time from the read model."""

from __future__ import annotations

from shared.metrics import Figure

BUCKET = (
    "CASE WHEN current_date - due_date <= 0 THEN 'current'"
    " WHEN current_date - due_date <= 30 THEN '1-30'"
    " WHEN current_date - due_date <= 60 THEN '31-60'"
    " WHEN current_date - due_date <= 90 THEN '61-90' ELSE '91+' END"
)
FIGURES = [
    Figure(
        "ar_outstanding_cents",
        "What customers owe now, in cents, by days past due",
        ("bucket",),
        f"SELECT {BUCKET}, sum(cents) FROM ar_due GROUP BY 1",
    ),
    Figure(
        "ar_outstanding_invoices",
        "Invoices with money owed now, by days past due",
        ("bucket",),
        f"SELECT {BUCKET}, sum(count) FROM ar_due GROUP BY 1",
    ),
]
