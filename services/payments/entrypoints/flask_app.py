"""HTTP of the payments service: the customer's pay page (public, by unguessable token) — thin:
translate, dispatch, render."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import uuid
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask, Response, jsonify, render_template, request, send_file
from jinja2 import FileSystemLoader

from services.payments import bootstrap
from services.payments.adapters.figures import FIGURES
from services.payments.adapters.postgres import PooledUnitOfWork
from services.payments.domain.ledger import MINIMUM_PAYMENT_CENTS, NotPayable, PaymentRefused
from services.payments.domain.model import PayableInvoice
from services.payments.entrypoints.schemas import (
    CardSetup,
    PaymentList,
    PaymentOut,
    PaymentStarted,
    StripeWebhookEvent,
)
from services.payments.service_layer import commands, handlers, reconciling, refunds
from services.payments.service_layer.gateway import (
    BadSignature,
    BankDebit,
    CardDeclined,
    MalformedWebhook,
    Mandate,
    PaymentMethodRefused,
)
from shared.contracts import ShopBranding
from shared.http import FieldError, actor, create_app, parse_body, shop_id
from shared.invoice_pdf import LOGO_PREFIXES, PdfInvoice, RenderedPdfs
from shared.limits import limit_view, limiter_for
from shared.metrics import WEBHOOKS_DISBELIEVED, WEBHOOKS_REFUSED, register_figures
from shared.money import format_cents
from shared.openapi import HTML, doc

log = logging.getLogger(__name__)
TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")
CSRF_HEADER = "The pay page's CSRF token (in its HTML): posts without it are refused (403)"
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
STATIC = Path(__file__).resolve().parent.parent / "static"
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
        errors={
            handlers.UnknownPayLink: 404,
            handlers.RevokedPayLink: 410,
            refunds.UnknownPayment: 404,
            handlers.AttemptAlreadyStarted: 409,
            NotPayable: 409,
            PaymentRefused: 422,
            CardDeclined: 402,
            PaymentMethodRefused: 402,
        },
        public=("/p/", "/webhooks/"),
    )
    app.jinja_loader = FileSystemLoader(TEMPLATES)
    _paying_routes(app)
    _staff_routes(app)

    @app.get("/p/<token>")
    @doc(
        "The customer's pay page (public; the token is the secret)",
        media=HTML,
        page_errors=(404, 410),
    )
    def pay_page(token: str) -> Response:
        page = _opened(token)
        if page is None:
            return _not_found(token)
        return _page(render_template("pay.html", **_view(token, page)))

    @app.get("/p/static/pay.js")
    @doc("The pay page's script", media="text/javascript")
    def pay_script() -> Response:
        response = send_file(STATIC / "pay.js", mimetype="text/javascript", max_age=300)
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    @app.get("/p/<token>/pdf")
    @doc(
        "The invoice as a PDF, from the pay page (public)",
        media="application/pdf",
        page_errors=(404, 410),
    )
    def pay_pdf(token: str) -> Response:
        page = _payable(token)
        if page is None:
            return _not_found(token)
        body = RENDERED.render(_pdf(page), _shop(page.invoice))
        name = page.invoice.invoice_number or "invoice"
        return Response(
            body,
            mimetype="application/pdf",
            headers={**PAGE_HEADERS, "Content-Disposition": f'inline; filename="{name}.pdf"'},
        )

    limiter = limiter_for(app, bootstrap.wiring.settings.trusted_proxies)
    for endpoint, rule in PUBLIC_LIMITS.items():
        limit_view(app, limiter, endpoint, rule)
    return app


RENDERED = RenderedPdfs()
"""The pay page's PDFs, by content: a customer opening it again gets the same bytes at once."""

PUBLIC_LIMITS = {
    "pay_page": "120/minute",
    "pay_pdf": "60/minute",
    "start_payment": "30/minute",
    "card_setup": "30/minute",
}
"""Per client address: a customer reloading or paying in parts never meets them; a script
guessing pay links or trying cards does (429, Retry-After)."""


