"""`make bench`: the closed→drafted pipeline against the raw Kafka client, in one run.

1. raw: kafka-python produce→consume of N JobClosed-sized messages on the same broker, with the
   same client settings the services use — the ceiling the pipeline is compared with;
2. throughput: 10,000 jobs are closed while the jobs relay is held back, then released; measured
   from the first JobClosed the relay publishes to the last InvoiceDrafted the invoicing relay
   publishes (timestamps from the two databases' outbox columns);
3. latency: jobs closed over HTTP at a steady 50/s; per job, JobClosed committed → draft visible
   in invoicing's queue, and → InvoiceDrafted acknowledged by the broker; its baseline is one hop
   of the raw client at the same rate (each message sent and flushed alone, as the relay does at
   that rate, its latency from send to poll), measured before the platform starts.

BENCH_PIPELINE_JOBS, BENCH_PIPELINE_RAW and BENCH_PIPELINE_SECONDS shrink a development run.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import struct
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import psycopg
import requests
from kafka import KafkaConsumer

from bench.table import Figure, Goal, report
from shared.db import drop_database
from shared.devstack import demo, infra
from shared.devstack.processes import WORKERS, web, worker
from shared.kafka import PROMPT_FETCH_WAIT_MS, ensure_topics, make_consumer, make_producer
from shared.relay import LEADER_LOCK
from shared.settings import SERVICES, Settings

VAR = infra.ROOT / "var"
TOKEN = "bench-token"
RAW_VALUE_BYTES = 1500
"""About the size of a JobClosed with a few lines (the pipeline's messages are 1.4–2.6 KB)."""


GOAL_JOBS_PER_S, FIRST_TARGET_JOBS_PER_S, GOAL_RATIO, GOAL_P99_MS = 2000.0, 500.0, 0.25, 100.0


def arguments() -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=int(env("BENCH_PIPELINE_JOBS", "10000")))
    parser.add_argument("--raw", type=int, default=int(env("BENCH_PIPELINE_RAW", "50000")))
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=float(env("BENCH_PIPELINE_SECONDS", "20")))
    parser.add_argument(
        "--consumers", type=int, default=1, help="invoicing consumer replicas (as in make run)"
    )
    return parser.parse_args()


def main() -> int:
    return report(measure(arguments()))


def measure(args: argparse.Namespace) -> list[Figure]:
    with Infrastructure() as settings:
        raw_rate = bench_raw(settings.kafka_bootstrap_servers, args.raw)
        _print_raw(raw_rate, args.raw)
        hop = bench_raw_latency(
            settings.kafka_bootstrap_servers, args.rate, int(args.rate * min(args.seconds, 10))
        )
        print(f"raw: one hop at {args.rate:.0f}/s p50 {hop[0]:.1f} ms p99 {hop[1]:.1f} ms")
        with _platform(settings, args.consumers) as platform:
            throughput = bench_throughput(settings, platform, args.jobs)
            p50, p99, p50_pub, p99_pub, n = bench_latency(
                settings, platform.urls, args.rate, args.seconds
            )
    print("\n=== FieldPay bench (one run, same machine, same broker, same client) ===")
    print(
        f"pipeline: jobs relay → {args.consumers} invoicing consumer replica(s) → invoicing relay"
    )
    print(f"raw kafka-python produce→consume : {raw_rate:10.0f} msg/s  ({args.raw} messages)")
    print(f"closed→drafted throughput        : {throughput:10.0f} jobs/s ({args.jobs} jobs)")
    print(f"ratio pipeline / raw             : {throughput / raw_rate:10.3f}")
    print(
        f"latency at {args.rate:.0f} jobs/s, {n} jobs  : closed→draft visible   "
        f"p50 {p50:6.1f} ms  p99 {p99:6.1f} ms"
    )
    print(
        f"                                   closed→InvoiceDrafted acked "
        f"p50 {p50_pub:6.1f} ms  p99 {p99_pub:6.1f} ms"
    )
    print(
        f"                                   raw client, one hop         "
        f"p50 {hop[0]:6.1f} ms  p99 {hop[1]:6.1f} ms"
    )
    print(
        f"targets: ≥ 500 jobs/s now → {'MET' if throughput >= 500 else 'NOT MET'}; "
        f"goal ≥ 2,000 jobs/s → {'MET' if throughput >= 2000 else 'not yet'}; "
        f"goal ratio ≥ 0.25 → {'MET' if throughput / raw_rate >= 0.25 else 'not yet'}; "
        f"goal p99 ≤ 100 ms → {'MET' if p99 <= 100 else 'not yet'}"
    )
    latency = f"closed→draft visible at {args.rate:.0f} jobs/s"
    hop_name = f"raw client, one hop at {args.rate:.0f}/s"
    return [
        Figure(
            issue=2,
            name=f"closed→drafted throughput, {args.jobs:,} jobs",
            value=throughput,
            unit="jobs/s",
            baseline=raw_rate,
            baseline_unit="msg/s",
            baseline_name="raw kafka-python produce→consume",
            higher_is_better=True,
            goals=(
                Goal(FIRST_TARGET_JOBS_PER_S, at_least=True),
                Goal(GOAL_JOBS_PER_S, at_least=True),
                Goal(GOAL_RATIO, at_least=True, on_ratio=True),
            ),
        ),
        Figure(
            issue=2,
            name=f"{latency}, p50 of {n}",
            value=p50,
            unit="ms",
            baseline=hop[0],
            baseline_name=hop_name,
            higher_is_better=False,
        ),
        Figure(
            issue=2,
            name=f"{latency}, p99 of {n}",
            value=p99,
            unit="ms",
            baseline=hop[1],
            baseline_name=hop_name,
            higher_is_better=False,
            goals=(Goal(GOAL_P99_MS, at_least=False),),
        ),
    ]


