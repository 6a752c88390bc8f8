"""`python -m shared.devstack run|smoke` — the local platform behind `make run` and `make smoke`."""

from __future__ import annotations

import argparse
import atexit
import os
import sys
import threading
import time

import requests

from shared.devstack import demo, infra
from shared.devstack.processes import WEB_PORTS, platform
from shared.settings import load_settings

VAR = infra.ROOT / "var"
LOCALSTRIPE_PORT = 8420
LOCALSTRIPE = f"http://127.0.0.1:{LOCALSTRIPE_PORT}"
CAPTURE_PORT = 8025
CAPTURE = f"http://127.0.0.1:{CAPTURE_PORT}"
ACH_PORT = 8421
"""The Stripe API address the services use in development: ACH here, the rest to localstripe."""
STOPPED_BY_SIGNAL = (130, 143)
"""honcho's return codes after Ctrl-C (SIGINT) or SIGTERM: a clean stop."""


def run() -> int:
    from honcho.manager import Manager

    VAR.mkdir(exist_ok=True)
    env = _infrastructure_env()
    os.environ.update(env)
    settings = load_settings()
    infra.prepare(settings)
    if "KAFKA_BOOTSTRAP_SERVERS" in env:  # our own, empty, in-memory broker
        replayed = infra.replay_outboxes(settings)
        print(f"fresh broker: {replayed} earlier events will be published again", flush=True)
    manager = Manager()
    procs = platform()
    for proc in procs:
        child_env = {**os.environ, "PORT": str(proc.port), "PYTHONPATH": str(infra.ROOT)}
        manager.add_process(proc.name, " ".join(proc.argv), env=child_env, cwd=str(infra.ROOT))
    threading.Thread(
        target=_announce_when_ready, args=(procs, settings.internal_api_token), daemon=True
    ).start()
    if os.environ.get("PROMETHEUS") == "1":
        _start_prometheus()
    manager.loop()
    code = int(manager.returncode or 0)
    return 0 if code in STOPPED_BY_SIGNAL else code


def _infrastructure_env() -> dict[str, str]:
    env: dict[str, str] = {}
    if not os.environ.get("DATABASE_URL"):
        print("starting embedded PostgreSQL in var/pg …", flush=True)
        env["DATABASE_URL"] = infra.start_embedded_postgres(VAR / "pg")
    if not os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        print("starting Tansu broker on 127.0.0.1:9092 …", flush=True)
        log = (VAR / "tansu.log").open("ab")
        broker = infra.start_broker(9092, log)
        atexit.register(infra.stop, broker)
        env["KAFKA_BOOTSTRAP_SERVERS"] = "127.0.0.1:9092"
    if not os.environ.get("STRIPE_API_KEY"):
        print(f"starting localstripe on 127.0.0.1:{LOCALSTRIPE_PORT} …", flush=True)
        log = (VAR / "localstripe.log").open("ab")
        stripe = infra.start_localstripe(LOCALSTRIPE_PORT, log)
        atexit.register(infra.stop, stripe)
        seconds = float(os.environ.get("ACH_CLEAR_SECONDS", "10"))
        ach = infra.start_ach_emulator(ACH_PORT, LOCALSTRIPE, seconds, log)
        atexit.register(infra.stop, ach)
        print(f"ACH (development): bank debits clear after {seconds:g} s", flush=True)
        env["STRIPE_API_BASE"] = f"http://127.0.0.1:{ACH_PORT}"
        env["STRIPE_JS_URL"] = f"{LOCALSTRIPE}/js.stripe.com/v3/"
    if not os.environ.get("TWILIO_API_BASE") and not os.environ.get("SENDGRID_API_KEY"):
        capture = infra.start_capture(CAPTURE_PORT, (VAR / "capture.log").open("ab"))
        atexit.register(infra.stop, capture)
        env["TWILIO_API_BASE"] = env["SENDGRID_API_BASE"] = CAPTURE
        env["DEV_INBOX_URL"] = f"{CAPTURE}/"
        hooks = f"http://127.0.0.1:{WEB_PORTS['notifications']}"
        env["NOTIFICATIONS_PUBLIC_URL"] = hooks
        env["SENDGRID_WEBHOOK_PUBLIC_KEY"] = infra.register_message_webhooks(
            CAPTURE, hooks, load_settings()
        )
        print(f"SMS and email are captured, not sent: inbox at {CAPTURE}/", flush=True)
    return env


