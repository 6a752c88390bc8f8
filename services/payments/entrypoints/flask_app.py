"""HTTP of the payments service: the customer's pay page (public, by unguessable token) — thin:
translate, dispatch, render."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

from flask import Flask, Response, render_template, request
from jinja2 import FileSystemLoader

from services.payments import bootstrap
from services.payments.adapters.postgres import PooledUnitOfWork
from services.payments.domain.model import PayableInvoice
from services.payments.service_layer import handlers
from shared.contracts import ShopBranding
from shared.http import create_app
from shared.invoice_pdf import LOGO_PREFIXES, PdfInvoice
from shared.invoice_pdf import render as render_pdf
from shared.money import format_cents
from shared.openapi import doc

TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
}


def build_app() -> Flask:
    app = create_app(
        bootstrap.SERVICE,
        bootstrap.wiring.settings.internal_api_token,
        bootstrap.wiring.ready,
        public=("/p/",),
    )
    app.jinja_loader = FileSystemLoader(TEMPLATES)

    @app.get("/p/<token>")
    @doc("The customer's pay page (public; the token is the secret)")
    def pay_page(token: str) -> Response:
        invoice = _opened(token)
        if invoice is None:
            return _not_found()
        return _page(render_template("pay.html", **_view(invoice)))

    @app.get("/p/<token>/pdf")
    @doc("The invoice as a PDF, from the pay page (public)")
    def pay_pdf(token: str) -> Response:
        invoice = _payable(token)
        if invoice is None:
            return _not_found()
        body = render_pdf(_pdf(invoice), _shop(invoice))
        name = invoice.invoice_number or "invoice"
        return Response(
            body,
            mimetype="application/pdf",
            headers={**PAGE_HEADERS, "Content-Disposition": f'inline; filename="{name}.pdf"'},
        )

    return app


def _opened(token: str) -> PayableInvoice | None:
    if TOKEN.fullmatch(token) is None:
        return None
    return handlers.open_pay_link(
        token,
        request.method,
        request.headers.get("User-Agent", ""),
        PooledUnitOfWork(bootstrap.wiring.pool),
        bootstrap.utc_now,
    )


def _payable(token: str) -> PayableInvoice | None:
    if TOKEN.fullmatch(token) is None:
        return None
    with PooledUnitOfWork(bootstrap.wiring.pool) as uow:
        row = uow.conn.execute(
            "SELECT invoice_id FROM payable_invoices WHERE pay_token = %s", (token,)
        ).fetchone()
        return uow.invoices.get(row[0]) if row else None


def _view(invoice: PayableInvoice) -> dict[str, object]:
    assert invoice.totals is not None
    shop = _shop(invoice)
    logo = shop.logo_url if shop.logo_url and shop.logo_url.startswith(LOGO_PREFIXES) else None
    return {
        "invoice": invoice,
        "shop": shop,
        "logo": logo,
        "voided": invoice.voided_at is not None,
        "due": f"{invoice.due_date:%b %d, %Y}" if invoice.due_date else "on receipt",
        "paid": 0,
        "balance": invoice.totals.total_cents,
        "money": format_cents,
        "qty": lambda d: f"{Decimal(d).normalize():f}",
        "pdf_url": f"/p/{invoice.pay_token}/pdf",
    }


def _pdf(invoice: PayableInvoice) -> PdfInvoice:
    assert invoice.customer and invoice.service_address and invoice.totals and invoice.due_date
    return PdfInvoice(
        number=invoice.invoice_number,
        issued=invoice.sent_at,
        due=invoice.due_date,
        status="void" if invoice.voided_at else "sent",
        currency="USD",
        customer_name=invoice.customer.name,
        bill_to=invoice.customer.billing_address,
        service_address=invoice.service_address,
        lines=invoice.lines,
        totals=invoice.totals,
        paid_cents=0,
        balance_cents=0 if invoice.voided_at else invoice.totals.total_cents,
        pay_url=invoice.pay_url,
    )


def _shop(invoice: PayableInvoice) -> ShopBranding:
    return invoice.shop or ShopBranding(name=invoice.shop_id)


def _page(html: str) -> Response:
    return Response(html, mimetype="text/html", headers=PAGE_HEADERS)


def _not_found() -> Response:
    """The same plain page for a malformed and an unknown token: it reveals nothing."""
    return Response(
        render_template("not_found.html"), 404, mimetype="text/html", headers=PAGE_HEADERS
    )


app = build_app()
