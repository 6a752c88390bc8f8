"""HTTP API of the reporting service: AR aging as of any day (JSON and CSV), its drill-down, and
the shop's bucket edges. Every query is scoped to the caller's shop."""

from __future__ import annotations

import csv
import io
from datetime import date
from zoneinfo import ZoneInfo

from flask import Flask, Response, jsonify, request
from pydantic import BaseModel, ConfigDict, Field

from services.reporting import bootstrap
from services.reporting.adapters.figures import FIGURES
from services.reporting.adapters.postgres import PooledAgingReports
from services.reporting.domain.aging import BadBuckets, Buckets, Line, Report
from services.reporting.service_layer import handlers
from shared.http import FieldError, create_app, parse_body, query_choice, reply, shop_id
from shared.metrics import register_figures
from shared.money import format_cents
from shared.openapi import day, doc, one_of, whole_number

EARLIEST = date(2000, 1, 1)
MAX_EDGES = 7
AS_OF = day("Day of the report, YYYY-MM-DD, in the shop's time zone (default: today)")
BUCKETS = "Bucket edges in days past due, e.g. 30,60,90 (default: the shop's)"


class BucketFigures(BaseModel):
    label: str
    cents: int
    count: int


class AgingLine(BaseModel):
    customer_id: str | None = None
    name: str | None = None
    buckets: list[BucketFigures]
    total_cents: int
    count: int


class AgingReport(BaseModel):
    as_of: date
    time_zone: str
    edges: list[int]
    total: AgingLine
    customers: list[AgingLine] = Field(description="group_by=customer: most owed first")


class OwingInvoice(BaseModel):
    invoice_id: str
    number: str
    customer_id: str
    customer_name: str
    due_date: date
    days_past_due: int
    balance_cents: int


class OwingInvoices(BaseModel):
    items: list[OwingInvoice]


