"""Nothing lost, nothing twice: 1,000 jobs close while the relays die (kill -9) between the
database commit and the broker ack, and the invoicing consumer dies between its database commit and
its offset commit — several times each. Exactly 1,000 drafts come out."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from shared.settings import Settings
from tests.support.api import Api, close_job, create_customer, create_job
from tests.support.platform import RunningPlatform, plan, wait_for
from tests.support.topics import read_all

pytestmark = pytest.mark.e2e
JOBS = 1000
WAVES = 20
ARMED_RESTARTS = 4
CRASHES = {
    "jobs-relay": "relay.after_send:0.01,relay.after_ack:0.25",
    "invoicing-consumer": "consumer.after_db_commit:0.4",
    "invoicing-relay": "relay.after_ack:0.4",
}


def supervise(platform: RunningPlatform, kills: dict[str, int]) -> None:
    """Restart whatever died, armed again until it has died ARMED_RESTARTS times."""
    for name, crash_at in CRASHES.items():
        if platform.is_dead(name):
            code = platform.running[name].returncode
            assert code == -9, f"{name} died with {code}:\n{platform.log_tail(name)}"
            kills[name] += 1
            armed = kills[name] < ARMED_RESTARTS
            platform.restart(name, {"CRASH_AT": crash_at if armed else ""})


def keep_alive(platform: RunningPlatform, kills: dict[str, int]) -> bool:
    supervise(platform, kills)
    return True


def count(url: str, query: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(query).fetchone()
        return int(row[0]) if row else 0


def test_thousand_jobs_survive_kill9_of_relays_and_consumer(
    settings: Settings, service_env: dict[str, str], tmp_path
) -> None:
    platform = plan(
        {
            **service_env,
            "CONSUMER_SESSION_TIMEOUT_MS": "3000",
            "CONSUMER_HEARTBEAT_INTERVAL_MS": "500",
        },
        tmp_path,
    )
    for name in platform.procs:
        platform.start(name, {"CRASH_AT": CRASHES.get(name, "")})
    kills = dict.fromkeys(CRASHES, 0)
    try:
        platform.wait_ready(["jobs-web", "invoicing-web"])
        jobs = Api(platform.url("jobs-web"), "shop-a")
        customer = create_customer(jobs)
        invoicing_db = settings.database_url_for("invoicing")

        def drafted(n: int) -> bool:
            supervise(platform, kills)
            return count(invoicing_db, "SELECT count(*) FROM invoices") >= n

        with ThreadPoolExecutor(8) as pool:
            job_ids = list(pool.map(lambda _: create_job(jobs, customer), range(JOBS)))
            per_wave = JOBS // WAVES
            for wave in range(WAVES):
                list(
                    pool.map(
                        lambda j: close_job(jobs, j),
                        job_ids[wave * per_wave : (wave + 1) * per_wave],
                    )
                )
                if wave % 2:  # let some waves through alone: more batches, more crash points
                    wait_for(lambda w=wave: drafted((w + 1) * per_wave), 120, "a wave", 0.2)
                supervise(platform, kills)

        wait_for(lambda: drafted(JOBS), 240, f"{JOBS} drafts", interval=0.5)
        wait_for(
            lambda: (
                keep_alive(platform, kills)
                and count(invoicing_db, "SELECT count(*) FROM events WHERE published_at IS NULL")
                == 0
            ),
            120,
            "the invoicing outbox to drain",
            interval=0.5,
        )
    finally:
        platform.stop_all()

    print(f"kill -9s: {kills}")
    assert all(k >= 3 for k in kills.values()), f"not enough kill -9s: {kills}"
    assert count(invoicing_db, "SELECT count(*) FROM invoices") == JOBS
    assert count(invoicing_db, "SELECT count(DISTINCT job_id) FROM invoices") == JOBS
    assert count(invoicing_db, "SELECT count(*) FROM events") == JOBS
    assert count(invoicing_db, "SELECT count(*) FROM inbox WHERE outcome = 'handled'") == JOBS
    assert count(invoicing_db, "SELECT count(*) FROM inbox WHERE outcome <> 'handled'") == 0
    jobs_db = settings.database_url_for("jobs")
    assert count(jobs_db, "SELECT count(*) FROM events WHERE event_type = 'JobClosed'") == JOBS

    bootstrap = service_env["KAFKA_BOOTSTRAP_SERVERS"]
    for topic in ("JobClosed", "InvoiceDrafted"):
        messages = read_all(bootstrap, topic, expect_at_least=JOBS, timeout=60)
        distinct = {m.headers["ce_id"] for m in messages}
        assert len(distinct) == JOBS, f"{topic}: {len(distinct)} distinct events"
