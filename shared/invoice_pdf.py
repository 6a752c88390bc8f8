"""The invoice as a PDF (ReportLab): the shop's name, logo and colour, bill-to and service
address, lines, tax, totals, due date, the pay link and a QR code for it. Every figure is one
the invoice already computed; nothing is calculated here. Invoicing renders it from its
aggregate, payments and notifications from their copies of InvoiceSent: the same page for all."""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import itertools
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime
from xml.sax.saxutils import escape

from pydantic import TypeAdapter
from reportlab.graphics.barcode import qrencoder
from reportlab.lib import colors
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import inch
from reportlab.platypus import (
    Flowable,
    Image,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from shared.contracts import Address, InvoiceLine, InvoiceTotals, ShopBranding
from shared.money import format_cents

STYLES = getSampleStyleSheet()
SMALL = ParagraphStyle("small", parent=STYLES["Normal"], fontSize=9, leading=11)
LOGO_PREFIXES = ("data:image/png;base64,", "data:image/jpeg;base64,")


@dataclass(frozen=True)
class PdfInvoice:
    """What the page shows, as the invoice's owner computed it."""

    number: str | None
    issued: datetime | None
    due: date
    status: str
    currency: str
    customer_name: str
    bill_to: Address
    service_address: Address
    lines: list[InvoiceLine]
    totals: InvoiceTotals
    paid_cents: int
    """Net of refunds."""
    balance_cents: int
    pay_url: str | None


class RenderedPdfs:
    """PDFs already rendered, by the exact content they show: the key is a SHA-256 of every
    field of the invoice's page and of the shop's branding, so a payment, a refund, a void, a
    new pay link or new branding is a new key (never a stale page), and no two invoices share
    one. Bounded by bytes, least recently used out first; safe across request threads."""

    def __init__(self, max_bytes: int = 16 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._pdfs: OrderedDict[bytes, bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def render(self, invoice: PdfInvoice, shop: ShopBranding) -> bytes:
        key = content_key(invoice, shop)
        with self._lock:
            found = self._pdfs.get(key)
            if found is not None:
                self._pdfs.move_to_end(key)
                return found
        body = render(invoice, shop)
        self._keep(key, body)
        return body

    def _keep(self, key: bytes, body: bytes) -> None:
        with self._lock:
            if key in self._pdfs or len(body) > self.max_bytes:
                return
            self._pdfs[key] = body
            self._bytes += len(body)
            while self._bytes > self.max_bytes:
                _, dropped = self._pdfs.popitem(last=False)
                self._bytes -= len(dropped)

    def __len__(self) -> int:
        return len(self._pdfs)


_PAGE = TypeAdapter(PdfInvoice)


def content_key(invoice: PdfInvoice, shop: ShopBranding) -> bytes:
    """Everything render() reads, as one digest."""
    page = _PAGE.dump_json(invoice)
    return hashlib.sha256(page + b"\x00" + shop.model_dump_json().encode()).digest()


def render(invoice: PdfInvoice, shop: ShopBranding) -> bytes:
    brand = colors.HexColor(shop.color)
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=LETTER,
        leftMargin=0.6 * inch,
        rightMargin=0.6 * inch,
        topMargin=0.5 * inch,
        bottomMargin=0.5 * inch,
        title=f"Invoice {invoice.number or '(draft)'}",
        author=shop.name,
    )
    story = [
        _header(invoice, shop, brand),
        Spacer(1, 12),
        _addresses(invoice.customer_name, invoice.bill_to, invoice.service_address),
        Spacer(1, 12),
        _lines(invoice, brand),
        Spacer(1, 8),
        _totals(invoice),
    ]
    if invoice.pay_url:
        story += [Spacer(1, 14), _pay(invoice.pay_url, shop.color)]
    doc.build(story)
    return out.getvalue()


def _header(invoice: PdfInvoice, shop: ShopBranding, brand: colors.Color) -> Table:
    name = Paragraph(
        f'<font size="18" color="{shop.color}"><b>{escape(shop.name)}</b></font>',
        STYLES["Normal"],
    )
    facts = [
        f"<b>Invoice {escape(invoice.number or 'DRAFT')}</b>",
        f"Issued {invoice.issued:%b %d, %Y}" if invoice.issued else "Not sent yet",
        f"Due {invoice.due:%b %d, %Y}",
        f"Status: {escape(invoice.status.replace('_', ' '))}",
    ]
    right = Paragraph("<br/>".join(facts), ParagraphStyle("r", parent=SMALL, alignment=2))
    left: list[object] = [name]
    logo = _logo(shop.logo_url)
    if logo is not None:
        left = [logo, name]
    table = Table([[left, right]], colWidths=[4.3 * inch, 3.0 * inch])
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, 0), 2, brand),
                ("BOTTOMPADDING", (0, 0), (-1, 0), 8),
            ]
        )
    )
    return table