def _paying_routes(app: Flask) -> None:
    @app.post("/p/<token>/payments")
    @doc(
        "Start paying: a PaymentIntent for an amount and method the server allows (public; needs"
        " the page's X-CSRF-Token)",
        body=commands.StartPayment,
        response=PaymentStarted,
        status=201,
        errors=(402, 403, 409, 410, 503),
        headers={"X-CSRF-Token": CSRF_HEADER},
    )
    def start_payment(token: str) -> tuple[Response, int]:
        if TOKEN.fullmatch(token) is None:
            raise handlers.UnknownPayLink(token)
        _check_csrf(token)
        cmd = parse_body(commands.StartPayment)
        started = handlers.start_payment(
            token,
            cmd.attempt,
            cmd.amount_cents,
            cmd.method,
            PooledUnitOfWork(bootstrap.wiring.pool),
            bootstrap.gateway(),
            cmd.payment_method,
            BankDebit(**cmd.bank.model_dump()) if cmd.bank else None,
            Mandate(request.remote_addr or "", request.headers.get("User-Agent", ""))
            if cmd.method == "ach"
            else None,
            save_card=cmd.save_card,
            saved_card=cmd.saved_card,
            clock=bootstrap.utc_now,
        )
        settings = bootstrap.wiring.settings
        body = PaymentStarted(
            charge_id=started.charge_id,
            client_secret=started.client_secret,
            amount_cents=started.amount_cents,
            method=started.method,
            status=started.status,
            publishable_key=settings.stripe_publishable_key,
        )
        return jsonify(body.model_dump()), 201

    @app.post("/p/<token>/card-setup")
    @doc(
        "Before paying by card: a SetupIntent the page confirms with Stripe.js (public; needs"
        " X-CSRF-Token)",
        body=commands.StartCardSetup,
        response=CardSetup,
        status=201,
        errors=(403, 409, 410),
        headers={"X-CSRF-Token": CSRF_HEADER},
    )
    def card_setup(token: str) -> tuple[Response, int]:
        if TOKEN.fullmatch(token) is None:
            raise handlers.UnknownPayLink(token)
        _check_csrf(token)
        cmd = parse_body(commands.StartCardSetup)
        secret = handlers.start_card_setup(
            token,
            cmd.attempt,
            PooledUnitOfWork(bootstrap.wiring.pool),
            bootstrap.gateway(),
            bootstrap.utc_now,
        )
        return jsonify(CardSetup(client_secret=secret).model_dump()), 201

    @app.post("/webhooks/stripe")
    @doc(
        "Stripe's webhooks: signature verified, the object read back from Stripe and acted on only"
        " when it matches the payment we started; each event id acted on once",
        body=StripeWebhookEvent,
        headers={"Stripe-Signature": "Stripe's signature of the body with the endpoint's secret"},
        errors=(409, 503),
    )
    def stripe_webhook() -> tuple[Response, int]:
        signature = request.headers.get("Stripe-Signature", "")
        gateway = bootstrap.gateway()
        try:
            notice = gateway.verify(request.get_data(), signature)
            if notice is not None:
                reconciling.when_stripe_reports(
                    notice, PooledUnitOfWork(bootstrap.wiring.pool), gateway, bootstrap.utc_now
                )
                _give_back_now()
        except BadSignature as exc:
            WEBHOOKS_REFUSED.labels("stripe").inc()
            raise WebhookRefused("Stripe-Signature", "missing, wrong or too old") from exc
        except MalformedWebhook as exc:
            WEBHOOKS_DISBELIEVED.labels("stripe", exc.field).inc()
            raise WebhookRefused(exc.field, exc.reason) from exc
        except reconciling.WebhookRefused as exc:
            WEBHOOKS_DISBELIEVED.labels("stripe", exc.field).inc()
            raise WebhookDisbelieved(exc.field, exc.reason) from exc
        return jsonify(received=True), 200


