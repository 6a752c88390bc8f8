"""The platform's CPU per request of `make load`'s mix, page by page (a quiet meter, not a race).

On a machine other people load too, latency says little about the platform's own cost; CPU time
does. This starts `make load`'s platform with its data (bench/load.py, bench/load_seed.py), signs
one office user in, then asks each page of the mix ``--requests`` times, one request at a time,
and reads the CPU every process of the platform used meanwhile (PostgreSQL's backends, the broker,
consumers and relays included). It also reads what the platform burns while nobody asks anything
(relays polling, consumers, the scheduler): at `make load`'s rate that is a share of every request.

    python -m bench.load_cpu [--requests 200] [--idle 10]
    python -m bench.load_cpu --hold var/load-cpu.json   # start, seed, keep running
    python -m bench.load_cpu --against var/load-cpu.json  # measure a held platform

``--hold`` and ``--against`` are for iterating: after a code change, ``kill -HUP`` a web
process's gunicorn (its pid is in the file) and it serves the new code on the same data.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
import shutil
import signal
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import requests
import requests.adapters
from urllib3.util.retry import Retry

from bench import load_seed
from bench.load import VAR, Platform

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
RATE = 200.0
STAFF_SHARE = 0.6
STAFF_PAGES = {
    "staff: queue": 3,
    "staff: invoice review": 4,
    "staff: invoice list": 2,
    "staff: search": 1,
    "staff: customers": 1,
    "staff: customer": 1,
    "staff: AR aging": 1,
    "staff: AR aging bucket": 1,
    "staff: jobs": 1,
}
PAY_PAGES = {"pay: page": 8, "pay: pay.js": 1, "pay: PDF": 1}
"""The weights of bench/load_users.py's tasks: the mix the figures are averaged over."""


@dataclass(frozen=True)
class Held:
    """What a measurement needs of a running platform."""

    gateway: str
    payments: str
    pids: list[int]
    seeded: dict[str, Any]
    idle: dict[str, float] = field(default_factory=dict)
    """Cores by process while nobody asks (taken off each page's figure)."""


def cpu_by_process(pids: list[int]) -> dict[str, float]:
    """CPU seconds so far of each platform process (children summed into their parent's name)."""
    found: dict[str, float] = {}
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            name = _label(proc)
            for member in [proc, *proc.children(recursive=True)]:
                times = member.cpu_times()
                found[name] = found.get(name, 0.0) + times.user + times.system
        except psutil.Error:
            continue
    return found


def _label(proc: psutil.Process) -> str:
    for word in " ".join(proc.cmdline()).replace(":", " ").split():
        if word.startswith("services.") and word.count(".") >= 3:
            service, _, kind = word.split(".")[1:4]
            return f"{service}-{'web' if kind == 'flask_app' else kind}"
    return proc.name()


def signed_in(gateway: str, account: dict[str, str]) -> requests.Session:
    http = requests.Session()
    http.trust_env = False
    http.headers["X-Forwarded-For"] = "2001:db8::cafe"
    form = http.get(gateway + "/signin", timeout=30)
    found = CSRF.search(form.text)
    body = {
        "email": account["email"],
        "password": account["password"],
        "csrf_token": found[1] if found else "",
    }
    answer = http.post(gateway + "/signin", data=body, allow_redirects=False, timeout=60)
    if answer.status_code != 302:
        raise RuntimeError(f"sign-in answered {answer.status_code}")
    return http


def staff_paths(shop: dict[str, list[str]]) -> dict[str, Callable[[], str]]:
    """Each staff page of the mix, as bench/load_users.py picks its address."""
    return {
        "staff: queue": lambda: "/invoices",
        "staff: invoice review": lambda: f"/invoices/{random.choice(shop['invoices'])}",
        "staff: invoice list": lambda: (
            "/invoices?status=" + random.choice(("sent", "overdue", "viewed"))
        ),
        "staff: search": lambda: f"/invoices?q={random.choice(shop['customer_names'])[:5]}",
        "staff: customers": lambda: "/customers",
        "staff: customer": lambda: f"/customers/{random.choice(shop['customers'])}",
        "staff: AR aging": lambda: "/reports/ar-aging",
        "staff: AR aging bucket": lambda: (
            f"/reports/ar-aging/invoices?bucket={random.randint(0, 4)}"
        ),
        "staff: jobs": lambda: "/jobs?status=closed",
    }


