"""Payments' business figures for Prometheus: money collected and refunded, read at scrape time
(a charge counts once it succeeded; an ACH debit returned later leaves the figure)."""

from __future__ import annotations

from shared.metrics import Figure

FIGURES = [
    Figure(
        "payments_collected",
        "Payments that succeeded, by method",
        ("method",),
        "SELECT method, count(*) FROM charges WHERE status = 'succeeded' GROUP BY method",
    ),
    Figure(
        "payments_collected_cents",
        "Money collected, in cents, by method",
        ("method",),
        "SELECT method, sum(amount_cents) FROM charges WHERE status = 'succeeded' GROUP BY method",
    ),
    Figure(
        "refunds_issued_cents",
        "Money refunded, in cents",
        (),
        "SELECT coalesce(sum(amount_cents), 0) FROM refunds",
    ),
]
