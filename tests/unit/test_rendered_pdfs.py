"""The pay page's rendered PDFs, kept by content: the same page again is the same bytes without
rendering; any change to what the page shows (a payment, a void, the shop's branding, another
invoice) is a page of its own; the store stays within its bytes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from services.invoicing.domain.model import Invoice
from shared import invoice_pdf
from shared.contracts import ShopBranding
from shared.invoice_pdf import PdfInvoice, RenderedPdfs
from tests.unit import builders

pytestmark = pytest.mark.unit
NOW = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)
SHOP = ShopBranding(name="Northwind HVAC")


def page(invoice_id: str = "inv-1", number: str = "INV-2026-000007") -> PdfInvoice:
    invoice = Invoice(invoice_id)
    invoice.draft_from_closed_job(builders.job_closed("job-1"), NOW, 500_000)
    assert invoice.customer is not None and invoice.service_address is not None
    totals = invoice.totals()
    return PdfInvoice(
        number=number,
        issued=NOW,
        due=NOW.date(),
        status="sent",
        currency="USD",
        customer_name=invoice.customer.name,
        bill_to=invoice.customer.billing_address,
        service_address=invoice.service_address,
        lines=invoice.lines,
        totals=totals,
        paid_cents=0,
        balance_cents=totals.total_cents,
        pay_url=f"https://pay.example.com/p/{invoice_id}-token-0123456789",
    )


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every real render, by invoice number and status."""
    done: list[str] = []
    real = invoice_pdf.render

    def counted(invoice: PdfInvoice, shop: ShopBranding) -> bytes:
        done.append(f"{invoice.number} {invoice.status}")
        return real(invoice, shop)

    monkeypatch.setattr(invoice_pdf, "render", counted)
    return done


def test_the_same_page_again_is_the_same_bytes_without_rendering(renders: list[str]) -> None:
    pdfs = RenderedPdfs()
    first = pdfs.render(page(), SHOP)
    again = pdfs.render(page(), SHOP)
    assert again == first and first.startswith(b"%PDF")
    assert renders == ["INV-2026-000007 sent"]


def test_whatever_the_page_shows_changing_is_a_page_of_its_own(renders: list[str]) -> None:
    pdfs = RenderedPdfs()
    sent = page()
    pdfs.render(sent, SHOP)
    paid = replace(sent, status="paid", paid_cents=sent.balance_cents, balance_cents=0)
    pdfs.render(paid, SHOP)
    pdfs.render(replace(sent, status="void", balance_cents=0), SHOP)
    pdfs.render(sent, ShopBranding(name="Northwind HVAC", color="#aa0000"))
    pdfs.render(replace(sent, pay_url=f"{sent.pay_url}x"), SHOP)
    pdfs.render(page("inv-2", "INV-2026-000008"), SHOP)
    assert renders[:3] == ["INV-2026-000007 sent", "INV-2026-000007 paid", "INV-2026-000007 void"]
    assert len(renders) == 6 and len(pdfs) == 6


def test_another_invoice_never_gets_this_ones_pdf() -> None:
    pdfs = RenderedPdfs()
    mine = pdfs.render(page("inv-1", "INV-2026-000007"), SHOP)
    theirs = pdfs.render(page("inv-2", "INV-2026-000008"), ShopBranding(name="Cedar Electric"))
    assert mine != theirs and invoice_pdf.content_key(
        page("inv-1", "INV-2026-000007"), SHOP
    ) != invoice_pdf.content_key(page("inv-2", "INV-2026-000008"), SHOP)


def test_the_store_keeps_within_its_bytes_least_recently_used_out_first(
    renders: list[str],
) -> None:
    one = len(invoice_pdf.render(page(), SHOP))
    renders.clear()
    pdfs = RenderedPdfs(max_bytes=int(one * 2.5))
    for n in range(3):
        pdfs.render(page(f"inv-{n}", f"INV-2026-00000{n}"), SHOP)
    assert len(pdfs) == 2  # 0 went out
    pdfs.render(page("inv-1", "INV-2026-000001"), SHOP)  # kept: no render, now the freshest
    pdfs.render(page("inv-3", "INV-2026-000003"), SHOP)  # 2 goes out, not 1
    pdfs.render(page("inv-1", "INV-2026-000001"), SHOP)
    pdfs.render(page("inv-0", "INV-2026-000000"), SHOP)
    assert renders[3:] == ["INV-2026-000003 sent", "INV-2026-000000 sent"]
