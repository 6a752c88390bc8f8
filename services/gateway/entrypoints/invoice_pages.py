"""Invoice pages: the queue and lists by status, search, the review page with its inline edits,
Send, Nudge, Revoke pay link, Void, internal notes, refunds (owner only), + New Invoice and
+ Invoice on an approved estimate."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, abort, flash, redirect, render_template, request, url_for

from services.gateway.entrypoints.web import (
    REFUSED,
    Deps,
    FormError,
    address,
    cents,
    me,
    names_of,
    reasons,
    requires,
    text,
)
from services.gateway.service_layer.ports import Change, NotFound, Refused

STATUSES = (
    "draft",
    "sent",
    "viewed",
    "payment_pending",
    "partially_paid",
    "paid",
    "overdue",
    "partially_refunded",
    "refunded",
    "void",
)


def register(app: Flask, deps: Deps) -> None:
    app.jinja_env.globals["STATUSES"] = STATUSES
    _lists(app, deps)
    _review(app, deps)
    _edits(app, deps)
    _new(app, deps)


def _lists(app: Flask, deps: Deps) -> None:
    @app.get("/invoices")
    @requires("invoices")
    def invoices() -> str:
        wanted = request.args.get("q", "").strip()[:100]
        after = request.args.get("after") or None
        if wanted:
            page = deps.invoicing().search(me().shop_id, wanted, after)
            title = f"Invoices matching “{wanted}”"
            return render_template("invoices.html", title=title, page=page, q=wanted, status="")
        status = request.args.get("status") or "draft"
        if status not in STATUSES:
            abort(404)
        page = deps.invoicing().invoices(me().shop_id, status, after)
        title = "Ready to send" if status == "draft" else f"Invoices: {status.replace('_', ' ')}"
        return render_template("invoices.html", title=title, page=page, status=status, q="")


def _review(app: Flask, deps: Deps) -> None:
    @app.get("/invoices/<invoice_id>")
    @requires("invoices")
    def invoice(invoice_id: str) -> str:
        return invoice_page(deps, invoice_id)

    @app.post("/invoices/<invoice_id>/send")
    @requires("invoices")
    def send(invoice_id: str) -> Any:
        user = me()
        try:
            sent = deps.invoicing().send(user.shop_id, invoice_id, user.name)
        except Refused as exc:
            return invoice_page(deps, invoice_id, reasons(exc), "Not sent"), 422
        flash(f"Sent {sent['invoice_number']} to {sent['customer']['name']}.")
        return redirect(url_for("invoice", invoice_id=invoice_id))

    @app.post("/invoices/<invoice_id>/nudge")
    @requires("invoices")
    def nudge(invoice_id: str) -> Any:
        user = me()
        channels = [c for c in request.form.getlist("channel") if c in ("sms", "email")]
        if not channels:
            return invoice_page(deps, invoice_id, ["choose text, email or both"]), 422
        try:
            deps.notifications().nudge(user.shop_id, invoice_id, channels, user.name)
        except Refused as exc:
            return invoice_page(deps, invoice_id, [str(exc)]), 422
        except NotFound:  # notifications has not heard of the sending yet (a moment behind)
            wait = "the invoice's first text and email are still on their way; nudge again later"
            return invoice_page(deps, invoice_id, [wait]), 409
        flash("Nudge sent: " + " and ".join("text" if c == "sms" else c for c in channels) + ".")
        return redirect(url_for("invoice", invoice_id=invoice_id))

    @app.post("/invoices/<invoice_id>/void")
    @requires("invoices")
    def void(invoice_id: str) -> Any:
        user = me()
        reason = request.form.get("reason", "")[:500]
        try:
            deps.invoicing().void(user.shop_id, invoice_id, user.name, reason)
        except Refused as exc:
            return invoice_page(deps, invoice_id, reasons(exc)), 422
        flash("Voided.")
        return redirect(url_for("invoice", invoice_id=invoice_id))

    @app.post("/invoices/<invoice_id>/pay-link")
    @requires("invoices")
    def replace_pay_link(invoice_id: str) -> Any:
        """Revoke pay link: the customer's link stops working at once, a new one is issued and
        the next reminder or nudge carries it (e.g. the text was forwarded to the wrong person)."""
        user = me()
        reason = request.form.get("reason", "")[:500]
        shown = request.form.get("link_number", "")  # the link the page showed: revoked once
        link_number = int(shown) if shown.isdigit() and 0 < int(shown) < 10_000 else None
        try:
            deps.invoicing().replace_pay_link(
                user.shop_id, invoice_id, user.name, reason, link_number
            )
        except Refused as exc:
            return invoice_page(deps, invoice_id, reasons(exc), "Pay link not revoked"), 422
        flash(
            "Pay link revoked: the old link no longer works. A new link is ready; the next"
            " reminder or nudge carries it."
        )
        return redirect(url_for("invoice", invoice_id=invoice_id) + "#pay-link")

    @app.post("/invoices/<invoice_id>/refunds")
    @requires("refunds")
    def refund(invoice_id: str) -> Any:
        user = me()
        charge = request.form.get("charge_id", "")
        paid = {p["charge_id"] for p in deps.payments().payments(user.shop_id, invoice_id)}
        if charge not in paid:
            abort(404)
        try:
            amount = cents("amount") or 0
            key = text("key", 128, required=True)
            deps.payments().refund(user.shop_id, charge, amount, text("reason"), user.name, key)
        except REFUSED as exc:
            return invoice_page(deps, invoice_id, reasons(exc)), 422
        flash("Refund issued: the money goes back to the customer's card or bank.")
        return redirect(url_for("invoice", invoice_id=invoice_id))

    @app.get("/invoices/<invoice_id>/pdf")
    @requires("invoices")
    def pdf(invoice_id: str) -> Response:
        body = deps.invoicing().pdf(me().shop_id, invoice_id)
        return Response(body, mimetype="application/pdf")


def _edits(app: Flask, deps: Deps) -> None:
    """Each edit is a small form on the review page; a refusal shows on the page, field named."""

    def edit(invoice_id: str, change: Change, body: Callable[[], dict[str, Any]]) -> Any:
        user = me()
        try:
            deps.invoicing().edit(user.shop_id, invoice_id, change, body(), user.name)
        except REFUSED as exc:
            return invoice_page(deps, invoice_id, reasons(exc), "Not saved"), 422
        flash(SAVED[change])
        return redirect(url_for("invoice", invoice_id=invoice_id) + ANCHORS.get(change, ""))

    @app.post("/invoices/<invoice_id>/bill-to")
    @requires("invoices")
    def bill_to(invoice_id: str) -> Any:
        return edit(invoice_id, "bill_to", lambda: {"address": address()})

    @app.post("/invoices/<invoice_id>/service-address")
    @requires("invoices")
    def service_address(invoice_id: str) -> Any:
        return edit(invoice_id, "service_address", lambda: {"address": address()})

    @app.post("/invoices/<invoice_id>/lines")
    @requires("invoices")
    def add_line(invoice_id: str) -> Any:
        return edit(invoice_id, "add_line", line_form)

    @app.post("/invoices/<invoice_id>/lines/<line_id>")
    @requires("invoices")
    def change_line(invoice_id: str, line_id: str) -> Any:
        return edit(invoice_id, "change_line", lambda: {**line_form(), "line_id": line_id})

    @app.post("/invoices/<invoice_id>/lines/<line_id>/remove")
    @requires("invoices")
    def remove_line(invoice_id: str, line_id: str) -> Any:
        return edit(invoice_id, "remove_line", lambda: {"line_id": line_id})

    @app.post("/invoices/<invoice_id>/payment-methods")
    @requires("invoices")
    def payment_methods(invoice_id: str) -> Any:
        def methods() -> dict[str, Any]:
            chosen = [m for m in request.form.getlist("method") if m in ("card", "ach")]
            if not chosen:
                raise FormError("method", "allow card, ACH or both")
            return {"methods": chosen}

        return edit(invoice_id, "payment_methods", methods)

    @app.post("/invoices/<invoice_id>/due-date")
    @requires("invoices")
    def due_date(invoice_id: str) -> Any:
        def day() -> dict[str, Any]:
            if request.form.get("from_terms"):
                return {"due_date": None}
            return {"due_date": text("due_date", 10, required=True)}

        return edit(invoice_id, "due_date", day)

    @app.post("/invoices/<invoice_id>/notes")
    @requires("invoices")
    def note(invoice_id: str) -> Any:
        return edit(invoice_id, "note", lambda: {"text": text("text", 5000, required=True)})


SAVED: dict[Change, str] = {
    "bill_to": "Bill-to address saved.",
    "service_address": "Service address saved.",
    "add_line": "Line added.",
    "change_line": "Line saved.",
    "remove_line": "Line removed.",
    "payment_methods": "Payment methods saved.",
    "due_date": "Due date saved.",
    "note": "Note added.",
}
ANCHORS: dict[Change, str] = {"add_line": "#lines", "change_line": "#lines", "note": "#history"}


def line_form() -> dict[str, Any]:
    """A line as the review page's form gives it: dollars in, cents out; tax as a percentage."""
    rate = text("tax_rate_percent", 8) or "0"
    return {
        "description": text("description", 500, required=True),
        "quantity": text("quantity", 12, required=True),
        "unit_price_cents": cents("unit_price"),
        "taxable": request.form.get("taxable") == "on",
        "tax_rate_percent": rate,
    }


