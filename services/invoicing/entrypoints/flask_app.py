"""HTTP API of the invoicing service: translate, dispatch, map errors. No business rules here."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace

from flask import Flask, Response, g, jsonify, request
from pydantic import BaseModel
from werkzeug.exceptions import NotFound

from services.invoicing import bootstrap, views
from services.invoicing.adapters.figures import FIGURES
from services.invoicing.adapters.postgres import PooledUnitOfWork
from services.invoicing.domain.model import (
    AlreadySent,
    BelowAmountPaid,
    CannotReplacePayLink,
    CannotSend,
    CannotVoid,
    Edit,
    Invoice,
    InvoiceAlreadyExists,
    InvoiceStatus,
    LineInput,
    NotEditable,
    OutOfBounds,
    UnknownInvoice,
    UnknownLine,
)
from services.invoicing.domain.settings import ShopSettings
from services.invoicing.domain.timeline import timeline
from services.invoicing.entrypoints.schemas import (
    InvoiceOut,
    InvoicePage,
    SettingsOut,
    Timeline,
    TimelineEntry,
)
from services.invoicing.service_layer import commands, handlers
from shared import eventstore
from shared.eventstore import ConcurrencyConflict, EventTooLarge
from shared.http import FieldError, actor, create_app, parse_body, query_choice, reply, shop_id
from shared.metrics import register_figures
from shared.openapi import doc, one_of
from shared.pagination import PAGE_QUERY, page_of, requested_page

STATUSES = frozenset(s.value for s in InvoiceStatus if s is not InvoiceStatus.NONE)
ACTOR_NOTE = "X-Actor names the staff member (the timeline's who)"


def build_app() -> Flask:
    app = create_app(
        bootstrap.SERVICE,
        bootstrap.wiring.settings.internal_api_token,
        bootstrap.wiring.ready,
        errors={
            UnknownInvoice: 404,
            UnknownLine: 404,
            handlers.UnknownEstimate: 404,
            NotEditable: 409,
            BelowAmountPaid: 409,
            AlreadySent: 409,
            CannotVoid: 409,
            CannotReplacePayLink: 409,
            InvoiceAlreadyExists: 409,
            ConcurrencyConflict: 409,
            EventTooLarge: 413,
        },
    )

    @app.errorhandler(OutOfBounds)
    def out_of_bounds(exc: OutOfBounds) -> tuple[Response, int]:
        fields = [{"field": exc.field, "reason": exc.reason}]
        body = {"error": "validation_failed", "fields": fields, "message": str(exc)}
        return jsonify(body), 422

    @app.errorhandler(CannotSend)
    def cannot_send(exc: CannotSend) -> tuple[Response, int]:
        fields = [{"field": code, "reason": message} for code, message in exc.problems]
        body = {"error": "cannot_send", "fields": fields, "message": "fix the errors, then send"}
        return jsonify(body), 422

    _read_routes(app)
    _draft_routes(app)
    _edit_routes(app)
    _lifecycle_routes(app)
    _settings_routes(app)
    return app


def _read_routes(app: Flask) -> None:
    @app.get("/invoices")
    @doc(
        "Invoices oldest first (the queue's order), keyset-paginated",
        response=InvoicePage,
        query={
            "status": one_of("only this status", STATUSES),
            "job_id": "only the invoice drafted from this job",
            "customer_id": "only this customer's invoices",
            "q": "part of the invoice number or customer name, any case",
            **PAGE_QUERY,
        },
    )
    def list_invoices() -> tuple[Response, int]:
        status = query_choice("status", STATUSES)
        limit, after = requested_page(request.args)
        with PooledUnitOfWork(bootstrap.wiring.pool) as uow:
            today = uow.settings.get(shop_id()).today(bootstrap.utc_now())
            items = views.list_invoices(
                uow.conn,
                shop_id(),
                today=today,
                status=status,
                limit=limit,
                after=after,
                job_id=request.args.get("job_id") or None,
                customer_id=request.args.get("customer_id") or None,
                search=request.args.get("q") or None,
            )
        return _reply(InvoicePage.model_validate(page_of(items, limit, views.INVOICES)))

    @app.get("/invoices/<invoice_id>")
    @doc(
        "One invoice: lines, totals, balance, status and the review before Send",
        response=InvoiceOut,
    )
    def get_invoice(invoice_id: str) -> tuple[Response, int]:
        with PooledUnitOfWork(bootstrap.wiring.pool) as uow:
            invoice = _existing(uow, invoice_id)
            settings = uow.settings.get(shop_id())
        return _reply(_out(invoice, settings))

    @app.get("/invoices/<invoice_id>/timeline")
    @doc("The invoice's history in plain words: who did what, when", response=Timeline)
    def get_timeline(invoice_id: str) -> tuple[Response, int]:
        with PooledUnitOfWork(bootstrap.wiring.pool) as uow:
            history = [s.envelope.event for s in eventstore.load(uow.conn, invoice_id)]
        _visible(Invoice.from_history(invoice_id, history), invoice_id)  # read once, not twice
        entries = [TimelineEntry.of(entry) for entry in timeline(history)]
        return _reply(Timeline(items=entries))

    @app.get("/invoices/<invoice_id>/pdf")
    @doc("The invoice as a PDF (what the customer gets by email)", media="application/pdf")
    def get_pdf(invoice_id: str) -> Response:
        with PooledUnitOfWork(bootstrap.wiring.pool) as uow:
            invoice = _existing(uow, invoice_id)
            settings = uow.settings.get(shop_id())
        body = handlers.pdf_of(invoice, settings, bootstrap.utc_now())
        name = invoice.number or f"draft-{invoice.invoice_id[:8]}"
        return Response(
            body,
            mimetype="application/pdf",
            headers={"Content-Disposition": f'inline; filename="{name}.pdf"'},
        )


def _draft_routes(app: Flask) -> None:
    @app.post("/invoices")
    @doc(
        f"+ New Invoice from scratch (one-off charges); {ACTOR_NOTE}",
        body=commands.CreateInvoice,
        response=InvoiceOut,
        status=201,
        errors=(413,),
    )
    def create_invoice() -> tuple[Response, int]:
        cmd = parse_body(commands.CreateInvoice)
        lines = [LineInput(**line.model_dump()) for line in cmd.lines]
        invoice = handlers.draft_from_scratch(
            _request(),
            str(uuid.uuid4()),
            cmd.customer,
            cmd.service_address,
            lines,
            _uow(),
            bootstrap.utc_now,
        )
        return _reply_invoice(invoice, 201)

    @app.post("/invoices/from-estimate")
    @doc(
        "+ Invoice on an approved estimate (again: true makes another one); 200 with the invoice"
        " already made from it",
        body=commands.InvoiceFromEstimate,
        response=InvoiceOut,
        status=201,
        also=(200,),
    )
    def from_estimate() -> tuple[Response, int]:
        cmd = parse_body(commands.InvoiceFromEstimate)
        try:
            invoice, made = handlers.draft_from_estimate(
                _request(), cmd.estimate_id, cmd.again, _uow(), bootstrap.utc_now
            )
        except handlers.UnknownEstimate as exc:
            raise FieldError("estimate_id", "no approved estimate with this id") from exc
        return _reply_invoice(invoice, 201 if made else 200)


def _edit_routes(app: Flask) -> None:
    def edit(invoice_id: str, change: Callable[[Invoice, Edit], None]) -> tuple[Response, int]:
        invoice = handlers.edit_invoice(_request(), invoice_id, change, _uow(), bootstrap.utc_now)
        return _reply_invoice(invoice)

    @app.put("/invoices/<invoice_id>/bill-to")
    @doc(
        "Change the bill-to address",
        body=commands.ChangeAddress,
        response=InvoiceOut,
        errors=(409,),
    )
    def change_bill_to(invoice_id: str) -> tuple[Response, int]:
        cmd = parse_body(commands.ChangeAddress)
        return edit(invoice_id, lambda inv, e: inv.change_bill_to(cmd.address, e))

    @app.put("/invoices/<invoice_id>/service-address")
    @doc(
        "Change the service address",
        body=commands.ChangeAddress,
        response=InvoiceOut,
        errors=(409,),
    )
    def change_service_address(invoice_id: str) -> tuple[Response, int]:
        cmd = parse_body(commands.ChangeAddress)
        return edit(invoice_id, lambda inv, e: inv.change_service_address(cmd.address, e))

    @app.post("/invoices/<invoice_id>/lines")
    @doc("Add a line", body=commands.LineIn, response=InvoiceOut, errors=(409,))
    def add_line(invoice_id: str) -> tuple[Response, int]:
        line = LineInput(**parse_body(commands.LineIn).model_dump())
        line_id = str(uuid.uuid4())
        return edit(invoice_id, lambda inv, e: inv.add_line(line_id, line, e))

    @app.patch("/invoices/<invoice_id>/lines/<line_id>")
    @doc(
        "Change a line (price, quantity, tax or exemption)",
        body=commands.LineChange,
        response=InvoiceOut,
        errors=(409,),
    )
    def change_line(invoice_id: str, line_id: str) -> tuple[Response, int]:
        changes = parse_body(commands.LineChange).model_dump(exclude_none=True)
        return edit(invoice_id, lambda inv, e: inv.change_line(line_id, changes, e))

    @app.delete("/invoices/<invoice_id>/lines/<line_id>")
    @doc("Remove a line", response=InvoiceOut, errors=(409,))
    def remove_line(invoice_id: str, line_id: str) -> tuple[Response, int]:
        return edit(invoice_id, lambda inv, e: inv.remove_line(line_id, e))

    @app.put("/invoices/<invoice_id>/payment-methods")
    @doc(
        "Allow card, ACH or both",
        body=commands.SetPaymentMethods,
        response=InvoiceOut,
        errors=(409,),
    )
    def set_payment_methods(invoice_id: str) -> tuple[Response, int]:
        cmd = parse_body(commands.SetPaymentMethods)
        return edit(invoice_id, lambda inv, e: inv.set_payment_methods(list(cmd.methods), e))

    @app.put("/invoices/<invoice_id>/due-date")
    @doc(
        "Override the due date (null: from payment terms)",
        body=commands.SetDueDate,
        response=InvoiceOut,
        errors=(409,),
    )
    def set_due_date(invoice_id: str) -> tuple[Response, int]:
        cmd = parse_body(commands.SetDueDate)
        return edit(invoice_id, lambda inv, e: inv.set_due_date(cmd.due_date, e))

    @app.post("/invoices/<invoice_id>/notes")
    @doc("Add an internal note", body=commands.AddNote, response=InvoiceOut)
    def add_note(invoice_id: str) -> tuple[Response, int]:
        cmd = parse_body(commands.AddNote)
        return edit(invoice_id, lambda inv, e: inv.add_note(cmd.text, e))


def _lifecycle_routes(app: Flask) -> None:
    @app.post("/invoices/<invoice_id>/send")
    @doc(
        "Send: number, due date, pay link; publishes InvoiceSent (errors in the review: 422)",
        response=InvoiceOut,
        errors=(409,),
    )
    def send(invoice_id: str) -> tuple[Response, int]:
        invoice = handlers.send_invoice(
            _request(),
            invoice_id,
            bootstrap.wiring.settings.pay_base_url,
            _uow(),
            bootstrap.utc_now,
        )
        return _reply_invoice(invoice)

    @app.post("/invoices/<invoice_id>/void")
    @doc(
        "Void an unpaid invoice: publishes InvoiceVoided",
        body=commands.VoidInvoice,
        response=InvoiceOut,
        errors=(409,),
    )
    def void(invoice_id: str) -> tuple[Response, int]:
        cmd = parse_body(commands.VoidInvoice, allow_empty=True)
        invoice = handlers.void_invoice(
            _request(), invoice_id, cmd.reason, _uow(), bootstrap.utc_now
        )
        return _reply_invoice(invoice)

    @app.post("/invoices/<invoice_id>/pay-link")
    @doc(
        "Revoke the pay link and issue a new one (a sent invoice with a balance): publishes"
        " PayLinkReplaced; the old link stops working",
        body=commands.ReplacePayLink,
        response=InvoiceOut,
        errors=(409,),
    )
    def replace_pay_link(invoice_id: str) -> tuple[Response, int]:
        cmd = parse_body(commands.ReplacePayLink, allow_empty=True)
        invoice = handlers.replace_pay_link(
            _request(),
            invoice_id,
            cmd.reason,
            bootstrap.wiring.settings.pay_base_url,
            _uow(),
            bootstrap.utc_now,
            cmd.link_number,
        )
        return _reply_invoice(invoice)


def _settings_routes(app: Flask) -> None:
    @app.get("/settings")
    @doc(
        "The shop's invoicing settings: numbering, card limit, branding, time zone",
        response=SettingsOut,
    )
    def get_settings() -> tuple[Response, int]:
        with PooledUnitOfWork(bootstrap.wiring.pool) as uow:
            settings = uow.settings.get(shop_id())
        return _reply(SettingsOut.of(settings))

    @app.put("/settings")
    @doc("Change the shop's invoicing settings", body=commands.UpdateSettings, response=SettingsOut)
    def put_settings() -> tuple[Response, int]:
        cmd = parse_body(commands.UpdateSettings)
        settings = replace(ShopSettings(shop_id()), **cmd.model_dump())
        with PooledUnitOfWork(bootstrap.wiring.pool) as uow:
            uow.settings.save(settings)
            uow.commit()
        return _reply(SettingsOut.of(settings))


def _existing(uow: PooledUnitOfWork, invoice_id: str) -> Invoice:
    return _visible(uow.invoices.get(invoice_id), invoice_id)


def _visible(invoice: Invoice, invoice_id: str) -> Invoice:
    """The invoice, if it exists and is the calling shop's (anything else: not found)."""
    if invoice.shop_id != shop_id() or invoice.customer is None:
        raise NotFound(f"invoice {invoice_id} not found")
    return invoice


def _out(invoice: Invoice, settings: ShopSettings) -> InvoiceOut:
    now = bootstrap.utc_now()
    reviewable = not invoice.voided and invoice.base_status() is not InvoiceStatus.PAID
    review = handlers.review_of(invoice, settings, now) if reviewable else None
    return InvoiceOut.of(invoice, review, settings.today(now))


def _reply_invoice(invoice: Invoice, status: int = 200) -> tuple[Response, int]:
    with PooledUnitOfWork(bootstrap.wiring.pool) as uow:
        settings = uow.settings.get(invoice.shop_id)
    return _reply(_out(invoice, settings), status)


def _request() -> handlers.Request:
    return handlers.Request(shop_id(), actor(), g.correlation_id)


def _uow() -> PooledUnitOfWork:
    return PooledUnitOfWork(bootstrap.wiring.pool)


def _reply(body: BaseModel, status: int = 200) -> tuple[Response, int]:
    return reply(body, status)


app = build_app()
register_figures(bootstrap.wiring.opened_pool, FIGURES)
