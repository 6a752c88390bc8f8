"""`make bench` (part): the invoice PDF — median and p95 over 200 renders of a one-page invoice
with 12 lines, a logo-less header and the pay link's QR code, against the same page drawn with
ReportLab's stock QR widget (the straightforward way) in the same run. Goal: median ≤ 15 ms."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal

from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing

from bench.table import Figure, Goal, report
from services.invoicing.domain.model import Invoice
from services.invoicing.domain.settings import ShopSettings
from services.invoicing.service_layer.handlers import pdf_of
from shared import contracts, invoice_pdf

RENDERS = 200
GOAL_MS = 15.0


def invoice() -> Invoice:
    place = contracts.Address(line1="1 Elm St", city="Fresno", region="CA", postal_code="93701")
    items = [
        contracts.JobLineItem(
            line_id=f"li-{n}",
            description=f"Part {n} — 3/4 in. copper fitting",
            quantity=Decimal(n + 1),
            unit_price_cents=1299 + n * 100,
            taxable=True,
            tax_rate_percent=Decimal("8.25"),
        )
        for n in range(10)
    ]
    labor = [
        contracts.LaborEntry(
            entry_id=f"lab-{n}",
            technician="Ana Silva",
            hours=Decimal("1.5"),
            hourly_rate_cents=12500,
        )
        for n in range(2)
    ]
    job = contracts.JobClosed(
        job_id="job-bench",
        shop_id="bench-shop",
        closed_at=datetime.now(UTC),
        customer=contracts.CustomerSnapshot(
            customer_id="c",
            name="Harbor View Property Management",
            billing_address=place,
            payment_terms_days=30,
        ),
        service_address=place,
        line_items=items,
        labor=labor,
    )
    drafted = Invoice("inv-bench")
    drafted.draft_from_closed_job(job, datetime.now(UTC), 500_000)
    drafted.number, drafted.sent_at = "INV-2026-000123", datetime.now(UTC)
    drafted.pay_url = "https://pay.example.com/p/Zm9vYmFyYmF6cXV4MTIzNDU2Nzg"
    return drafted


def timings(render: Callable[[], bytes]) -> list[float]:
    render()  # warm up (fonts, imports)
    out = []
    for _ in range(RENDERS):
        started = time.perf_counter()
        render()
        out.append((time.perf_counter() - started) * 1000)
    return out


class StockQr(Drawing):
    """ReportLab's QR widget in a drawing: one shape per module."""

    def __init__(self, data: str, size: float) -> None:
        widget = QrCodeWidget(data)
        x0, y0, x1, y1 = widget.getBounds()
        super().__init__(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
        self.add(widget)


@contextmanager
def stock_qr() -> Iterator[None]:
    ours = invoice_pdf.QrCode
    invoice_pdf.QrCode = StockQr  # type: ignore[misc,assignment]
    try:
        yield
    finally:
        invoice_pdf.QrCode = ours  # type: ignore[misc]


def measure() -> list[Figure]:
    subject, settings, now = invoice(), ShopSettings("bench-shop"), datetime.now(UTC)

    def render() -> bytes:
        return pdf_of(subject, settings, now)

    ours = timings(render)
    with stock_qr():
        stock = timings(render)
    median, p95 = statistics.median(ours), statistics.quantiles(ours, n=20)[-1]
    base = statistics.median(stock)
    print("\n=== invoice PDF (ReportLab, 12 lines + QR), 200 renders each ===")
    print(f"ours: median {median:6.2f} ms  p95 {p95:6.2f} ms  ({len(render()):,} bytes)")
    print(f"stock QR widget baseline: median {base:6.2f} ms  → {base / median:4.1f}× faster")
    print(f"goal median ≤ {GOAL_MS:.0f} ms → {'MET' if median <= GOAL_MS else 'NOT MET'}")
    return [
        Figure(
            issue=4,
            name=f"invoice PDF render, median of {RENDERS}",
            value=median,
            unit="ms",
            baseline=base,
            baseline_name="same page, stock ReportLab QR widget",
            higher_is_better=False,
            goals=(Goal(GOAL_MS, at_least=False),),
        )
    ]


def main() -> int:
    return report(measure())


if __name__ == "__main__":
    raise SystemExit(main())