def _new(app: Flask, deps: Deps) -> None:
    @app.route("/invoices/new", methods=["GET", "POST"])
    @requires("invoices")
    def new_invoice() -> Any:
        user = me()
        chosen = request.values.get("customer_id", "")
        if request.method == "GET":
            return _new_page(deps, chosen, [])
        try:
            customer = deps.jobs().customer(user.shop_id, chosen)
        except NotFound:
            return _new_page(deps, chosen, ["customer: choose one of the shop's"]), 422
        try:
            body = {
                "customer": snapshot(customer),
                "service_address": customer["billing_address"],
                "lines": [line_form()],
            }
            made = deps.invoicing().create(user.shop_id, body, user.name)
        except REFUSED as exc:
            return _new_page(deps, chosen, reasons(exc)), 422
        flash("Draft made: review it, then Send.")
        return redirect(url_for("invoice", invoice_id=made["invoice_id"]))

    @app.get("/estimates")
    @requires("invoices")
    def estimates() -> str:
        page = deps.jobs().approved_estimates(me().shop_id, request.args.get("after") or None)
        names = names_of(deps, page["items"])
        return render_template("estimates.html", title="Approved estimates", page=page, names=names)

    @app.post("/estimates/<estimate_id>/invoice")
    @requires("invoices")
    def invoice_estimate(estimate_id: str) -> Any:
        user = me()
        try:
            made = deps.invoicing().from_estimate(user.shop_id, estimate_id, user.name)
        except Refused as exc:
            flash("Not invoiced: " + "; ".join(reasons(exc)))
            return redirect(url_for("estimates"))
        return redirect(url_for("invoice", invoice_id=made["invoice_id"]))


