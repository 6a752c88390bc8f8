"""The staff web app: server-rendered pages (htmx, served from here) over the services' HTTP APIs.

Every route needs a signed-in session except sign-in, health and static files; each page also
names the area it belongs to, and the user's role must allow it (owner: everything; office:
invoices, customers, jobs, reports; technician: their own jobs). Every form carries a CSRF token.
The user's shop is the only shop any call is made for."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import (
    Flask,
    Response,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf.csrf import CSRFError, CSRFProtect
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as Redirect

from services.gateway.domain.access import Area, StaffUser
from services.gateway.service_layer import auth
from services.gateway.service_layer.ports import (
    Invoicing,
    NotFound,
    Notifications,
    Passwords,
    Refused,
    Reporting,
    Users,
)
from shared.money import format_cents

F = TypeVar("F", bound=Callable[..., Any])
HOME = Path(__file__).resolve().parent.parent
PUBLIC = frozenset({"signin", "static", "healthz", "readyz", "metrics"})
STATUSES = (
    "draft",
    "sent",
    "viewed",
    "payment_pending",
    "partially_paid",
    "paid",
    "overdue",
    "void",
)
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    " form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


@dataclass(frozen=True)
class Deps:
    """Factories of what the app uses (called per request: nothing connects at import)."""

    users: Callable[[], Users]
    passwords: Callable[[], Passwords]
    invoicing: Callable[[], Invoicing]
    notifications: Callable[[], Notifications]
    reporting: Callable[[], Reporting]
    ready: Callable[[], bool]
    live: Callable[[str, int | None], Iterator[str]]
    """The shop's change stream (server-sent events text) after a position (None: from now)."""


MIN_SECRET = 16


def build_app(deps: Deps, secret_key: str, secure_cookie: bool = False) -> Flask:
    if len(secret_key) < MIN_SECRET:
        raise ValueError(f"GATEWAY_SECRET_KEY must be at least {MIN_SECRET} characters")
    app = Flask(
        __name__, template_folder=str(HOME / "templates"), static_folder=str(HOME / "static")
    )
    app.config.update(
        SECRET_KEY=secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure_cookie,
        SESSION_COOKIE_NAME="fieldpay_session",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        WTF_CSRF_TIME_LIMIT=12 * 3600,
        MAX_CONTENT_LENGTH=64 * 1024,
    )
    _gate(app)
    CSRFProtect(app)
    _errors(app)
    _pages(app, deps)
    app.jinja_env.filters["money"] = format_cents
    app.jinja_env.globals["STATUSES"] = STATUSES
    return app


def _gate(app: Flask) -> None:
    @app.before_request
    def signed_in() -> Redirect | tuple[str, int] | None:
        g.user = _user_of_session()
        if request.endpoint in PUBLIC or g.user is not None:
            return None
        if request.method == "GET":
            return redirect(url_for("signin", next=request.full_path.rstrip("?")))
        return "sign in first", 401

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        if request.endpoint not in ("static",):
            response.headers["Cache-Control"] = "no-store"
        return response


def _user_of_session() -> StaffUser | None:
    data = session.get("user")
    if not isinstance(data, dict):
        return None
    try:
        return StaffUser(**data)
    except TypeError:
        return None


def requires(area: Area) -> Callable[[F], F]:
    def wrap(view: F) -> F:
        @wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            if not cast(StaffUser, g.user).may(area):
                abort(403)
            return view(*args, **kwargs)

        return cast(F, checked)

    return wrap


MESSAGES = {
    403: ("Not allowed", "Your role does not give access to this page."),
    404: ("Not found", "There is nothing here (or it belongs to another shop)."),
}