# --- raw client rate ------------------------------------------------------------------------


def bench_raw(bootstrap: str, count: int) -> float:
    """Producer in its own process, consumer here: the same shape as relay → consumer."""
    topic = f"bench.raw.{uuid.uuid4().hex[:6]}"
    ensure_topics(bootstrap, [topic])
    consumer = make_consumer(bootstrap, f"raw-{topic}", [topic], heartbeat_interval_ms=1000)
    received = 0
    while not consumer.assignment():
        received += _polled(consumer)
    producer = multiprocessing.Process(target=_produce, args=(bootstrap, topic, count))
    started = time.perf_counter()
    producer.start()
    while received < count:
        received += _polled(consumer)
    elapsed = time.perf_counter() - started
    producer.join()
    consumer.close()
    return count / elapsed


def _polled(consumer: KafkaConsumer) -> int:
    return sum(len(batch) for batch in consumer.poll(timeout_ms=200, max_records=1000).values())


def _produce(bootstrap: str, topic: str, count: int) -> None:
    producer = make_producer(bootstrap, client_id="bench-raw")
    value = b"x" * RAW_VALUE_BYTES
    for i in range(count):
        producer.send(topic, key=str(i % 512).encode(), value=value)
    producer.flush()
    producer.close()


def bench_raw_latency(bootstrap: str, rate: float, count: int) -> tuple[float, float]:
    """One hop of the raw client at ``rate``: a producer in its own process sends each message
    alone and flushes it (what the relay does when jobs close one at a time), the consumer here
    notes when it polls it; (p50, p99) in ms."""
    topic = f"bench.hop.{uuid.uuid4().hex[:6]}"
    ensure_topics(bootstrap, [topic])
    consumer = make_consumer(  # the same wait as the invoicing consumer it is the baseline of
        bootstrap,
        f"hop-{topic}",
        [topic],
        heartbeat_interval_ms=1000,
        fetch_max_wait_ms=PROMPT_FETCH_WAIT_MS,
    )
    while not consumer.assignment():
        _polled(consumer)
    producer = multiprocessing.Process(target=_produce_paced, args=(bootstrap, topic, rate, count))
    producer.start()
    latencies: list[float] = []
    deadline = time.monotonic() + count / rate + 60
    while len(latencies) < count and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=200).values():
            now = time.time()
            latencies += [(now - struct.unpack(">d", r.value[:8])[0]) * 1000 for r in batch]
    producer.join()
    consumer.close()
    if len(latencies) < count:
        raise SystemExit(f"raw hop: only {len(latencies)} of {count} messages came back")
    return _p50_p99(latencies)


def _produce_paced(bootstrap: str, topic: str, rate: float, count: int) -> None:
    producer = make_producer(bootstrap, client_id="bench-hop")
    padding = b"x" * (RAW_VALUE_BYTES - 8)
    started = time.perf_counter()
    for i in range(count):
        delay = started + i / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        producer.send(
            topic, key=str(i % 512).encode(), value=struct.pack(">d", time.time()) + padding
        )
        producer.flush()
    producer.close()


