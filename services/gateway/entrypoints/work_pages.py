"""The shop's day: customers and their places, jobs, and the technician's phone-sized job page
(add items and labor, start, close). Office and owner see every job; a technician sees only the
jobs they are assigned to (any other is not found)."""

from __future__ import annotations

from typing import Any

from flask import Flask, abort, flash, redirect, render_template, request, url_for

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
from services.gateway.service_layer.ports import NotFound, Work

JOB_STATUSES = ("scheduled", "in_progress", "closed", "canceled")
CUSTOMER_TYPES = ("residential", "commercial", "property_manager")
TERMS = ("due_on_receipt", "net_15", "net_30", "net_45", "net_60")


def register(app: Flask, deps: Deps) -> None:
    app.jinja_env.globals.update(
        JOB_STATUSES=JOB_STATUSES, CUSTOMER_TYPES=CUSTOMER_TYPES, TERMS=TERMS
    )
    _customers(app, deps)
    _jobs(app, deps)


def _customers(app: Flask, deps: Deps) -> None:
    @app.route("/customers", methods=["GET", "POST"])
    @requires("customers")
    def customers() -> Any:
        refused: list[str] = []
        if request.method == "POST":
            try:
                made = deps.jobs().add_customer(me().shop_id, customer_form())
            except REFUSED as exc:
                refused = reasons(exc)
            else:
                flash(f"Customer {made['name']} added.")
                return redirect(url_for("customer", customer_id=made["customer_id"]))
        wanted = request.args.get("q", "").strip()[:100] or None
        found = deps.jobs().customers(me().shop_id, wanted, request.args.get("after") or None)
        page = render_template(
            "customers.html", title="Customers", page=found, q=wanted or "", refused=refused
        )
        return (page, 422) if refused else page

    @app.get("/customers/<customer_id>")
    @requires("customers")
    def customer(customer_id: str) -> str:
        return _customer_page(deps, customer_id, [])

    @app.post("/customers/<customer_id>/locations")
    @requires("customers")
    def add_location(customer_id: str) -> Any:
        try:
            body = {"name": text("name", 200, required=True), "address": address()}
            deps.jobs().add_location(me().shop_id, customer_id, body)
        except REFUSED as exc:
            return _customer_page(deps, customer_id, reasons(exc)), 422
        flash("Service location added.")
        return redirect(url_for("customer", customer_id=customer_id))

    @app.post("/customers/<customer_id>/jobs")
    @requires("jobs")
    def add_job(customer_id: str) -> Any:
        try:
            made = deps.jobs().add_job(me().shop_id, job_form(deps, customer_id))
        except REFUSED as exc:
            return _customer_page(deps, customer_id, reasons(exc)), 422
        flash("Job scheduled.")
        return redirect(url_for("job", job_id=made["job_id"]))


def customer_form() -> dict[str, Any]:
    kind = request.form.get("customer_type", "residential")
    terms = request.form.get("payment_terms", "due_on_receipt")
    if kind not in CUSTOMER_TYPES:
        raise FormError("customer_type", f"one of {', '.join(CUSTOMER_TYPES)}")
    if terms not in TERMS:
        raise FormError("payment_terms", f"one of {', '.join(TERMS)}")
    body: dict[str, Any] = {
        "name": text("name", 200, required=True),
        "customer_type": kind,
        "payment_terms": terms,
        "billing_address": address(),
    }
    for optional in ("email", "phone"):
        if value := text(optional, 200):
            body[optional] = value
    return body


def job_form(deps: Deps, customer_id: str) -> dict[str, Any]:
    place = request.form.get("location_id", "")
    body: dict[str, Any] = {"customer_id": customer_id}
    if place:
        body["service_location_id"] = place
    else:
        body["service_address"] = deps.jobs().customer(me().shop_id, customer_id)["billing_address"]
    if technician := text("technician", 100):
        body["technicians"] = [technician]
    return body


def _customer_page(deps: Deps, customer_id: str, refused: list[str]) -> str:
    shop = me().shop_id
    found = deps.jobs().customer(shop, customer_id)
    return render_template(
        "customer.html",
        title=found["name"],
        customer=found,
        locations=deps.jobs().locations(shop, customer_id),
        jobs=deps.jobs().jobs(shop, None, None, customer_id, request.args.get("after") or None),
        refused=refused,
        form=request.form,
    )


def _jobs(app: Flask, deps: Deps) -> None:
    @app.get("/jobs")
    @requires("jobs")
    def jobs() -> str:
        status = request.args.get("status") or "scheduled"
        if status not in JOB_STATUSES:
            abort(404)
        page = deps.jobs().jobs(me().shop_id, status, None, None, request.args.get("after") or None)
        names = names_of(deps, page["items"])
        title = f"Jobs: {status.replace('_', ' ')}"
        return render_template("jobs.html", title=title, page=page, status=status, names=names)

    @app.get("/my-jobs")
    @requires("own_jobs")
    def my_jobs() -> str:
        user = me()
        items = [
            job
            for status in ("in_progress", "scheduled")
            for job in deps.jobs().jobs(user.shop_id, status, user.name, None)["items"]
        ]
        return render_template("my_jobs.html", title="My jobs", items=items)

    @app.get("/jobs/<job_id>")
    @requires("own_jobs")
    def job(job_id: str) -> str:
        return _job_page(deps, job_id, [])

    @app.post("/jobs/<job_id>/<any(items, labor, start, close):step>")
    @requires("own_jobs")
    def work(job_id: str, step: Work) -> Any:
        _visible_job(deps, job_id)
        try:
            deps.jobs().work(me().shop_id, job_id, step, WORK_FORMS[step]())
        except REFUSED as exc:
            return _job_page(deps, job_id, reasons(exc)), 422
        flash(DONE[step])
        if step == "close" and not me().may("jobs"):
            return redirect(url_for("my_jobs"))
        return redirect(url_for("job", job_id=job_id))


def _item() -> dict[str, Any]:
    return {
        "description": text("description", 500, required=True),
        "quantity": text("quantity", 12, required=True),
        "unit_price_cents": cents("unit_price"),
        "added_by": me().name,
    }


def _labor() -> dict[str, Any]:
    return {
        "technician": me().name,
        "hours": text("hours", 8, required=True),
        "hourly_rate_cents": cents("hourly_rate"),
        "added_by": me().name,
    }


WORK_FORMS = {"items": _item, "labor": _labor, "start": dict, "close": dict}
DONE = {
    "items": "Item added.",
    "labor": "Labor logged.",
    "start": "Job started.",
    "close": "Job closed: its invoice is on its way to the office.",
}


def _visible_job(deps: Deps, job_id: str) -> dict[str, Any]:
    """The job, if this user may see it: office and owner any of the shop's, a technician only
    their own (another's is not found, like another shop's)."""
    found = deps.jobs().job(me().shop_id, job_id)
    if not me().may("jobs") and me().name not in found["technicians"]:
        raise NotFound(job_id)
    return found


def _job_page(deps: Deps, job_id: str, refused: list[str]) -> str:
    found = _visible_job(deps, job_id)
    customer = deps.jobs().customer(me().shop_id, found["customer_id"])
    return render_template(
        "job.html",
        title=f"Job for {customer['name']}",
        job=found,
        customer=customer,
        refused=refused,
        form=request.form,
    )
