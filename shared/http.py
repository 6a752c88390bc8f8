"""Flask scaffolding every service shares: auth, tenancy, JSON errors, health and metrics.

Service APIs are internal (the gateway and other services call them): every route but the probes
needs ``Authorization: Bearer <INTERNAL_API_TOKEN>`` and ``X-Shop-Id`` naming the tenant."""

from __future__ import annotations

import hmac
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from flask import Flask, Response, g, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import HTTPException

from shared.logs import correlation_id
from shared.metrics import HTTP_REQUESTS, HTTP_SECONDS

log = logging.getLogger(__name__)
MIN_TOKEN_LENGTH = 8
PROBES = frozenset({"/healthz", "/readyz", "/metrics"})
M = TypeVar("M", bound=BaseModel)


class FieldError(Exception):
    """A request that is well-formed but wrong about one field (e.g. an unknown customer)."""

    status = 422

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def create_app(
    service: str,
    api_token: str,
    ready_check: Callable[[], bool],
    errors: Mapping[type[Exception], int] | None = None,
) -> Flask:
    """``errors`` maps domain exceptions to HTTP status codes (their message is the reason)."""
    if len(api_token) < MIN_TOKEN_LENGTH:
        raise ValueError(f"INTERNAL_API_TOKEN must be at least {MIN_TOKEN_LENGTH} characters")
    app = Flask(service)
    app.config["SERVICE"] = service
    _install_auth(app, api_token)
    _install_errors(app, dict(errors or {}))
    _install_probes(app, ready_check)
    _install_metrics(app, service)
    return app


def shop_id() -> str:
    return str(g.shop_id)


def parse_body(model: type[M]) -> M:
    """Validate the JSON body against ``model``; errors become a 422 listing fields and reasons."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise FieldError("body", "must be a JSON object")
    return model.model_validate(body)


def _install_auth(app: Flask, api_token: str) -> None:
    @app.before_request
    def authenticate() -> Response | tuple[Response, int] | None:
        g.started = time.perf_counter()
        corr = request.headers.get("X-Correlation-Id") or str(uuid.uuid4())
        g.correlation_id = corr
        correlation_id.set(corr)
        if request.path in PROBES:
            return None
        scheme, _, supplied = request.headers.get("Authorization", "").partition(" ")
        valid = scheme.lower() == "bearer" and hmac.compare_digest(
            supplied.strip().encode(), api_token.encode()
        )
        if not valid:
            return _error(
                401,
                "unauthorized",
                [{"field": "Authorization", "reason": "missing or wrong bearer token"}],
            )
        shop = request.headers.get("X-Shop-Id", "").strip()
        if not shop:
            return _error(
                400, "missing_shop", [{"field": "X-Shop-Id", "reason": "header is required"}]
            )
        g.shop_id = shop
        return None


def _install_errors(app: Flask, errors: dict[type[Exception], int]) -> None:
    @app.errorhandler(ValidationError)
    def validation(exc: ValidationError) -> tuple[Response, int]:
        fields = [
            {"field": ".".join(str(p) for p in e["loc"]) or "body", "reason": e["msg"]}
            for e in exc.errors()
        ]
        return _error(422, "validation_failed", fields)

    @app.errorhandler(FieldError)
    def field_error(exc: FieldError) -> tuple[Response, int]:
        code = 400 if exc.field == "body" else exc.status
        return _error(code, "invalid_request", [{"field": exc.field, "reason": exc.reason}])

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[Response, int]:
        code = exc.code or 500
        name = (exc.name or "error").lower().replace(" ", "_")
        return _error(code, name, [], exc.description or "")

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> tuple[Response, int]:
        for cls, code in errors.items():
            if isinstance(exc, cls):
                return _error(code, _snake(type(exc).__name__), [], str(exc))
        log.exception("unhandled error")
        return _error(500, "internal_error", [], "something went wrong; it has been logged")


def _install_probes(app: Flask, ready_check: Callable[[], bool]) -> None:
    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify(status="ok")

    @app.get("/readyz")
    def readyz() -> tuple[Response, int]:
        try:
            ready = ready_check()
        except Exception:
            ready = False
        return jsonify(status="ready" if ready else "not ready"), 200 if ready else 503

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)


def _install_metrics(app: Flask, service: str) -> None:
    @app.after_request
    def count(response: Response) -> Response:
        route = request.url_rule.rule if request.url_rule else "unmatched"
        HTTP_REQUESTS.labels(service, request.method, route, str(response.status_code)).inc()
        started = getattr(g, "started", None)
        if started is not None:
            HTTP_SECONDS.labels(service, request.method, route).observe(
                time.perf_counter() - started
            )
        response.headers["X-Correlation-Id"] = getattr(g, "correlation_id", "")
        return response


def _error(
    status: int, code: str, fields: list[dict[str, Any]], message: str = ""
) -> tuple[Response, int]:
    body: dict[str, Any] = {"error": code, "fields": fields}
    if message:
        body["message"] = message
    elif fields:
        body["message"] = "; ".join(f"{f['field']}: {f['reason']}" for f in fields)
    return jsonify(body), status


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")
