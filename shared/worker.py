"""A worker process: runs background loops (relay, consumers) in threads and serves /healthz,
/readyz and /metrics on its own port. SIGTERM or SIGINT stops it cleanly."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable
from typing import Protocol
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import make_wsgi_app

log = logging.getLogger(__name__)
STALE_AFTER_SECONDS = 30.0
"""/readyz fails when a loop has not come round for this long; /healthz (liveness) at 4x."""


class Loop(Protocol):
    last_beat: float

    def run(self, stop: threading.Event) -> None: ...


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def run_worker(name: str, loops: Iterable[Loop], port: int) -> int:
    """Run until a signal arrives (exit code 0) or a loop dies (1: the supervisor restarts it)."""
    stop = threading.Event()
    loops = list(loops)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    threads = [
        threading.Thread(target=_guard(loop, stop), name=type(loop).__name__, daemon=True)
        for loop in loops
    ]
    server = _serve_health(loops, port)
    for thread in threads:
        thread.start()
    log.info("worker started", extra={"worker": name, "port": port})
    while not stop.is_set() and all(t.is_alive() for t in threads):
        stop.wait(0.5)
    crashed = not all(t.is_alive() for t in threads)
    stop.set()
    for thread in threads:
        thread.join(timeout=10)
    server.shutdown()
    log.info("worker stopped", extra={"worker": name, "crashed": crashed})
    return 1 if crashed else 0


def _guard(loop: Loop, stop: threading.Event) -> Callable[[], None]:
    def target() -> None:
        try:
            loop.run(stop)
        except Exception:
            log.exception("loop crashed", extra={"loop": type(loop).__name__})
            stop.set()

    return target


def _serve_health(loops: list[Loop], port: int) -> WSGIServer:
    metrics = make_wsgi_app()

    def app(environ, start_response):  # type: ignore[no-untyped-def]
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            return metrics(environ, start_response)
        if path in ("/healthz", "/readyz"):
            limit = STALE_AFTER_SECONDS * (4 if path == "/healthz" else 1)
            if all(time.monotonic() - loop.last_beat < limit for loop in loops):
                return _text(start_response, "200 OK", "ok")
            return _text(start_response, "503 Service Unavailable", "a loop is stuck")
        return _text(start_response, "404 Not Found", "not found")

    host = os.environ.get("BIND_HOST", "127.0.0.1")
    server = make_server(host, port, app, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="health", daemon=True).start()
    return server


def _text(start_response, status: str, body: str) -> list[bytes]:  # type: ignore[no-untyped-def]
    start_response(status, [("Content-Type", "text/plain")])
    return [body.encode()]
