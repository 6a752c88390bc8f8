"""The invoice PDF: the same figures as the invoice, the pay link and its QR code, the logo only
when embedded (never fetched)."""

from __future__ import annotations

import base64
import io
import zlib
from datetime import UTC, datetime

import pytest
from pypdf import PdfReader
from reportlab.graphics.barcode.qr import QrCodeWidget

from services.invoicing.domain.model import Invoice
from services.invoicing.domain.settings import ShopSettings
from services.invoicing.service_layer.handlers import pdf_of
from shared.invoice_pdf import QrCode
from tests.unit import builders

pytestmark = pytest.mark.unit
NOW = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)
URL = "https://pay.example.com/p/Zm9vYmFyYmF6cXV4MTIzNDU2Nzg"


def png_1x1() -> str:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    raw = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", bytes([0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0]))
    raw += chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b"")
    return "data:image/png;base64," + base64.b64encode(raw).decode()


def sent_invoice() -> Invoice:
    invoice = Invoice("inv-1")
    invoice.draft_from_closed_job(builders.job_closed("job-1"), NOW, 500_000)
    invoice.number, invoice.sent_at, invoice.pay_url = "INV-2026-000007", NOW, URL
    return invoice


def text_and_images(pdf: bytes) -> tuple[str, int]:
    page = PdfReader(io.BytesIO(pdf)).pages[0]
    return page.extract_text(), len(page.images)


def test_the_pdf_shows_the_invoices_own_figures_and_link() -> None:
    invoice = sent_invoice()
    text, images = text_and_images(pdf_of(invoice, ShopSettings("northwind-hvac"), NOW))
    assert "Northwind Hvac" in text and "Invoice INV-2026-000007" in text
    assert "Due Apr 01, 2026" in text
    for label, cents in [("Subtotal", 157400), ("Tax", 9418), ("Total", 166818)]:
        assert f"{label}\n${cents // 100:,}.{cents % 100:02d}" in text
    assert URL in text.replace("\n", "") and images == 0


def test_a_data_url_logo_is_embedded_and_a_web_address_is_never_fetched() -> None:
    invoice = sent_invoice()
    embedded = ShopSettings("s", logo_url=png_1x1())
    assert text_and_images(pdf_of(invoice, embedded, NOW))[1] == 1
    remote = ShopSettings("s", logo_url="https://203.0.113.1/logo.png")  # unroutable: would hang
    assert text_and_images(pdf_of(invoice, remote, NOW))[1] == 0


def test_the_qr_code_encodes_the_link_like_reportlabs_own_widget() -> None:
    ours = QrCode(URL, 72)
    code = QrCodeWidget(URL, barLevel="M").qr  # type: ignore[attr-defined]
    code.make()
    assert ours.modules == [[bool(m) for m in row] for row in code.modules]