def _logo(logo_url: str | None) -> Image | None:
    """A logo given as a data URL is embedded; a web address is never fetched while rendering."""
    if not logo_url or not logo_url.startswith(LOGO_PREFIXES):
        return None
    try:
        data = base64.b64decode(logo_url.split(",", 1)[1], validate=True)
        image = Image(io.BytesIO(data), width=1.2 * inch, height=0.6 * inch, kind="proportional")
    except (binascii.Error, OSError, ValueError):
        return None
    return image


def _addresses(customer: str, bill_to: Address, service: Address) -> Table:
    def block(title: str, name: str, address: Address) -> Paragraph:
        lines = [f"<b>{title}</b>", escape(name), escape(address.line1)]
        if address.line2:
            lines.append(escape(address.line2))
        lines.append(escape(f"{address.city}, {address.region} {address.postal_code}"))
        return Paragraph("<br/>".join(lines), SMALL)

    table = Table(
        [[block("Bill to", customer, bill_to), block("Service address", "", service)]],
        colWidths=[3.65 * inch, 3.65 * inch],
    )
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    return table


def _lines(invoice: PdfInvoice, brand: colors.Color) -> Table:
    rows: list[list[object]] = [["Description", "Qty", "Unit price", "Tax", "Amount"]]
    for line in invoice.lines:
        tax = f"{line.tax_rate_percent.normalize():f}%" if line.taxable else "exempt"
        rows.append(
            [
                Paragraph(escape(line.description), SMALL),
                f"{line.quantity.normalize():f}",
                format_cents(line.unit_price_cents, invoice.currency),
                tax,
                format_cents(line.subtotal_cents, invoice.currency),
            ]
        )
    table = Table(
        rows,
        colWidths=[3.6 * inch, 0.6 * inch, 1.1 * inch, 0.8 * inch, 1.2 * inch],
        repeatRows=1,
    )
    table.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, 0), brand),
                ("TEXTCOLOR", (0, 0), (-1, 0), colors.white),
                ("FONTSIZE", (0, 0), (-1, -1), 9),
                ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.lightgrey),
            ]
        )
    )
    return table


def _totals(invoice: PdfInvoice) -> Table:
    totals, currency = invoice.totals, invoice.currency
    rows = [
        ["Subtotal", format_cents(totals.subtotal_cents, currency)],
        ["Tax", format_cents(totals.tax_cents, currency)],
        ["Total", format_cents(totals.total_cents, currency)],
    ]
    if invoice.paid_cents:
        rows.append(["Paid", format_cents(invoice.paid_cents, currency)])
    rows.append(["Balance due", format_cents(invoice.balance_cents, currency)])
    table = Table(rows, colWidths=[1.4 * inch, 1.3 * inch], hAlign="RIGHT")
    table.setStyle(
        TableStyle(
            [
                ("ALIGN", (1, 0), (1, -1), "RIGHT"),
                ("FONTSIZE", (0, 0), (-1, -1), 10),
                ("FONTNAME", (0, -1), (-1, -1), "Helvetica-Bold"),
                ("LINEABOVE", (0, -1), (-1, -1), 1, colors.black),
            ]
        )
    )
    return table


def _pay(pay_url: str, color: str) -> Table:
    text = Paragraph(
        f'<font color="{color}"><b>Pay online</b></font>'
        f"<br/>Card or bank debit, from your phone:<br/>"
        f'<link href="{escape(pay_url)}">{escape(pay_url)}</link>',
        STYLES["Normal"],
    )
    table = Table([[QrCode(pay_url, 1.1 * inch), text]], colWidths=[1.3 * inch, 6.0 * inch])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE")]))
    return table


class QrCode(Flowable):
    """The pay link as a QR code, drawn straight on the canvas one run of dark modules at a
    time (ReportLab's QR widget builds a shape per module and takes most of a render)."""

    BORDER = 2

    def __init__(self, data: str, size: float) -> None:
        super().__init__()
        code = qrencoder.QRCode(None, qrencoder.QRErrorCorrectLevel.M)
        code.addData(data)
        code.make()
        self.modules: list[list[bool]] = [[bool(m) for m in row] for row in code.modules]
        self.size = size
        self.width = self.height = size

    def draw(self) -> None:
        count = len(self.modules) + 2 * self.BORDER
        box = self.size / count
        canvas = self.canv
        canvas.setFillColor(colors.black)
        for r, row in enumerate(self.modules):
            y = self.size - (r + self.BORDER + 1) * box
            c = 0
            for dark, run in itertools.groupby(row):
                length = len(list(run))
                if dark:
                    canvas.rect((c + self.BORDER) * box, y, length * box, box, stroke=0, fill=1)
                c += length