def _give_back_now() -> None:
    """Money a webhook showed to be kept for nothing goes back at once (the worker's pass is the
    safety net when this fails)."""
    try:
        refunds.give_back_money_kept(
            lambda: PooledUnitOfWork(bootstrap.wiring.pool), bootstrap.gateway(), bootstrap.utc_now
        )
    except Exception:  # Stripe or the database is away: the worker gives it back
        log.warning("giving back money at once failed", exc_info=True)


def _staff_routes(app: Flask) -> None:
    @app.get("/payments")
    @doc(
        "The payments made on one of the shop's invoices (for refunds)",
        response=PaymentList,
        query={"invoice_id": "the invoice"},
    )
    def list_payments() -> tuple[Response, int]:
        invoice_id = request.args.get("invoice_id", "")
        with PooledUnitOfWork(bootstrap.wiring.pool) as uow:
            charges = [c for c in uow.charges.for_invoice(invoice_id) if c.shop_id == shop_id()]
        items = [PaymentOut.of(charge) for charge in charges]
        return jsonify(PaymentList(items=items).model_dump()), 200

    @app.post("/payments/<charge_id>/refunds")
    @doc(
        "Refund all or part of a payment (owner only in the staff app; send an Idempotency-Key"
        " header); publishes RefundIssued",
        body=commands.Refund,
        response=PaymentOut,
        status=201,
        errors=(409,),
    )
    def refund(charge_id: str) -> tuple[Response, int]:
        cmd = parse_body(commands.Refund)
        charge = refunds.refund_payment(
            shop_id(),
            charge_id,
            cmd.amount_cents,
            cmd.reason,
            actor(),
            PooledUnitOfWork(bootstrap.wiring.pool),
            bootstrap.gateway(),
            bootstrap.utc_now,
            request_key=_idempotency_key(),
            kind=cmd.kind,
        )
        return jsonify(PaymentOut.of(charge).model_dump()), 201


IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{8,128}")


def _idempotency_key() -> str | None:
    """The staff app sends one per refund form: a retried request is the same refund."""
    key = request.headers.get("Idempotency-Key")
    if key is not None and IDEMPOTENCY_KEY.fullmatch(key) is None:
        raise FieldError("Idempotency-Key", "must be 8-128 printable characters")
    return key


def csrf_token(pay_token: str) -> str:
    """The page's CSRF token: bound to its pay link, keyed by a server secret."""
    secret = bootstrap.wiring.settings.pay_page_secret.encode()
    return hmac.new(secret, f"csrf:{pay_token}".encode(), hashlib.sha256).hexdigest()[:32]


class WebhookRefused(FieldError):
    """Not signed by Stripe with our secret, or replayed too late."""

    status = 400


class WebhookDisbelieved(FieldError):
    """Signed, but not what Stripe holds or not a payment we started: acted on not at all."""

    status = 409


class CsrfRefused(FieldError):
    """Not posted by the pay page itself."""

    status = 403


def _check_csrf(pay_token: str) -> None:
    supplied = request.headers.get("X-CSRF-Token", "")
    if not hmac.compare_digest(supplied, csrf_token(pay_token)):
        raise CsrfRefused("X-CSRF-Token", "missing or wrong: reload the page")
    origin = request.headers.get("Origin")
    if origin and origin != request.host_url.rstrip("/"):
        raise CsrfRefused("Origin", "the request did not come from the pay page")


def _opened(token: str) -> handlers.PayPage | None:
    if TOKEN.fullmatch(token) is None:
        return None
    return handlers.open_pay_link(
        token,
        request.method,
        request.headers.get("User-Agent", ""),
        PooledUnitOfWork(bootstrap.wiring.pool),
        bootstrap.utc_now,
    )


def _payable(token: str) -> handlers.PayPage | None:
    if TOKEN.fullmatch(token) is None:
        return None
    return handlers.read_pay_page(token, PooledUnitOfWork(bootstrap.wiring.pool))


