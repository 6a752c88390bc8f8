"""HTTP API of the invoicing service (read side for now: the drafts queue)."""

from __future__ import annotations

import base64
import json
from datetime import datetime

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import NotFound

from services.invoicing import bootstrap, views
from services.invoicing.entrypoints.schemas import InvoiceOut, InvoicePage
from shared.http import FieldError, create_app, shop_id
from shared.openapi import doc

STATUSES = frozenset({"draft"})
MAX_PAGE = 200
MAX_LIMIT_DIGITS = 4
MAX_CURSOR_CHARS = 512
MAX_ID_CHARS = 200


def build_app() -> Flask:
    app = create_app(
        bootstrap.SERVICE, bootstrap.wiring.settings.internal_api_token, bootstrap.wiring.ready
    )

    @app.get("/invoices")
    @doc(
        "The office's queue: invoices oldest first, keyset-paginated",
        response=InvoicePage,
        query={
            "status": "only invoices in this status (draft)",
            "job_id": "only the invoice drafted from this job",
            "limit": f"page size, 1-{MAX_PAGE} (default 50)",
            "after": "the `next` cursor of the previous page",
        },
    )
    def list_invoices() -> Response:
        status = request.args.get("status") or None
        if status is not None and status not in STATUSES:
            raise FieldError("status", f"must be one of {sorted(STATUSES)}")
        limit = _limit(request.args.get("limit", "50"))
        after = _cursor(request.args.get("after"))
        with bootstrap.wiring.pool.connection() as conn:
            items = views.list_invoices(
                conn,
                shop_id(),
                status=status,
                limit=limit,
                after=after,
                job_id=request.args.get("job_id") or None,
            )
        next_cursor = _encode(items[-1]) if len(items) == limit else None
        return jsonify(items=items, next=next_cursor)

    @app.get("/invoices/<invoice_id>")
    @doc("One invoice of the shop, with lines and totals", response=InvoiceOut)
    def get_invoice(invoice_id: str) -> Response:
        with bootstrap.wiring.pool.connection() as conn:
            invoice = views.get_invoice(conn, shop_id(), invoice_id)
        if invoice is None:
            raise NotFound(f"invoice {invoice_id} not found")
        return jsonify(invoice)

    return app


def _limit(text: str) -> int:
    # isdigit() alone admits "²" (which int() refuses) and any number of digits (int() refuses more
    # than 4300): ASCII digits only, and few enough of them.
    digits = text.isascii() and text.isdigit() and len(text) <= MAX_LIMIT_DIGITS
    if not digits or not 1 <= int(text) <= MAX_PAGE:
        raise FieldError("limit", f"must be a whole number from 1 to {MAX_PAGE}")
    return int(text)


def _encode(item: dict[str, str]) -> str:
    raw = json.dumps([item["drafted_at"], item["invoice_id"]]).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _cursor(text: str | None) -> tuple[datetime, str] | None:
    """The (drafted_at, invoice_id) a cursor from ``_encode`` holds; anything else is a 422."""
    if not text:
        return None
    problem = FieldError("after", "not a cursor this API returned")
    if len(text) > MAX_CURSOR_CHARS:
        raise problem
    try:
        decoded = json.loads(base64.urlsafe_b64decode(text.encode("ascii")))
    except (ValueError, RecursionError) as exc:  # binascii, Unicode and JSON errors are ValueErrors
        raise problem from exc
    if not (isinstance(decoded, list) and len(decoded) == 2):
        raise problem
    drafted_at, invoice_id = decoded
    if not (isinstance(drafted_at, str) and isinstance(invoice_id, str)):
        raise problem
    # fromisoformat() lets a trailing NUL through; PostgreSQL would refuse one in the id
    if not (drafted_at.isprintable() and invoice_id.isprintable()):
        raise problem
    if not 1 <= len(invoice_id) <= MAX_ID_CHARS:
        raise problem
    try:
        when = datetime.fromisoformat(drafted_at)
    except ValueError as exc:
        raise problem from exc
    if when.tzinfo is None:
        raise problem
    return when, invoice_id


app = build_app()
