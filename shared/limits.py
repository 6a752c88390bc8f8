"""Rate limits for the pages anyone on the internet can reach (sign-in, the pay page): per
client address, counted in the process's memory. Behind a proxy (ingress), set TRUSTED_PROXIES to
the number of proxies in front, so the client's own address is the one counted (X-Forwarded-For).
With several replicas each counts its own share: the limit a client meets is per replica."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits.storage import MemoryStorage
from werkzeug.middleware.proxy_fix import ProxyFix

from shared.openapi import Operation


class ThreadSafeMemoryStorage(MemoryStorage):
    """limits 5.8's memory storage starts its expiry timer without a lock: two request threads
    can start the same timer ("threads can only be started once", a 500 seen in the chaos run).
    The same storage, with the timer started under a lock."""

    STORAGE_SCHEME = ["fieldpay-memory"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: Any):
        self._timer_lock = threading.Lock()
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    def _MemoryStorage__schedule_expiry(self) -> None:  # noqa: N802 (the parent's private hook)
        with self._timer_lock:
            if not self.timer.is_alive():
                self.timer = threading.Timer(0.01, self._MemoryStorage__expire_events)  # type: ignore[attr-defined]
                self.timer.start()


def limiter_for(app: Flask, trusted_proxies: int) -> Limiter:
    if trusted_proxies > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=trusted_proxies)  # type: ignore[method-assign]
    return Limiter(
        get_remote_address,
        app=app,
        storage_uri="fieldpay-memory://",
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
