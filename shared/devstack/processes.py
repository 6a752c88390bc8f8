"""The platform's process table: what `make run` supervises and the end-to-end tests start."""

from __future__ import annotations

import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class Process:
    name: str
    argv: tuple[str, ...]
    port: int
    web: bool

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


WEB_PORTS = {
    "gateway": 8000,
    "jobs": 8001,
    "invoicing": 8002,
    "notifications": 8003,
    "payments": 8004,
    "reporting": 8005,
}
WORKERS = {
    "jobs-relay": ("services.jobs.entrypoints.relay", 9101),
    "jobs-consumer": ("services.jobs.entrypoints.consumer", 9102),
    "invoicing-consumer": ("services.invoicing.entrypoints.consumer", 9103),
    "invoicing-relay": ("services.invoicing.entrypoints.relay", 9104),
    "payments-consumer": ("services.payments.entrypoints.consumer", 9105),
    "payments-relay": ("services.payments.entrypoints.relay", 9106),
    "notifications-consumer": ("services.notifications.entrypoints.consumer", 9107),
    "notifications-scheduler": ("services.notifications.entrypoints.scheduler", 9108),
    "notifications-relay": ("services.notifications.entrypoints.relay", 9109),
    "reporting-consumer": ("services.reporting.entrypoints.consumer", 9110),
    "gateway-consumer": ("services.gateway.entrypoints.consumer", 9111),
}


KEEP_ALIVE_SECONDS = 5
"""An idle browser's connection stays open this long (gunicorn's default is 2 s): a customer on
the pay page asks every few seconds and reuses it instead of connecting anew each time."""
THREADS = {"gateway": 64}
"""The staff app holds a thread per open page's live stream (server-sent events)."""


def web(service: str, port: int) -> Process:
    argv = (
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "1",
        "--worker-class",
        "gthread",
        "--threads",
        str(THREADS.get(service, 8)),
        "--graceful-timeout",
        "5",
        "--keep-alive",
        str(KEEP_ALIVE_SECONDS),
        "--log-level",
        "warning",
        f"services.{service}.entrypoints.flask_app:app",
    )
    return Process(f"{service}-web", argv, port, web=True)


def worker(name: str, module: str, port: int) -> Process:
    return Process(name, (sys.executable, "-m", module), port, web=False)


def platform(port_offset: int = 0) -> list[Process]:
    procs = [web(s, p + port_offset) for s, p in WEB_PORTS.items()]
    procs += [worker(n, m, p + port_offset) for n, (m, p) in WORKERS.items()]
    return procs