def _print_raw(rate: float, count: int) -> None:
    print(f"raw: {count} messages produced and consumed at {rate:.0f} msg/s", flush=True)


# --- throughput -----------------------------------------------------------------------------


def bench_throughput(settings: Settings, platform: _platform, count: int) -> float:
    from services.jobs.adapters.postgres import PostgresUnitOfWork
    from services.jobs.bootstrap import utc_now, wiring
    from services.jobs.service_layer import commands, handlers

    def uow() -> PostgresUnitOfWork:
        return PostgresUnitOfWork(wiring.pool)

    customer = handlers.create_customer(
        "bench",
        commands.CreateCustomer.model_validate(
            {"name": "Bench Co", "billing_address": demo.address(1), "email": "b@example.com"}
        ),
        uow(),
    )
    body = commands.CreateJob.model_validate(demo.sample_job(customer.customer_id, 1))
    with ThreadPoolExecutor(4) as pool:
        job_ids = list(
            pool.map(lambda _: handlers.create_job("bench", body, uow()).job_id, range(count))
        )
    print(f"throughput: {count} jobs created; closing them with the relay held back…", flush=True)
    jobs_db = settings.database_url_for("jobs")
    with psycopg.connect(jobs_db, autocommit=True) as hold:
        platform.hold_back_relay(hold)
        with ThreadPoolExecutor(4) as pool:
            list(
                pool.map(
                    lambda j: handlers.close_job(
                        "bench", commands.CloseJob(job_id=j), uow(), utc_now
                    ),
                    job_ids,
                )
            )
        print("throughput: all closed; releasing the relay", flush=True)
        hold.execute("SELECT pg_advisory_unlock(%s)", (LEADER_LOCK,))
    invoicing_db = settings.database_url_for("invoicing")
    _wait(
        lambda: (
            _count(invoicing_db, "SELECT count(*) FROM events WHERE published_at IS NOT NULL")
            >= count
        ),
        600,
    )
    first = _scalar(jobs_db, "SELECT min(published_at) FROM events WHERE key = ANY(%s)", job_ids)
    stages = {
        "jobs relay published all JobClosed": _scalar(
            jobs_db, "SELECT max(published_at) FROM events WHERE key = ANY(%s)", job_ids
        ),
        "invoicing consumer drafted all": _scalar(
            invoicing_db, "SELECT max(projected_at) FROM invoices"
        ),
        "invoicing relay published all InvoiceDrafted": _scalar(
            invoicing_db, "SELECT max(published_at) FROM events"
        ),
    }
    for stage, at in stages.items():
        print(f"throughput: {stage} after {(at - first).total_seconds():.2f}s", flush=True)
    last = stages["invoicing relay published all InvoiceDrafted"]
    return float(count / (last - first).total_seconds())


# --- latency --------------------------------------------------------------------------------


def bench_latency(
    settings: Settings, procs: dict[str, str], rate: float, seconds: float
) -> tuple[float, float, float, float, int]:
    jobs = demo.Api(procs["jobs-web"], TOKEN, "bench-latency")
    customer = jobs.post("/customers", {"name": "Latency Co", "billing_address": demo.address(2)})
    total = int(rate * seconds)
    job_ids = [
        jobs.post("/jobs", demo.sample_job(customer["customer_id"], 2))["job_id"]
        for _ in range(total)
    ]
    print(f"latency: closing {total} jobs over HTTP at {rate:.0f}/s…", flush=True)
    started = time.perf_counter()
    for n, job_id in enumerate(job_ids):
        delay = started + n / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        jobs.post(f"/jobs/{job_id}/close")
    invoicing_db = settings.database_url_for("invoicing")
    _wait(
        lambda: (
            _count(invoicing_db, "SELECT count(*) FROM invoices WHERE shop_id = 'bench-latency'")
            >= total
        ),
        120,
    )
    _wait(
        lambda: _count(invoicing_db, "SELECT count(*) FROM events WHERE published_at IS NULL") == 0,
        120,
    )
    closed = _times(
        settings.database_url_for("jobs"),
        "SELECT key, recorded_at FROM events WHERE key = ANY(%s)",
        job_ids,
    )
    drafted = _times(
        invoicing_db, "SELECT job_id, projected_at FROM invoices WHERE job_id = ANY(%s)", job_ids
    )
    published = _times(
        invoicing_db,
        "SELECT i.job_id, e.published_at FROM invoices i JOIN events"
        " e ON e.aggregate_id = i.invoice_id WHERE i.job_id = ANY(%s)",
        job_ids,
    )
    visible = [(drafted[j] - closed[j]).total_seconds() * 1000 for j in job_ids]
    acked = [(published[j] - closed[j]).total_seconds() * 1000 for j in job_ids]
    return (*_p50_p99(visible), *_p50_p99(acked), total)