PROMETHEUS_PORT = 9090


def _start_prometheus() -> None:
    """`make run PROMETHEUS=1`: Debian's Prometheus scraping every process, with the alerts."""
    from shared.devstack import prometheus

    text = prometheus.config(prometheus.fixed_targets())
    proc = prometheus.start(
        PROMETHEUS_PORT, text, VAR / "prometheus", (VAR / "prometheus.log").open("ab")
    )
    atexit.register(infra.stop, proc)
    print(f"Prometheus: http://127.0.0.1:{PROMETHEUS_PORT}/ (alerts at /alerts)", flush=True)


def _announce_when_ready(procs: list, token: str) -> None:  # type: ignore[type-arg]
    try:
        infra.wait_until(lambda: all(_ready(p.url) for p in procs), 90, "every /readyz")
    except TimeoutError as exc:
        print(f"!! {exc}", flush=True)
        return
    settings = load_settings()
    if settings.stripe_api_base:
        url = f"http://127.0.0.1:{WEB_PORTS['payments']}/webhooks/stripe"
        infra.register_stripe_webhook(
            settings.stripe_api_base, "fieldpay", url, settings.stripe_webhook_secret
        )
    marker = VAR / "demo-loaded"
    demo.add_staff()  # every start: the staff app's users exist even if the demo loaded before
    if marker.exists() and marker.read_text() == os.environ["DATABASE_URL"]:
        print("demo data already loaded", flush=True)
    else:
        urls = {p.name: p.url for p in procs}
        counts = demo.load(urls["jobs-web"], token, urls["invoicing-web"])
        marker.write_text(os.environ["DATABASE_URL"])
        print(f"demo data loaded: {counts}", flush=True)
    lines = ["", "FieldPay is up:"] + [f"  {p.name:<20} {p.url}" for p in procs]
    lines += [
        f"Staff app: http://127.0.0.1:{WEB_PORTS['gateway']}/ — sign in as "
        + ", ".join(email for _, email, _, _ in demo.STAFF)
        + f" with the password {demo.STAFF_PASSWORD!r} (development only)",
    ]
    lines += [
        "  Tansu broker         " + os.environ["KAFKA_BOOTSTRAP_SERVERS"],
        "Press Ctrl-C to stop.",
        "",
    ]
    print("\n".join(lines), flush=True)


def _ready(url: str) -> bool:
    try:
        return requests.get(url + "/readyz", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def smoke(timeout: float = 2.0) -> int:
    """Close a job over HTTP and wait for its draft over HTTP."""
    settings = load_settings()
    jobs = demo.Api(f"http://127.0.0.1:{WEB_PORTS['jobs']}", settings.internal_api_token, "smoke")
    invoicing = demo.Api(
        f"http://127.0.0.1:{WEB_PORTS['invoicing']}", settings.internal_api_token, "smoke"
    )
    try:
        customer = jobs.post(
            "/customers",
            {
                "name": "Smoke Test",
                "email": "smoke@example.com",
                "billing_address": demo.address(1),
            },
        )
        job = jobs.post("/jobs", demo.sample_job(customer["customer_id"], 1))
        jobs.post(f"/jobs/{job['job_id']}/close")
    except (requests.RequestException, RuntimeError) as exc:
        print(f"smoke: FAILED talking to the jobs service: {exc}\nIs `make run` running?")
        return 1
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        items = invoicing.get("/invoices", status="draft", job_id=job["job_id"]).json()["items"]
        if items:
            print(
                f"smoke: OK — job {job['job_id']} drafted as invoice {items[0]['invoice_id']} "
                f"({items[0]['total_cents']} cents) in {time.monotonic() - started:.3f}s"
            )
            return 0
        time.sleep(0.05)
    print(f"smoke: FAILED — no draft for job {job['job_id']} within {timeout}s")
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.devstack")
    parser.add_argument("command", choices=["run", "smoke", "prepare"])
    args = parser.parse_args(argv)
    if args.command == "run":
        return run()
    if args.command == "smoke":
        return smoke()
    infra.prepare(load_settings())
    return 0


if __name__ == "__main__":
    sys.exit(main())