class Edges(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    edges: list[int] = Field(min_length=1, max_length=MAX_EDGES, examples=[[30, 60, 90]])


def build_app() -> Flask:
    app = create_app(
        bootstrap.SERVICE,
        bootstrap.wiring.settings.internal_api_token,
        bootstrap.wiring.ready,
        errors={handlers.FutureDate: 422},
    )

    @app.get("/reports/ar-aging")
    @doc(
        "AR aging as of a day: buckets of days past due, in total or per customer",
        response=AgingReport,
        query={
            "as_of": AS_OF,
            "group_by": one_of("total (default) or customer", ("total", "customer")),
            "buckets": BUCKETS,
        },
        errors=(422,),
    )
    def ar_aging() -> Response:
        by_customer = query_choice("group_by", {"total", "customer"}) == "customer"
        report = handlers.aging_report(_ask(by_customer), _reports())
        return reply(_report_body(report))[0]

    @app.get("/reports/ar-aging/invoices")
    @doc(
        "The invoices behind one bucket (and customer) of the report",
        response=OwingInvoices,
        query={
            "as_of": AS_OF,
            "bucket": whole_number("0 = Current, 1 = first bucket past due, …", 0, MAX_EDGES),
            "customer_id": "Only this customer's",
            "buckets": BUCKETS,
        },
        errors=(422,),
    )
    def ar_aging_invoices() -> Response:
        ask = _ask(False)
        edges = ask.buckets or _reports().shop(ask.shop_id).buckets
        bucket = _int_arg("bucket", 0, len(edges.labels) - 1)
        found = handlers.invoices_in_bucket(
            ask, bucket, request.args.get("customer_id") or None, _reports()
        )
        day = ask.as_of or ask.today
        items = [
            OwingInvoice(
                invoice_id=i.invoice_id,
                number=i.number,
                customer_id=i.customer_id,
                customer_name=i.customer_name,
                due_date=i.due_date,
                days_past_due=max((day - i.due_date).days, 0),
                balance_cents=i.balance_cents,
            )
            for i in found
        ]
        return reply(OwingInvoices(items=items))[0]

    @app.get("/reports/ar-aging.csv")
    @doc(
        "AR aging per customer as CSV (amounts in dollars, a total row last)",
        query={"as_of": AS_OF, "buckets": BUCKETS},
        errors=(422,),
        media="text/csv",
    )
    def ar_aging_csv() -> Response:
        report = handlers.aging_report(_ask(True), _reports())
        name = f"ar-aging-{report.as_of.isoformat()}.csv"
        return Response(
            _csv(report, _reports().customer_names(shop_id())),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    @app.get("/settings/aging")
    @doc("The shop's bucket edges (days past due)", response=Edges)
    def get_edges() -> Response:
        return jsonify(Edges(edges=list(_reports().shop(shop_id()).buckets.edges)).model_dump())

    @app.put("/settings/aging")
    @doc("Set the shop's bucket edges", body=Edges, response=Edges, errors=(422,))
    def put_edges() -> Response:
        body = parse_body(Edges)
        _reports().set_buckets(shop_id(), _buckets(tuple(body.edges), "edges"))
        return jsonify(body.model_dump())

    return app


def _reports() -> PooledAgingReports:
    return PooledAgingReports(bootstrap.wiring.pool)


def _ask(by_customer: bool) -> handlers.Ask:
    shop = shop_id()
    zone = ZoneInfo(_reports().shop(shop).time_zone)
    today = bootstrap.utc_now().astimezone(zone).date()
    return handlers.Ask(shop, today, _date_arg("as_of"), _buckets_arg(), by_customer)


def _date_arg(name: str) -> date | None:
    text = request.args.get(name) or None
    if text is None:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise FieldError(name, "must be a date, YYYY-MM-DD") from None
    if day < EARLIEST:
        raise FieldError(name, f"must be {EARLIEST.isoformat()} or later")
    return day


def _int_arg(name: str, low: int, high: int) -> int:
    text = request.args.get(name, "")
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        raise FieldError(name, f"must be a whole number from {low} to {high}")
    return int(text)


def _buckets_arg() -> Buckets | None:
    text = request.args.get("buckets") or None
    if text is None:
        return None
    parts = text.split(",")
    if not all(p.strip().isascii() and p.strip().isdigit() for p in parts):
        raise FieldError("buckets", "must be whole days separated by commas, e.g. 30,60,90")
    return _buckets(tuple(int(p) for p in parts), "buckets")


def _buckets(edges: tuple[int, ...], field: str) -> Buckets:
    try:
        return Buckets(edges)
    except BadBuckets as exc:
        raise FieldError(field, str(exc)) from None


def _line(
    line: Line, labels: list[str], customer: str | None = None, name: str | None = None
) -> AgingLine:
    figures = [
        BucketFigures(label=label, cents=cents, count=count)
        for label, cents, count in zip(labels, line.cents, line.counts, strict=True)
    ]
    return AgingLine(
        customer_id=customer,
        name=name,
        buckets=figures,
        total_cents=line.total_cents,
        count=line.total_count,
    )


def _report_body(report: Report) -> AgingReport:
    labels = report.buckets.labels
    names = _reports().customer_names(shop_id()) if report.customers else {}
    ranked = sorted(report.customers.items(), key=lambda kv: (-kv[1].total_cents, kv[0]))
    return AgingReport(
        as_of=report.as_of,
        time_zone=_reports().shop(shop_id()).time_zone,
        edges=list(report.buckets.edges),
        total=_line(report.total, labels),
        customers=[_line(line, labels, c, names.get(c, c)) for c, line in ranked],
    )


def _csv(report: Report, names: dict[str, str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    labels = report.buckets.labels
    writer.writerow(["Customer", *labels, "Total", "Open invoices"])
    ranked = sorted(report.customers.items(), key=lambda kv: (-kv[1].total_cents, kv[0]))
    for customer, line in ranked:
        writer.writerow(_csv_row(_safe(names.get(customer, customer)), line))
    writer.writerow(_csv_row("Total", report.total))
    return out.getvalue()


def _csv_row(first: str, line: Line) -> list[str]:
    money = [format_cents(c).replace("$", "").replace(",", "") for c in line.cents]
    total = format_cents(line.total_cents).replace("$", "").replace(",", "")
    return [first, *money, total, str(line.total_count)]


def _safe(text: str) -> str:
    """No formula injection when the CSV is opened in a spreadsheet."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


app = build_app()
register_figures(bootstrap.wiring.opened_pool, FIGURES)
