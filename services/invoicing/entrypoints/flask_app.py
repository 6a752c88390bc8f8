"""HTTP API of the invoicing service (read side for now: the drafts queue)."""

from __future__ import annotations

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import NotFound

from services.invoicing import bootstrap, views
from services.invoicing.entrypoints.schemas import InvoiceOut, InvoicePage
from shared.http import create_app, query_choice, shop_id
from shared.openapi import doc
from shared.pagination import PAGE_QUERY, page_of, requested_page

STATUSES = frozenset({"draft", "withdrawn"})


def build_app() -> Flask:
    app = create_app(
        bootstrap.SERVICE, bootstrap.wiring.settings.internal_api_token, bootstrap.wiring.ready
    )

    @app.get("/invoices")
    @doc(
        "The office's queue: invoices oldest first, keyset-paginated",
        response=InvoicePage,
        query={
            "status": "only invoices in this status (draft, or withdrawn: its job was reopened)",
            "job_id": "only the invoice drafted from this job",
            **PAGE_QUERY,
        },
    )
    def list_invoices() -> Response:
        status = query_choice("status", STATUSES)
        limit, after = requested_page(request.args)
        with bootstrap.wiring.pool.connection() as conn:
            items = views.list_invoices(
                conn,
                shop_id(),
                status=status,
                limit=limit,
                after=after,
                job_id=request.args.get("job_id") or None,
            )
        return jsonify(page_of(items, limit, views.INVOICES))

    @app.get("/invoices/<invoice_id>")
    @doc("One invoice of the shop, with lines and totals", response=InvoiceOut)
    def get_invoice(invoice_id: str) -> Response:
        with bootstrap.wiring.pool.connection() as conn:
            invoice = views.get_invoice(conn, shop_id(), invoice_id)
        if invoice is None:
            raise NotFound(f"invoice {invoice_id} not found")
        return jsonify(invoice)

    return app


app = build_app()
