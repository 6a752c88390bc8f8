"""One chaos run: the durable stack, the whole platform, the users' work under the monkey, then
the platform left to settle and the tally."""

from __future__ import annotations

import contextlib
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.devstack import infra
from shared.settings import Settings
from tests.chaos import tally
from tests.chaos.monkey import Monkey
from tests.chaos.stack import DurableBroker, RestartablePostgres, Seaweed, stop_leftover_postgres
from tests.chaos.workload import CUSTOMERS_PER_SHOP, SHOPS, Customer, GaveUp, Office, Plan, Told
from tests.support.platform import TOKEN, RunningPlatform, plan, wait_for

ACH_CLEAR_SECONDS = 2.0
SETTLE_SECONDS = 240.0
SERVICES = ("jobs", "invoicing", "payments", "notifications", "reporting", "gateway")


@dataclass
class Outcome:
    rows: list[tally.Row]
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def holds(self) -> bool:
        return all(r.holds for r in self.rows)

    def table(self) -> str:
        return tally.table(self.rows, self.facts)


@dataclass
class Providers:
    localstripe: str
    ach: str
    capture: str


def run(work: Plan, home: Path, min_kills: int, every: float, seed: int) -> Outcome:
    started = time.monotonic()
    with durable_stack(home) as (broker, postgres), providers(home) as found:
        settings = Settings(
            database_url=postgres.url,
            database_prefix="chaos_",
            kafka_bootstrap_servers=broker.bootstrap,
            internal_api_token=TOKEN,
        )
        infra.prepare(settings)
        platform = start_platform(settings, broker, found, home / "logs")
        monkey = Monkey(platform, broker, postgres, random.Random(seed))
        try:
            told = Told()
            drive(platform, work, told, monkey, min_kills, every)
            monkey.revive()
            platform.wait_ready(timeout=120)
            settle(settings, platform, monkey)
            keys = tally.Providers(
                found.capture, found.localstripe, found.ach, settings.stripe_api_key
            )
            rows = counted_when_caught_up(
                lambda: tally.rows(settings, told, keys, platform.url("reporting-web"), TOKEN),
                monkey,
            )
            rows += [
                tally.Row("kill -9s", min_kills, monkey.total_kills, at_least=True),
                tally.Row("broker restarts", 1, monkey.broker_restarts),
                tally.Row("PostgreSQL restarts", 1, monkey.postgres_restarts),
            ]
            facts = {
                "jobs asked": work.jobs,
                "jobs closed": len(told.closed),
                "kill -9s": dict(sorted(monkey.kills.items())),
                "died without a kill (restarted)": dict(monkey.died_alone),
                "HTTP answers the users saw": {str(k): v for k, v in sorted(told.statuses.items())},
                "retries": told.retries,
                "why users gave up (first 5)": told.gave_up[:5],
                "seconds": round(time.monotonic() - started),
                "seed": seed,
            }
            return Outcome(rows, facts)
        finally:
            platform.stop_all()


@contextlib.contextmanager
def durable_stack(home: Path) -> Iterator[tuple[DurableBroker, RestartablePostgres]]:
    stop_leftover_postgres(home / "pg")
    infra.reset_dir(home)
    seaweed = Seaweed(home / "seaweed")
    broker = DurableBroker(seaweed, home)
    postgres = RestartablePostgres(home / "pg")
    try:
        seaweed.start()
        broker.start()
        postgres.start()
        yield broker, postgres
    finally:
        postgres.stop()
        broker.stop()
        seaweed.stop()


@contextlib.contextmanager
def providers(home: Path) -> Iterator[Providers]:
    """The run's own Stripe (localstripe + the ACH path) and Twilio/SendGrid capture: their
    records are the evidence of what was charged and sent."""
    log = (home / "providers.log").open("ab")
    stripe_port, ach_port, capture_port = infra.free_port(), infra.free_port(), infra.free_port()
    stripe = infra.start_localstripe(stripe_port, log)
    local = f"http://127.0.0.1:{stripe_port}"
    ach = infra.start_ach_emulator(ach_port, local, ACH_CLEAR_SECONDS, log)
    capture = infra.start_capture(capture_port, log)
    try:
        yield Providers(local, f"http://127.0.0.1:{ach_port}", f"http://127.0.0.1:{capture_port}")
    finally:
        for proc in (capture, ach, stripe):
            infra.stop(proc)


