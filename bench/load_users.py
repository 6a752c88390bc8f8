"""The simulated people of `make load`, driven by locust as a library in this one process.

    python -m bench.load_users PLAN.json RESULT.json

Office staff sign in once (through the real form, CSRF token and all) and browse the staff app;
customers open their pay links, fetch pay.js and now and then the PDF. Each person keeps a steady
pace (locust's constant throughput), so the offered rate is theirs summed; each comes from its own
address in X-Forwarded-For, as behind an ingress. Every request is timed here, from the moment it
is sent to its last byte; only the window after everyone has signed in and warmed up counts. A
request counts as served only with the expected status and content; anything else is an error.

Importing locust patches the standard library for gevent (time.sleep here yields to the other
people): keep this module in its own process
(bench/load.py starts it), never import it next to the platform's code."""

from __future__ import annotations

import itertools
import json
import random
import re
import resource
import statistics
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import psutil
from locust import FastHttpUser, constant_throughput, events, task
from locust.env import Environment

CSRF = re.compile(rb'name="csrf_token"[^>]*value="([^"]+)"')


@dataclass
class Window:
    """What was measured: each request's time and outcome, only while ``open``."""

    open: bool = False
    times: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    failures: Counter[tuple[str, str]] = field(default_factory=Counter)
    outside: int = 0

    before: Counter[tuple[str, str]] = field(default_factory=Counter)
    """Failures before the window (signing in, warming up): reported, not counted."""

    def record(self, name: str, milliseconds: float, exception: BaseException | None) -> None:
        if not self.open:
            self.outside += 1
            if exception is not None:
                self.before[(name, _short(exception))] += 1
            return
        self.times[name].append(milliseconds)
        if exception is not None:
            self.failures[(name, _short(exception))] += 1


WINDOW = Window()
PLAN: dict[str, Any] = {}
SIGNED_IN: list[str] = []
SIGNING_IN = threading.BoundedSemaphore(2)
"""People sign in two at a time, as over a morning: each sign-in is one argon2id check (64 MiB,
deliberately slow); sixty at once would only measure that storm."""


def _short(exception: BaseException) -> str:
    return f"{type(exception).__name__}: {exception}"[:160]


def _timed(name: str, response_time: float, exception: BaseException | None, **_: object) -> None:
    WINDOW.record(name, response_time, exception)


events.request.add_listener(_timed)  # type: ignore[no-untyped-call]


class Person(FastHttpUser):
    """One browser: its own connection, cookies and address."""

    abstract = True
    concurrency = 1
    network_timeout = 30.0
    connection_timeout = 10.0
    rate = 1.0
    addresses: itertools.count[int] = itertools.count(1)

    def on_start(self) -> None:
        self.address = self.address_of(next(Person.addresses))
        time.sleep(random.uniform(0, 1 / self.rate))  # each person's own phase: no bursts

    @staticmethod
    def address_of(n: int) -> str:
        """A documentation address (RFC 3849), one per person; it only travels in a header."""
        return f"2001:db8::{n:x}"

    def get(self, name: str, path: str, expect: bytes, kind: str = "text/html") -> None:
        headers = {"X-Forwarded-For": self.address}
        with self.client.get(
            path, name=name, headers=headers, allow_redirects=False, catch_response=True
        ) as response:
            body = response.content or b""
            if response.status_code != 200:
                response.failure(f"status {response.status_code}")
            elif kind not in (response.headers.get("Content-Type") or ""):
                response.failure(f"content type {response.headers.get('Content-Type')}")
            elif expect not in body:
                response.failure(f"{expect.decode()!r} missing")