PDFS_PER_CUSTOMER = 60 * 0.4 / 10
"""How often one customer of `make load` opens their PDF in its 60 s window (0.4 requests/s,
one in ten a PDF): 2.4 times, the first of them new to the pay page."""


def pay_paths(links: list[list[str]], count: int) -> dict[str, Callable[[], str]]:
    """The PDFs asked for come from as many links as `make load`'s window would meet: one new
    link per PDFS_PER_CUSTOMER requests (the rest the same customers' again); each round starts
    on links the last one did not ask for."""
    pdfs = links[: max(1, round(count / PDFS_PER_CUSTOMER))]
    return {
        "pay: page": lambda: f"/p/{random.choice(links)[0]}",
        "pay: pay.js": lambda: "/p/static/pay.js",
        "pay: PDF": lambda: f"/p/{random.choice(pdfs)[0]}/pdf",
    }


def measure_page(
    held: Held, http: requests.Session, base: str, path: Callable[[], str], count: int
) -> tuple[float, dict[str, float]]:
    """CPU milliseconds per request, in all and by process; every answer must be a 200. Four
    people ask at once (each its own connection), so the window is short and the idle
    background subtracted from it small."""
    addresses = itertools.count(1)
    people = [_copy(http) for _ in range(PEOPLE)]

    def ask(n: int) -> None:
        # each request from its own address (as in make load): the pay page's limits stay on
        headers = {"X-Forwarded-For": f"2001:db8:1::{next(addresses):x}"}
        answer = people[n % PEOPLE].get(
            base + path(), headers=headers, allow_redirects=False, timeout=60
        )
        if answer.status_code != 200:
            raise RuntimeError(f"{answer.url} answered {answer.status_code}")

    with ThreadPoolExecutor(PEOPLE) as pool:
        list(pool.map(ask, range(2 * PEOPLE)))  # warm-up: connections open, caches as in a run
        before, started = cpu_by_process(held.pids), time.monotonic()
        list(pool.map(ask, range(count)))
    after, wall = cpu_by_process(held.pids), time.monotonic() - started
    per = {
        k: (after[k] - before.get(k, 0.0) - held.idle.get(k, 0.0) * wall) * 1000 / count
        for k in after
        if on_the_path(k)
    }
    return sum(per.values()), per


PEOPLE = 4


def _copy(http: requests.Session) -> requests.Session:
    """A person of their own, signed in as ``http``. A kept-alive connection the server closes
    just as a request goes out is asked again once (this meter counts CPU, not errors)."""
    person = requests.Session()
    person.trust_env = False
    again = requests.adapters.HTTPAdapter(max_retries=Retry(total=1, allowed_methods=["GET"]))
    person.mount("http://", again)
    person.headers.update(http.headers)
    person.cookies.update(http.cookies)
    return person


def on_the_path(process: str) -> bool:
    """The processes a page's request goes through: the web processes and PostgreSQL. What the
    rest (consumers, relays, the broker) spend is read while idle, as background; a page's
    events (a pay link's first view) happen once per link in `make load`, not per request."""
    return process.endswith("-web") or process == "postgres"


def measure_idle(pids: list[int], seconds: float) -> dict[str, float]:
    """Cores each process uses while nobody asks anything."""
    before = cpu_by_process(pids)
    time.sleep(seconds)
    after = cpu_by_process(pids)
    return {k: (after[k] - before.get(k, 0.0)) / seconds for k in after}