def _view(token: str, page: handlers.PayPage) -> dict[str, object]:
    invoice, ledger = page.invoice, page.ledger
    assert invoice.totals is not None
    shop = _shop(invoice)
    logo = shop.logo_url if shop.logo_url and shop.logo_url.startswith(LOGO_PREFIXES) else None
    money = ledger.balance(invoice)
    owed = ledger.payable_now(invoice, bootstrap.utc_now())
    settings = bootstrap.wiring.settings
    return {
        "invoice": invoice,
        "token": token,
        "shop": shop,
        "logo": logo,
        "voided": invoice.voided_at is not None,
        "due": f"{invoice.due_date:%b %d, %Y}" if invoice.due_date else "on receipt",
        "paid": money.paid_cents - money.refunded_cents,
        "balance": money.balance_cents,
        "owed": owed,
        "clearing": ledger.clearing_cents,
        "minimum": min(owed, MINIMUM_PAYMENT_CENTS),
        "can_pay": invoice.payable and owed > 0,
        "methods": invoice.allowed_payment_methods,
        "saved_cards": page.saved_cards if "card" in invoice.allowed_payment_methods else [],
        "csrf": csrf_token(token),
        "attempt": uuid.uuid4().hex,
        "publishable_key": settings.stripe_publishable_key,
        "stripe_js": settings.stripe_js_url,
        "money": format_cents,
        "qty": lambda d: f"{Decimal(d).normalize():f}",
        "pdf_url": f"/p/{token}/pdf",
    }


def _pdf(page: handlers.PayPage) -> PdfInvoice:
    invoice, money = page.invoice, page.ledger.balance(page.invoice)
    assert invoice.customer and invoice.service_address and invoice.totals and invoice.due_date
    paid = money.paid_cents - money.refunded_cents
    status = (
        "paid" if paid > 0 and money.balance_cents <= 0 else "partially paid" if paid else "sent"
    )
    return PdfInvoice(
        number=invoice.invoice_number,
        issued=invoice.sent_at,
        due=invoice.due_date,
        status="void" if invoice.voided_at else status,
        currency="USD",
        customer_name=invoice.customer.name,
        bill_to=invoice.customer.billing_address,
        service_address=invoice.service_address,
        lines=invoice.lines,
        totals=invoice.totals,
        paid_cents=paid,
        balance_cents=0 if invoice.voided_at else money.balance_cents,
        pay_url=invoice.pay_url,
    )


def _shop(invoice: PayableInvoice) -> ShopBranding:
    return invoice.shop or ShopBranding(name=invoice.shop_id)


def _page(html: str) -> Response:
    return Response(html, mimetype="text/html", headers={**PAGE_HEADERS, **_pay_csp()})


def _pay_csp() -> dict[str, str]:
    """The page may load Stripe.js and talk to Stripe; nothing else from elsewhere."""
    settings = bootstrap.wiring.settings
    stripe_js = _origin(settings.stripe_js_url)
    stripe_api = _origin(settings.stripe_api_base or "https://api.stripe.com")
    policy = (
        f"default-src 'none'; script-src 'self' {stripe_js}; "
        f"connect-src 'self' {stripe_js} {stripe_api}; "
        f"frame-src {stripe_js} https://hooks.stripe.com; style-src 'unsafe-inline'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
    return {"Content-Security-Policy": policy}


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _not_found(token: str) -> Response:
    """The same plain page for a malformed and an unknown token: it reveals nothing. A link staff
    revoked says only that it is no longer valid and to ask the business for a new one (410):
    no shop, number or amount — whoever holds it may not be the customer."""
    if TOKEN.fullmatch(token) and handlers.is_revoked_pay_link(
        token, PooledUnitOfWork(bootstrap.wiring.pool)
    ):
        html = render_template("link_revoked.html")
        return Response(html, 410, mimetype="text/html", headers=PAGE_HEADERS)
    return Response(
        render_template("not_found.html"), 404, mimetype="text/html", headers=PAGE_HEADERS
    )


app = build_app()
WEBHOOKS_REFUSED.labels("stripe")
for _field in ("data.object", "data.object.id", "data.object.metadata", "type"):
    WEBHOOKS_DISBELIEVED.labels("stripe", _field)
register_figures(bootstrap.wiring.opened_pool, FIGURES)