def _p50_p99(samples: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return cuts[49], cuts[98]


# --- plumbing -------------------------------------------------------------------------------


class Infrastructure:
    """Embedded PostgreSQL (or DATABASE_URL), a broker, fresh bench_ databases; the env set."""

    def __enter__(self) -> Settings:
        VAR.mkdir(exist_ok=True)
        url = os.environ.get("DATABASE_URL") or infra.start_embedded_postgres(VAR / "bench-pg")
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        self.broker = None
        if not bootstrap:
            port = infra.free_port()
            self.broker = infra.start_broker(port, (VAR / "bench-tansu.log").open("ab"))
            bootstrap = f"127.0.0.1:{port}"
        self.settings = Settings(
            database_url=url,
            database_prefix="bench_",
            kafka_bootstrap_servers=bootstrap,
            internal_api_token=TOKEN,
        )
        for service in SERVICES:
            drop_database(
                self.settings.admin_database_url(), self.settings.database_url_for(service)
            )
        infra.prepare(self.settings)
        os.environ.update(_env(self.settings))
        return self.settings

    def __exit__(self, *exc: object) -> None:
        if self.broker is not None:
            infra.stop(self.broker)


def _env(settings: Settings) -> dict[str, str]:
    return {
        "DATABASE_URL": settings.database_url,
        "DATABASE_PREFIX": settings.database_prefix,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "INTERNAL_API_TOKEN": TOKEN,
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(infra.ROOT),
    }


class _platform:  # noqa: N801
    urls: dict[str, str]

    def __init__(self, settings: Settings, consumers: int) -> None:
        self.settings = settings
        self.consumers = consumers
        self.popen: dict[str, subprocess.Popen[bytes]] = {}

    def __enter__(self) -> _platform:
        procs = [web("jobs", infra.free_port())]
        procs += [worker(n, m, infra.free_port()) for n, (m, _p) in WORKERS.items()]
        module = WORKERS["invoicing-consumer"][0]
        procs += [
            worker(f"invoicing-consumer-{n}", module, infra.free_port())
            for n in range(2, self.consumers + 1)
        ]
        self.env = {**os.environ, **_env(self.settings)}
        self.log = (VAR / "bench-processes.log").open("ab")
        self.procs = {p.name: p for p in procs}
        try:
            for proc in procs:
                self._start(proc.name)
            infra.wait_until(
                lambda: all(_ok(p.url + "/readyz") for p in procs), 180, "bench processes"
            )
        except BaseException:
            self.__exit__()  # a start that failed leaves nothing running
            raise
        time.sleep(3)  # let the consumer group settle before measuring
        self.urls = {p.name: p.url for p in procs}
        return self

    def _start(self, name: str) -> None:
        proc = self.procs[name]
        self.popen[name] = subprocess.Popen(
            proc.argv,
            env={**self.env, "PORT": str(proc.port)},
            cwd=infra.ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            preexec_fn=infra.die_with_parent,
        )

    def hold_back_relay(self, conn: psycopg.Connection) -> None:
        """Stop the jobs relay, take its leader lock, start it again as a waiting standby."""
        infra.stop(self.popen["jobs-relay"], 30)
        got = conn.execute("SELECT pg_try_advisory_lock(%s)", (LEADER_LOCK,)).fetchone()
        assert got and got[0], "could not take the relay's leader lock"
        self._start("jobs-relay")

    def __exit__(self, *exc: object) -> None:
        for popen in self.popen.values():
            popen.terminate()
        for popen in self.popen.values():
            infra.stop(popen, 30)  # killed when SIGTERM was not enough


def _ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


def _wait(check, timeout: float) -> None:
    infra.wait_until(check, timeout, "the pipeline")


def _count(url: str, query: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(query).fetchone()
        return int(row[0]) if row else 0


def _scalar(url: str, query: str, *params: object):
    with psycopg.connect(url) as conn:
        row = conn.execute(query, params or None).fetchone()
        return row[0] if row else None


def _times(url: str, query: str, keys: list[str]) -> dict:  # type: ignore[type-arg]
    with psycopg.connect(url) as conn:
        return dict(conn.execute(query, (keys,)).fetchall())


if __name__ == "__main__":
    sys.exit(main())
