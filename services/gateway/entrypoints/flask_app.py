"""The staff web app: server-rendered pages (htmx, served from here) over the services' HTTP APIs.

Every route needs a signed-in session except sign-in, health and static files; each page also
names the area it belongs to, and the user's role must allow it (owner: everything; office:
invoices, customers, jobs, reports; technician: their own jobs). Every form carries a CSRF token.
The user's shop is the only shop any call is made for."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

from flask import Flask, Response, g, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError, CSRFProtect
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as Redirect

from services.gateway.domain.access import StaffUser
from services.gateway.entrypoints import invoice_pages, report_pages, settings_pages, work_pages
from services.gateway.entrypoints.web import (
    Deps,
    PageEnvironment,
    next_page,
    reasons,
    remembered_url_for,
    requires,
)
from services.gateway.service_layer import auth
from services.gateway.service_layer.ports import NotFound, Refused, ServiceDown, Users
from shared.http import count_requests
from shared.limits import limit_view, limiter_for
from shared.money import format_cents

HOME = Path(__file__).resolve().parent.parent
PUBLIC = frozenset({"signin", "static", "healthz", "readyz", "metrics"})
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    " form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


MIN_SECRET = 16


def build_app(
    deps: Deps, secret_key: str, secure_cookie: bool = False, trusted_proxies: int = 0
) -> Flask:
    if len(secret_key) < MIN_SECRET:
        raise ValueError(f"GATEWAY_SECRET_KEY must be at least {MIN_SECRET} characters")
    app = Flask(
        __name__, template_folder=str(HOME / "templates"), static_folder=str(HOME / "static")
    )
    app.jinja_environment = PageEnvironment
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
    count_requests(app, "gateway")
    _gate(app, deps.users)
    CSRFProtect(app)
    _errors(app)
    _pages(app, deps)
    _limit_sign_in(app, trusted_proxies)
    for pages in (invoice_pages, work_pages, report_pages, settings_pages):
        pages.register(app, deps)
    app.jinja_env.filters["money"] = format_cents
    app.jinja_env.globals.update(
        inbox_url=deps.inbox_url, next_page=next_page, url_for=remembered_url_for(app)
    )
    return app


def _gate(app: Flask, users: Callable[[], Users]) -> None:
    @app.before_request
    def signed_in() -> Redirect | tuple[str, int] | None:
        g.user = None if request.endpoint in ("static", "healthz") else _user_of_session(users)
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


def _user_of_session(users: Callable[[], Users]) -> StaffUser | None:
    """The session's user as they are now; None once the session was ended (signed out, or
    the user's role, password or membership changed since: every earlier session ends)."""
    user_id, version = session.get("user_id"), session.get("version")
    if not isinstance(user_id, str) or not isinstance(version, int):
        return None
    return users().current(user_id, version)


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

    @app.errorhandler(Refused)
    def refused(exc: Refused) -> tuple[str, int]:
        message = "; ".join(reasons(exc))
        return render_template("error.html", title="Not possible", message=message), 422

    @app.errorhandler(ServiceDown)
    def down(exc: ServiceDown) -> tuple[str, int]:
        message = "A part of FieldPay is not answering right now. Nothing was lost: try again."
        return render_template("error.html", title="Try again shortly", message=message), 503


SIGN_IN_LIMITS = ("20/minute", "10/minute")
"""Sign-in attempts per client address, and per email typed: guessing passwords stops there."""


def _limit_sign_in(app: Flask, trusted_proxies: int) -> None:
    limiter = limiter_for(app, trusted_proxies)
    by_address, by_email = SIGN_IN_LIMITS
    limit_view(app, limiter, "signin", by_address, methods=["POST"])
    limit_view(app, limiter, "signin", by_email, methods=["POST"], key_func=_typed_email)

    @app.errorhandler(429)
    def too_many(exc: HTTPException) -> tuple[str, int]:
        message = "Too many attempts from here. Wait a minute, then try again."
        return render_template("error.html", title="Too many attempts", message=message), 429


def _typed_email() -> str:
    return "email:" + request.form.get("email", "").strip().lower()[:254]


def _safe_next(target: str | None) -> str:
    """Only a plain path on this site: no scheme, no host, no backslash, no whitespace or control
    characters (browsers drop some of them and read //host) — never an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    if any(c.isspace() or ord(c) < 32 or c in "\\\x7f" for c in target):
        return "/"
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else "/"


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
        session["user_id"], session["version"] = user.user_id, deps.users().version(user.user_id)
        return redirect(_safe_next(request.args.get("next")))

    @app.post("/signout")
    def signout() -> Redirect:
        """Ends every session of the user (a copied cookie stops working too)."""
        deps.users().end_sessions(cast(StaffUser, g.user).user_id)
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
        version = session["version"]
        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        still = lambda: deps.users().current(user.user_id, version) is not None  # noqa: E731
        return Response(
            while_signed_in(stream, still), mimetype="text/event-stream", headers=headers
        )


def while_signed_in(stream: Iterator[str], still: Callable[[], bool]) -> Iterator[str]:
    """The stream until the session ends (checked at each keep-alive, every 15 s): a removed or
    demoted user stops hearing the shop's changes."""
    for chunk in stream:
        if chunk.startswith(":") and not still():
            return
        yield chunk


def create() -> Flask:
    from services.gateway import bootstrap

    s = bootstrap.wiring.settings
    deps = Deps(
        bootstrap.users,
        bootstrap.passwords,
        bootstrap.invoicing,
        bootstrap.notifications,
        bootstrap.reporting,
        bootstrap.jobs,
        bootstrap.payments,
        bootstrap.wiring.ready,
        bootstrap.live,
        s.dev_inbox_url,
    )
    return build_app(deps, s.gateway_secret_key, s.session_cookie_secure, s.trusted_proxies)


app = create()
