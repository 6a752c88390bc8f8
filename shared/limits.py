"""Rate limits for the pages anyone on the internet can reach (sign-in, the pay page): per
client address, counted in the process's memory. Behind a proxy (ingress), set TRUSTED_PROXIES to
the number of proxies in front, so the client's own address is the one counted (X-Forwarded-For).
With several replicas each counts its own share: the limit a client meets is per replica."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from werkzeug.middleware.proxy_fix import ProxyFix

from shared.openapi import Operation


def limiter_for(app: Flask, trusted_proxies: int) -> Limiter:
    if trusted_proxies > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=trusted_proxies)  # type: ignore[method-assign]
    return Limiter(
        get_remote_address,
        app=app,
        storage_uri="memory://",
        headers_enabled=True,
        default_limits=[],
    )


def limit_view(app: Flask, limiter: Limiter, endpoint: str, rule: str, **options: Any) -> None:
    """Put ``rule`` (e.g. "10/minute") on a view already registered under ``endpoint``; its
    OpenAPI description (if any) says it may answer 429."""
    view = app.view_functions[endpoint]
    limited: Any = limiter.limit(rule, **options)(view)
    described = getattr(view, "openapi", None)
    if isinstance(described, Operation):
        limited.openapi = replace(described, errors=(*described.errors, 429))
    app.view_functions[endpoint] = limited
