"""Test infrastructure: a throwaway PostgreSQL (embedded unless DATABASE_URL is set) per session,
a fresh in-memory Tansu broker (unless KAFKA_BOOTSTRAP_SERVERS is set) and fresh databases for
every test — or for every module, for the ``module_*`` variants."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.db import drop_database
from shared.devstack import infra
from shared.settings import SERVICES, Settings

VAR = infra.ROOT / "var"
ACH_CLEAR_SECONDS = 1.0
"""How long a bank debit takes to clear in the tests' ACH emulator."""


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    return infra.start_embedded_postgres(VAR / "test-pg")


@pytest.fixture(scope="session", autouse=True)
def localstripe() -> Iterator[str]:
    """One localstripe for the session (unless STRIPE_API_BASE points at one): the services'
    processes inherit its address from the environment."""
    if os.environ.get("STRIPE_API_BASE"):
        yield os.environ["STRIPE_API_BASE"]
        return
    VAR.mkdir(exist_ok=True)
    log = (VAR / "test-localstripe.log").open("ab")
    port, ach_port = infra.free_port(), infra.free_port()
    proc = infra.start_localstripe(port, log)
    local = f"http://127.0.0.1:{port}"
    ach = infra.start_ach_emulator(ach_port, local, ACH_CLEAR_SECONDS, log)
    base = f"http://127.0.0.1:{ach_port}"
    os.environ["STRIPE_API_BASE"] = base
    os.environ["STRIPE_JS_URL"] = f"{local}/js.stripe.com/v3/"
    try:
        yield base
    finally:
        del os.environ["STRIPE_API_BASE"], os.environ["STRIPE_JS_URL"]
        infra.stop(ach)
        infra.stop(proc)


@pytest.fixture(scope="session", autouse=True)
def capture_server() -> Iterator[str]:
    """The local Twilio/SendGrid stand-in for the session (its inbox is the tests' evidence)."""
    if os.environ.get("TWILIO_API_BASE"):
        yield os.environ["TWILIO_API_BASE"]
        return
    VAR.mkdir(exist_ok=True)
    port = infra.free_port()
    proc = infra.start_capture(port, (VAR / "test-capture.log").open("ab"))
    base = f"http://127.0.0.1:{port}"
    os.environ["TWILIO_API_BASE"] = os.environ["SENDGRID_API_BASE"] = base
    os.environ["DEV_INBOX_URL"] = base + "/"
    try:
        yield base
    finally:
        del os.environ["TWILIO_API_BASE"], os.environ["SENDGRID_API_BASE"]
        os.environ.pop("DEV_INBOX_URL", None)
        infra.stop(proc)


@contextlib.contextmanager
def running_broker(log_dir: Path) -> Iterator[str]:
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield os.environ["KAFKA_BOOTSTRAP_SERVERS"]
        return
    port = infra.free_port()
    proc = infra.start_broker(port, (log_dir / "tansu.log").open("ab"))
    try:
        yield f"127.0.0.1:{port}"
    finally:
        infra.stop(proc)


@contextlib.contextmanager
def fresh_databases(pg_server_url: str, broker: str) -> Iterator[Settings]:
    prefix = f"t{uuid.uuid4().hex[:10]}_"
    s = Settings(
        database_url=pg_server_url,
        database_prefix=prefix,
        kafka_bootstrap_servers=broker,
        internal_api_token="test-token",
    )
    infra.prepare(s)
    try:
        yield s
    finally:
        for service in SERVICES:
            drop_database(s.admin_database_url(), s.database_url_for(service))


def env_for(settings: Settings) -> dict[str, str]:
    """Environment for a service subprocess using these databases and this broker."""
    keep = {k: v for k, v in os.environ.items() if not k.endswith("DATABASE_URL")}
    return {
        **keep,
        "DATABASE_URL": settings.database_url,
        "DATABASE_PREFIX": settings.database_prefix,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "CONSUMER_SESSION_TIMEOUT_MS": "6000",
        "CONSUMER_HEARTBEAT_INTERVAL_MS": "1000",
    }


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[str]:
    with running_broker(tmp_path) as bootstrap:
        yield bootstrap


@pytest.fixture
def settings(pg_server_url: str, broker: str) -> Iterator[Settings]:
    with fresh_databases(pg_server_url, broker) as s:
        yield s


@pytest.fixture
def service_env(settings: Settings) -> dict[str, str]:
    return env_for(settings)


@pytest.fixture(scope="module")
def module_settings(
    pg_server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    with (
        running_broker(tmp_path_factory.mktemp("broker")) as bootstrap,
        fresh_databases(pg_server_url, bootstrap) as s,
    ):
        yield s