def start_platform(
    settings: Settings, broker: DurableBroker, found: Providers, logs: Path
) -> RunningPlatform:
    logs.mkdir(parents=True, exist_ok=True)
    keep = {k: v for k, v in os.environ.items() if not k.endswith("DATABASE_URL")}
    env = {
        **keep,
        "DATABASE_URL": settings.database_url,
        "DATABASE_PREFIX": settings.database_prefix,
        "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
        "CONSUMER_SESSION_TIMEOUT_MS": "6000",
        "CONSUMER_HEARTBEAT_INTERVAL_MS": "1000",
        "STRIPE_API_BASE": found.ach,
        "STRIPE_JS_URL": f"{found.localstripe}/js.stripe.com/v3/",
        "TWILIO_API_BASE": found.capture,
        "SENDGRID_API_BASE": found.capture,
        "TRUSTED_PROXIES": "1",
        "MESSAGE_RECONCILE_SECONDS": "2",
        "PAYMENT_CHECK_SECONDS": "3",
    }
    platform = plan(env, logs)
    hooks = platform.url("notifications-web")
    key = infra.register_message_webhooks(found.capture, hooks, settings)
    platform.env.update({"NOTIFICATIONS_PUBLIC_URL": hooks, "SENDGRID_WEBHOOK_PUBLIC_KEY": key})
    for name in platform.procs:
        platform.start(name)
    platform.wait_ready(timeout=120)
    webhook = platform.url("payments-web") + "/webhooks/stripe"
    infra.register_stripe_webhook(found.ach, "chaos", webhook, settings.stripe_webhook_secret)
    return platform


def drive(
    platform: RunningPlatform, work: Plan, told: Told, monkey: Monkey, min_kills: int, every: float
) -> None:
    urls = {name: proc.url for name, proc in platform.procs.items()}
    offices = {shop: Office(urls, shop, TOKEN, told) for shop in SHOPS}
    customers = {
        shop: [offices[shop].add_customer(n) for n in range(CUSTOMERS_PER_SHOP)] for shop in SHOPS
    }
    done: Counter[str] = Counter()

    began = time.monotonic()

    def progress() -> float:
        by_time = (time.monotonic() - began) / 60 / work.minutes if work.minutes else 0.0
        return max(done["jobs"] / work.jobs, by_time)

    def out_of_time() -> bool:
        return work.minutes is not None and time.monotonic() - began > work.minutes * 60

    def work_all() -> None:
        with ThreadPoolExecutor(work.workers) as pool:
            list(pool.map(one_job, range(work.jobs)))

    def one_job(i: int) -> None:
        if out_of_time():
            return
        shop = SHOPS[i % len(SHOPS)]
        try:
            job_life(i, offices[shop], customers[shop][i % CUSTOMERS_PER_SHOP], told)
        except GaveUp as exc:
            with told.lock:
                told.gave_up.append(str(exc))
        except Exception as exc:  # an answer the user could not read: a miss, not a lost thread
            with told.lock:
                told.gave_up.append(f"job {i}: {type(exc).__name__}: {exc}"[:500])
        with told.lock:
            done["jobs"] += 1

    users = threading.Thread(target=work_all, daemon=True)
    users.start()
    monkey.run(every, progress, lambda: not users.is_alive() and monkey.total_kills >= min_kills)


def job_life(i: int, office: Office, customer_id: str, told: Told) -> None:
    job_id = office.close_a_job(customer_id)
    with told.lock:
        told.closed[job_id] = office.shop
    draft = office.draft_for(job_id)
    sent = office.send(draft["invoice_id"])
    with told.lock:
        told.sent[sent["invoice_id"]] = sent["pay_url"]
    how = Plan.payment(i)
    if how is None:
        return
    amount = sent["balance_cents"] // 2 if how == "card-half" else sent["balance_cents"]
    Customer(sent["pay_url"], i, told).pay(amount, "ach" if how == "ach" else "card")
    with told.lock:
        told.paid[sent["invoice_id"]] += amount
        told.payments_made += 1


def settle(settings: Settings, platform: RunningPlatform, monkey: Monkey) -> None:
    """Wait until nothing is left in flight: every outbox published, no bank debit still
    clearing, every message out — restarting whatever dies meanwhile."""

    def quiet() -> bool:
        monkey.revive()
        return all(_in_flight(settings, s) == 0 for s in SERVICES)

    with contextlib.suppress(AssertionError):  # a miss shows in the table
        wait_for(quiet, SETTLE_SECONDS, "the platform to settle", interval=1)


CATCH_UP_SECONDS = 120.0


def counted_when_caught_up(count: Callable[[], list[tally.Row]], monkey: Monkey) -> list[tally.Row]:
    """The tally once every row holds, or as it stands after CATCH_UP_SECONDS: the consumers may
    still be reading the last events when the outboxes are empty (a miss stays a miss)."""
    deadline = time.monotonic() + CATCH_UP_SECONDS
    while True:
        monkey.revive()
        rows = count()
        if all(r.holds for r in rows) or time.monotonic() > deadline:
            return rows
        time.sleep(2)


def _in_flight(settings: Settings, service: str) -> int:
    url = settings.database_url_for(service)
    left = tally.scalar(
        url, "SELECT count(*) FROM events WHERE published_at IS NULL AND topic IS NOT NULL"
    )
    if service == "payments":
        left += tally.scalar(url, "SELECT count(*) FROM charges WHERE status = 'processing'")
    if service == "notifications":
        left += tally.scalar(
            url, "SELECT count(*) FROM messages WHERE status IN ('pending', 'sending')"
        )
    return left