def _errors(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf(exc: CSRFError) -> tuple[str, int]:
        message = "This form has expired or did not come from this app. Reload and try again."
        return render_template("error.html", title="Form expired", message=message), 400

    @app.errorhandler(HTTPException)
    def http(exc: HTTPException) -> tuple[str, int]:
        code = exc.code or 500
        title, message = MESSAGES.get(code, (exc.name, exc.description or ""))
        return render_template("error.html", title=title, message=message), code

    @app.errorhandler(NotFound)
    def missing(exc: NotFound) -> tuple[str, int]:
        title, message = MESSAGES[404]
        return render_template("error.html", title=title, message=message), 404


def _safe_next(target: str | None) -> str:
    """Only a plain path on this site: no scheme, no host, no backslash, no whitespace or control
    characters (browsers drop some of them and read //host) — never an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/invoices"
    if any(c.isspace() or ord(c) < 32 or c in "\\\x7f" for c in target):
        return "/invoices"
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else "/invoices"


def _pages(app: Flask, deps: Deps) -> None:
    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> tuple[dict[str, str], int]:
        try:
            ready = deps.ready()
        except Exception:
            ready = False
        return ({"status": "ready"}, 200) if ready else ({"status": "not ready"}, 503)

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)

    @app.route("/signin", methods=["GET", "POST"])
    def signin() -> Any:
        if request.method == "GET":
            return render_template("signin.html", title="Sign in", error=None)
        user = auth.sign_in(
            request.form.get("email", ""),
            request.form.get("password", ""),
            deps.users(),
            deps.passwords(),
        )
        if user is None:
            return render_template(
                "signin.html", title="Sign in", error="That email and password do not match."
            ), 401
        session.clear()
        session.permanent = True
        session["user"] = user.__dict__.copy()
        return redirect(_safe_next(request.args.get("next")))

    @app.post("/signout")
    def signout() -> Redirect:
        session.clear()
        return redirect(url_for("signin"))

    @app.get("/")
    def home() -> Redirect:
        user = cast(StaffUser, g.user)
        return redirect(url_for("invoices") if user.may("invoices") else url_for("my_jobs"))

    @app.get("/live")
    @requires("invoices")
    def live() -> Response:
        """Server-sent events: one ``invoice`` event per change to the shop's invoices."""
        user = cast(StaffUser, g.user)
        last = request.headers.get("Last-Event-ID", "")
        stream = deps.live(user.shop_id, int(last) if last.isdigit() else None)
        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        return Response(stream, mimetype="text/event-stream", headers=headers)

    @app.get("/my-jobs")
    @requires("own_jobs")
    def my_jobs() -> str:
        return render_template("my_jobs.html", title="My jobs")

    @app.get("/invoices")
    @requires("invoices")
    def invoices() -> str:
        status = request.args.get("status") or "draft"
        if status not in STATUSES:
            abort(404)
        user = cast(StaffUser, g.user)
        items = deps.invoicing().invoices(user.shop_id, status)
        title = "Ready to send" if status == "draft" else f"Invoices: {status.replace('_', ' ')}"
        return render_template("invoices.html", title=title, items=items, status=status)

    @app.get("/invoices/<invoice_id>")
    @requires("invoices")
    def invoice(invoice_id: str) -> str:
        user = cast(StaffUser, g.user)
        return _invoice_page(deps, user, invoice_id)

    @app.post("/invoices/<invoice_id>/send")
    @requires("invoices")
    def send(invoice_id: str) -> Any:
        user = cast(StaffUser, g.user)
        try:
            sent = deps.invoicing().send(user.shop_id, invoice_id, user.name)
        except Refused as exc:
            return _invoice_page(deps, user, invoice_id, exc.reasons or [str(exc)]), 422
        flash(f"Sent {sent['invoice_number']} to {sent['customer']['name']}.")
        return redirect(url_for("invoice", invoice_id=invoice_id))

    @app.post("/invoices/<invoice_id>/nudge")
    @requires("invoices")
    def nudge(invoice_id: str) -> Any:
        user = cast(StaffUser, g.user)
        channels = [c for c in request.form.getlist("channel") if c in ("sms", "email")]
        if not channels:
            return _invoice_page(deps, user, invoice_id, ["choose text, email or both"]), 422
        try:
            deps.notifications().nudge(user.shop_id, invoice_id, channels, user.name)
        except Refused as exc:
            return _invoice_page(deps, user, invoice_id, [str(exc)]), 422
        except NotFound:  # notifications has not heard of the sending yet (a moment behind)
            wait = "the invoice's first text and email are still on their way; nudge again later"
            return _invoice_page(deps, user, invoice_id, [wait]), 409
        flash("Nudge sent: " + " and ".join("text" if c == "sms" else c for c in channels) + ".")
        return redirect(url_for("invoice", invoice_id=invoice_id))

    @app.post("/invoices/<invoice_id>/void")
    @requires("invoices")
    def void(invoice_id: str) -> Any:
        user = cast(StaffUser, g.user)
        reason = request.form.get("reason", "")[:500]
        try:
            deps.invoicing().void(user.shop_id, invoice_id, user.name, reason)
        except Refused as exc:
            return _invoice_page(deps, user, invoice_id, exc.reasons or [str(exc)]), 422
        flash("Voided.")
        return redirect(url_for("invoice", invoice_id=invoice_id))

    @app.get("/invoices/<invoice_id>/pdf")
    @requires("invoices")
    def pdf(invoice_id: str) -> Response:
        user = cast(StaffUser, g.user)
        body = deps.invoicing().pdf(user.shop_id, invoice_id)
        return Response(body, mimetype="application/pdf")

    @app.get("/reports/ar-aging")
    @requires("reports")
    def ar_aging() -> str:
        user = cast(StaffUser, g.user)
        as_of = request.args.get("as_of") or None
        try:
            report = deps.reporting().aging(user.shop_id, as_of, by_customer=True)
        except Refused as exc:
            report, refused = deps.reporting().aging(user.shop_id, None, True), exc.reasons
        else:
            refused = []
        return render_template(
            "aging.html", title="AR aging", report=report, refused=refused, bars=_bars(report)
        )

    @app.get("/reports/ar-aging.csv")
    @requires("reports")
    def ar_aging_csv() -> Response:
        user = cast(StaffUser, g.user)
        name, body = deps.reporting().aging_csv(user.shop_id, request.args.get("as_of") or None)
        safe = "".join(c for c in name if c.isalnum() or c in "-_.") or "ar-aging.csv"
        return Response(
            body,
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{safe}"'},
        )


def _invoice_page(
    deps: Deps, user: StaffUser, invoice_id: str, refused: list[str] | None = None
) -> str:
    found = deps.invoicing().invoice(user.shop_id, invoice_id)
    history = deps.invoicing().timeline(user.shop_id, invoice_id)
    return render_template(
        "invoice.html",
        title=_invoice_title(found),
        invoice=found,
        timeline=history,
        refused=refused,
    )


BAR_COLOURS = ("#2da44e", "#d4a72c", "#e16f24", "#cf222e", "#82071e", "#57606a", "#8250df")


def _bars(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The stacked bar: each bucket's share of what is owed, left to right."""
    total = max(report["total"]["total_cents"], 1)
    found, left = [], 0.0
    for i, bucket in enumerate(report["total"]["buckets"]):
        width = 100.0 * max(bucket["cents"], 0) / total
        colour = BAR_COLOURS[i % len(BAR_COLOURS)]
        found.append({**bucket, "x": left, "width": width, "colour": colour})
        left += width
    return found


def _invoice_title(invoice: dict[str, Any]) -> str:
    return f"Invoice {invoice.get('invoice_number') or 'draft'} — {invoice['customer']['name']}"


def create() -> Flask:
    from services.gateway import bootstrap

    s = bootstrap.wiring.settings
    deps = Deps(
        bootstrap.users,
        bootstrap.passwords,
        bootstrap.invoicing,
        bootstrap.notifications,
        bootstrap.reporting,
        bootstrap.wiring.ready,
        bootstrap.live,
    )
    return build_app(deps, s.gateway_secret_key, s.session_cookie_secure)


app = create()