class OfficeStaff(Person):
    """An office user of one shop: the queue, review pages, lists, customers, AR aging."""

    abstract = True
    accounts: itertools.count[int] = itertools.count()

    def on_start(self) -> None:
        account = PLAN["staff"]["accounts"][next(OfficeStaff.accounts)]
        self.shop: dict[str, Any] = PLAN["shops"][account["shop"]]
        super().on_start()
        self.sign_in(account["email"], account["password"])

    def sign_in(self, email: str, password: str) -> None:
        with SIGNING_IN:
            self._sign_in(email, password)

    def _sign_in(self, email: str, password: str) -> None:
        headers = {"X-Forwarded-For": self.address}
        form = self.client.get("/signin", name="sign-in", headers=headers)
        found = CSRF.search(form.content or b"")
        token = found[1].decode() if found else ""
        body = urlencode({"email": email, "password": password, "csrf_token": token})
        with self.client.post(
            "/signin",
            data=body,
            name="sign-in",
            headers={**headers, "Content-Type": "application/x-www-form-urlencoded"},
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code != 302:
                response.failure(f"sign-in answered {response.status_code}")
            else:
                SIGNED_IN.append(email)

    @task(3)
    def queue(self) -> None:
        self.get("staff: queue", "/invoices", b"Ready to send")

    @task(4)
    def review(self) -> None:
        invoice_id = random.choice(self.shop["invoices"])
        self.get("staff: invoice review", f"/invoices/{invoice_id}", invoice_id.encode())

    @task(2)
    def sent_list(self) -> None:
        status = random.choice(("sent", "overdue", "viewed"))
        self.get("staff: invoice list", f"/invoices?status={status}", b"Invoices: ")

    @task(1)
    def search(self) -> None:
        name = random.choice(self.shop["customer_names"])
        self.get("staff: search", f"/invoices?q={name[:5]}", b"matching")

    @task(1)
    def customers(self) -> None:
        self.get("staff: customers", "/customers", b"Customers")

    @task(1)
    def customer(self) -> None:
        customer_id = random.choice(self.shop["customers"])
        self.get("staff: customer", f"/customers/{customer_id}", customer_id.encode())

    @task(1)
    def aging(self) -> None:
        self.get("staff: AR aging", "/reports/ar-aging", b"AR aging")

    @task(1)
    def aging_drill_down(self) -> None:
        bucket = random.randint(0, 4)
        self.get(
            "staff: AR aging bucket", f"/reports/ar-aging/invoices?bucket={bucket}", b"AR aging"
        )

    @task(1)
    def closed_jobs(self) -> None:
        self.get("staff: jobs", "/jobs?status=closed", b"Jobs: closed")


class Customer(Person):
    """A customer who got the text: opens the pay link now and then, loads pay.js, the PDF."""

    abstract = True
    links: itertools.count[int] = itertools.count()

    def on_start(self) -> None:
        links = PLAN["pay"]["links"]
        self.token, self.number = links[next(Customer.links) % len(links)]
        super().on_start()

    @task(8)
    def pay_page(self) -> None:
        self.get("pay: page", f"/p/{self.token}", self.number.encode())

    @task(1)
    def script(self) -> None:
        self.get("pay: pay.js", "/p/static/pay.js", b"", kind="javascript")

    @task(1)
    def pdf(self) -> None:
        self.get("pay: PDF", f"/p/{self.token}/pdf", b"%PDF", kind="application/pdf")


def people(plan: dict[str, Any]) -> list[type[Person]]:
    """The two kinds of person, with the plan's head counts and paces."""
    staff, pay = plan["staff"], plan["pay"]
    office = type(
        "Office",
        (OfficeStaff,),
        {
            "abstract": False,
            "host": plan["gateway"],
            "fixed_count": staff["users"],
            "rate": staff["rate"],
            "wait_time": constant_throughput(staff["rate"]),
        },
    )
    customer = type(
        "PayingCustomer",
        (Customer,),
        {
            "abstract": False,
            "host": plan["payments"],
            "fixed_count": pay["users"],
            "rate": pay["rate"],
            "wait_time": constant_throughput(pay["rate"]),
        },
    )
    return [office, customer]


@dataclass
class Cpu:
    """CPU seconds used over the window: by this process, the platform's and the machine."""

    platform: list[psutil.Process]
    started: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    by_process: dict[str, float] = field(default_factory=dict)

    def reading(self) -> tuple[float, float, float, float]:
        own = resource.getrusage(resource.RUSAGE_SELF)
        machine = psutil.cpu_times()
        busy = machine.user + machine.nice + machine.system + machine.irq + machine.softirq
        return time.monotonic(), own.ru_utime + own.ru_stime, self._platform(), busy

    def _platform(self) -> float:
        self.by_process = {}
        for proc in self.platform:
            try:
                name = _label(proc)
                for member in [proc, *proc.children(recursive=True)]:
                    times = member.cpu_times()
                    used = times.user + times.system
                    self.by_process[name] = self.by_process.get(name, 0.0) + used
            except psutil.Error:
                continue
        return sum(self.by_process.values())

    def start(self) -> None:
        self.started = self.reading()
        self.first = dict(self.by_process)

    def shares(self) -> dict[str, float]:
        """Cores used on average over the window (2.0 = both cores of this machine)."""
        now = self.reading()
        wall = now[0] - self.started[0]
        load, platform, machine = (now[i] - self.started[i] for i in (1, 2, 3))
        return {
            "locust": load / wall,
            "platform": platform / wall,
            "machine": machine / wall,
            "cores": float(psutil.cpu_count() or 0),
        } | {
            f"platform: {name}": (used - self.first.get(name, 0.0)) / wall
            for name, used in self.by_process.items()
        }


def _label(proc: psutil.Process) -> str:
    """A platform process by what it runs: payments-web, invoicing-consumer, postgres …"""
    command = " ".join(proc.cmdline())
    for word in command.replace(":", " ").split():
        if word.startswith("services.") and word.count(".") >= 3:
            service, _, kind = word.split(".")[1:4]
            return f"{service}-{'web' if kind == 'flask_app' else kind}"
    return proc.name()


def summary(name: str, samples: list[float], failed: int, seconds: float) -> dict[str, Any]:
    ordered = sorted(samples)
    cuts = statistics.quantiles(ordered, n=100, method="inclusive") if len(ordered) > 1 else []
    pick = (lambda p: cuts[p - 1]) if cuts else (lambda p: ordered[0] if ordered else 0.0)
    return {
        "name": name,
        "requests": len(ordered),
        "failures": failed,
        "rps": len(ordered) / seconds,
        "p50": pick(50),
        "p95": pick(95),
        "p99": pick(99),
        "max": ordered[-1] if ordered else 0.0,
    }


def results(seconds: float, cpu: dict[str, float]) -> dict[str, Any]:
    failed = Counter[str]()
    for (name, _why), count in WINDOW.failures.items():
        failed[name] += count
    pages = [
        summary(name, WINDOW.times[name], failed[name], seconds) for name in sorted(WINDOW.times)
    ]
    groups = []
    for group in ("staff", "pay"):
        names = [n for n in WINDOW.times if n.startswith(group + ":")]
        samples = [t for n in names for t in WINDOW.times[n]]
        groups.append(summary(group, samples, sum(failed[n] for n in names), seconds))
    everything = [t for samples in WINDOW.times.values() for t in samples]
    return {
        "seconds": seconds,
        "pages": pages,
        "groups": groups,
        "total": summary("total", everything, sum(failed.values()), seconds),
        "errors": [
            {"name": name, "error": why, "count": count}
            for (name, why), count in WINDOW.failures.most_common(20)
        ],
        "errors_before_window": [
            {"name": name, "error": why, "count": count}
            for (name, why), count in WINDOW.before.most_common(10)
        ],
        "cpu": cpu,
        "signed_in": len(SIGNED_IN),
        "requests_outside_window": WINDOW.outside,
    }


def run(plan: dict[str, Any]) -> dict[str, Any]:
    PLAN.update(plan)
    classes = people(plan)
    env = Environment(user_classes=list(classes), events=events)
    runner = env.create_local_runner()
    everyone = plan["staff"]["users"] + plan["pay"]["users"]
    runner.start(everyone, spawn_rate=plan["spawn_rate"])
    deadline = time.monotonic() + plan["spawn_seconds_max"]
    while (
        runner.user_count < everyone or len(SIGNED_IN) < plan["staff"]["users"]
    ) and time.monotonic() < deadline:
        time.sleep(0.2)
    print(
        f"load: {runner.user_count} people running, {len(SIGNED_IN)} staff signed in; "
        f"warming up {plan['warmup']} s, then measuring {plan['seconds']} s",
        flush=True,
    )
    time.sleep(plan["warmup"])
    cpu = Cpu([psutil.Process(pid) for pid in plan["platform_pids"]])
    cpu.start()
    WINDOW.open, started = True, time.monotonic()
    time.sleep(plan["seconds"])
    WINDOW.open, seconds = False, time.monotonic() - started
    shares = cpu.shares()
    runner.quit()
    return results(seconds, shares)


def main(argv: list[str]) -> int:
    plan_path, result_path = Path(argv[0]), Path(argv[1])
    found = run(json.loads(plan_path.read_text()))
    result_path.write_text(json.dumps(found, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