def measure(held: Held, count: int, idle_seconds: float, rounds: int = 1) -> list[str]:
    """Each page's figure is the median of ``rounds`` readings, taken in turn (page after page,
    round after round), so a spell of contention on a shared machine does not fall on one page."""
    idle_by = measure_idle(held.pids, idle_seconds)
    held.idle.update(idle_by)
    idle = sum(idle_by.values())
    seeded = held.seeded
    account = seeded["accounts"][0]
    shop = seeded["shops"][account["shop"]]
    http = signed_in(held.gateway, account)
    readings: dict[str, list[tuple[float, dict[str, float]]]] = {}
    for turn in range(rounds):
        fresh = turn * round(count / PDFS_PER_CUSTOMER) % len(seeded["links"])
        links = seeded["links"][fresh:] + seeded["links"][:fresh]
        plans = [(held.gateway, staff_paths(shop)), (held.payments, pay_paths(links, count))]
        for base, paths in plans:
            for name, path in paths.items():
                readings.setdefault(name, []).append(measure_page(held, http, base, path, count))
    figures: dict[str, float] = {}
    lines = [f"{'page':<26}{'CPU ms/request':>15}  busiest (ms)  [{rounds} × {count} requests]"]
    for name, taken in readings.items():
        total, per = sorted(taken, key=lambda reading: reading[0])[len(taken) // 2]
        figures[name] = total
        top = sorted(per.items(), key=lambda kv: -kv[1])[:4]
        spread = f" ({min(t for t, _ in taken):.2f}–{max(t for t, _ in taken):.2f})"
        lines.append(
            f"{name:<26}{total:>15.2f}  "
            + ", ".join(f"{k} {v:.2f}" for k, v in top)
            + (spread if rounds > 1 else "")
        )
    staff = _weighted(figures, STAFF_PAGES)
    pay = _weighted(figures, PAY_PAGES)
    mix = STAFF_SHARE * staff + (1 - STAFF_SHARE) * pay
    background = idle * 1000 / RATE
    top_idle = sorted(idle_by.items(), key=lambda kv: -kv[1])[:5]
    lines += [
        "",
        f"staff app (weighted as in make load): {staff:.2f} ms/request",
        f"pay page  (weighted as in make load): {pay:.2f} ms/request",
        f"idle platform: {idle:.3f} cores ("
        + ", ".join(f"{k} {v:.3f}" for k, v in top_idle)
        + f") = {background:.2f} ms per request at {RATE:.0f} req/s",
        f"MIX: {mix:.2f} ms/request + background {background:.2f} = {mix + background:.2f} ms "
        f"of platform CPU per request → {(mix + background) * RATE / 1000:.2f} cores at "
        f"{RATE:.0f} req/s",
    ]
    return lines


def _weighted(figures: dict[str, float], weights: dict[str, int]) -> float:
    return sum(figures[k] * w for k, w in weights.items()) / sum(weights.values())


def _started(home: Path) -> tuple[Platform, Held]:
    platform = Platform(home).__enter__()
    try:
        seeded = load_seed.seed(platform.env, platform.url, 3, 200)
    except BaseException:
        platform.__exit__(None, None, None)
        raise
    held = Held(
        platform.url("gateway-web"),
        platform.url("payments-web"),
        platform.pids(),
        {"accounts": seeded.accounts, "links": seeded.links, "shops": seeded.shops},
    )
    return platform, held


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load_cpu", description=__doc__)
    parser.add_argument("--requests", type=int, default=200, help="requests per page")
    parser.add_argument("--idle", type=float, default=20.0, help="seconds of idle reading")
    parser.add_argument("--rounds", type=int, default=3, help="readings per page (median)")
    parser.add_argument("--hold", type=Path, help="start, seed, write this file, keep running")
    parser.add_argument("--against", type=Path, help="measure the platform this file names")
    args = parser.parse_args(argv)
    if args.against:
        state = json.loads(args.against.read_text())
        held = Held(state["gateway"], state["payments"], state["pids"], state["seeded"])
        print("\n".join(measure(held, args.requests, args.idle, args.rounds)), flush=True)
        return 0
    VAR.mkdir(exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="load-cpu-", dir=VAR))
    platform, held = _started(home)
    try:
        if args.hold:
            started = platform.running[-len(platform.procs) :]
            pids = {name: popen.pid for name, popen in zip(platform.procs, started, strict=True)}
            args.hold.write_text(json.dumps({**held.__dict__, "by_name": pids}))
            print(f"load_cpu: holding; {args.hold} written", flush=True)
            stop = {signal.SIGINT, signal.SIGTERM}
            signal.pthread_sigmask(signal.SIG_BLOCK, stop)
            signal.sigwait(stop)
        else:
            print("\n".join(measure(held, args.requests, args.idle, args.rounds)), flush=True)
    finally:
        platform.__exit__(None, None, None)
        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
