"""AR aging: the report as of a day with its stacked bar, drill-down to the invoices behind a
bucket, and the CSV."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, abort, render_template, request

from services.gateway.entrypoints.web import Deps, me, requires
from services.gateway.service_layer.ports import Refused

BAR_COLOURS = ("#2da44e", "#d4a72c", "#e16f24", "#cf222e", "#82071e", "#57606a", "#8250df")


def register(app: Flask, deps: Deps) -> None:
    @app.get("/reports/ar-aging")
    @requires("reports")
    def ar_aging() -> str:
        shop = me().shop_id
        as_of = request.args.get("as_of") or None
        try:
            report = deps.reporting().aging(shop, as_of, by_customer=True)
        except Refused as exc:
            report, refused = deps.reporting().aging(shop, None, True), exc.reasons
        else:
            refused = []
        return render_template(
            "aging.html", title="AR aging", report=report, refused=refused, bars=bars(report)
        )

    @app.get("/reports/ar-aging/invoices")
    @requires("reports")
    def ar_aging_invoices() -> str:
        bucket = request.args.get("bucket", "")
        if not bucket.isascii() or not bucket.isdigit() or int(bucket) > 20:
            abort(404)
        shop, as_of = me().shop_id, request.args.get("as_of") or None
        customer = request.args.get("customer_id") or None
        try:
            found = deps.reporting().aging_invoices(shop, as_of, int(bucket), customer)
        except Refused:
            abort(404)
        report = deps.reporting().aging(shop, as_of, by_customer=False)
        label = report["total"]["buckets"][int(bucket)]["label"]
        return render_template(
            "aging_invoices.html",
            title=f"AR aging: {label}",
            items=found["items"],
            as_of=report["as_of"],
        )

    @app.get("/reports/ar-aging.csv")
    @requires("reports")
    def ar_aging_csv() -> Response:
        name, body = deps.reporting().aging_csv(me().shop_id, request.args.get("as_of") or None)
        safe = "".join(c for c in name if c.isalnum() or c in "-_.") or "ar-aging.csv"
        return Response(
            body,
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{safe}"'},
        )


def bars(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The stacked bar: each bucket's share of what is owed, left to right."""
    total = max(report["total"]["total_cents"], 1)
    found, left = [], 0.0
    for i, bucket in enumerate(report["total"]["buckets"]):
        width = 100.0 * max(bucket["cents"], 0) / total
        colour = BAR_COLOURS[i % len(BAR_COLOURS)]
        found.append({**bucket, "x": left, "width": width, "colour": colour, "index": i})
        left += width
    return found