SNAPSHOT = (
    "customer_id",
    "name",
    "email",
    "phone",
    "billing_address",
    "customer_type",
    "payment_terms",
    "payment_terms_days",
    "tax_exempt",
    "tax_exemption_certificate",
)


def snapshot(customer: dict[str, Any]) -> dict[str, Any]:
    """The customer as an invoice keeps them (the jobs service's record, its invoice fields)."""
    return {k: customer[k] for k in SNAPSHOT if k in customer}


def _new_page(deps: Deps, chosen: str, refused: list[str]) -> str:
    """The customer is found by name (a shop has thousands); one already chosen stays chosen."""
    wanted = request.args.get("q", "").strip()[:100] or None
    customers = deps.jobs().customers(me().shop_id, wanted)["items"]
    if chosen and all(c["customer_id"] != chosen for c in customers):
        try:
            customers.insert(0, deps.jobs().customer(me().shop_id, chosen))
        except NotFound:
            chosen = ""
    return render_template(
        "invoice_new.html",
        title="New invoice",
        customers=customers,
        chosen=chosen,
        q=wanted or "",
        refused=refused,
        form=request.form,
    )


def invoice_page(
    deps: Deps,
    invoice_id: str,
    refused: list[str] | None = None,
    refused_title: str = "Not done",
) -> str:
    user = me()
    found = deps.invoicing().invoice(user.shop_id, invoice_id)
    history = deps.invoicing().timeline(user.shop_id, invoice_id)
    payments = deps.payments().payments(user.shop_id, invoice_id) if found["paid_cents"] else []
    return render_template(
        "invoice.html",
        title=f"Invoice {found.get('invoice_number') or 'draft'} — {found['customer']['name']}",
        invoice=found,
        timeline=history,
        payments=payments,
        refused=refused,
        refused_title=refused_title,
        refund_key=str(uuid.uuid4()),
        form=request.form,
    )
