"""The consumer loop on real PostgreSQL and the real broker: idempotent inbox, dead letters,
retries, and offsets committed only after the database commit."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from kafka import KafkaConsumer, KafkaProducer
from kafka.structs import TopicPartition

from services.invoicing.adapters.postgres import PostgresUnitOfWork
from services.invoicing.domain.model import TenantMismatch, invoice_id_for_job
from services.invoicing.service_layer import handlers
from shared.consumer import Consumer, _RetryBatch
from shared.contracts import JobClosed
from shared.envelope import Envelope
from shared.redrive import Redriven, redrive
from shared.settings import Settings
from tests.integration.helpers import (
    committed_offsets,
    group_consumer,
    headers_of,
    poll_records,
    read_topic,
    send,
    wait_for,
)
from tests.unit import builders

pytestmark = pytest.mark.integration

TOPIC = JobClosed.topic
DLQ = f"{TOPIC}.dlq"
NAME = "invoicing-it"
NOW = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
Connect = Callable[[str], psycopg.Connection]


def clock() -> datetime:
    return NOW


class DraftInvoice:
    """The real invoicing handler, counting its calls, failing for the jobs it is told to."""

    def __init__(self, fail_for: dict[str, int] | None = None) -> None:
        self.calls: list[str] = []
        self.fail_for = dict(fail_for or {})  # job_id -> how many times to fail (-1: always)

    def __call__(self, conn: psycopg.Connection, envelope: Envelope) -> None:
        job = envelope.event
        assert isinstance(job, JobClosed)
        self.calls.append(job.job_id)
        left = self.fail_for.get(job.job_id, 0)
        if left:
            self.fail_for[job.job_id] = left - 1
            raise RuntimeError(f"boom for {job.job_id}")
        handlers.when_job_is_closed_draft_invoice(envelope, PostgresUnitOfWork(conn), clock)


@pytest.fixture
def db(settings: Settings) -> str:
    return settings.database_url_for("invoicing")


@pytest.fixture
def kafka(settings: Settings) -> Iterator[KafkaConsumer]:
    consumer = group_consumer(settings.kafka_bootstrap_servers, [TOPIC], group=NAME)
    yield consumer
    consumer.close(autocommit=False)


@pytest.fixture
def conn(db: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(db) as connection:
        yield connection


def consumer_for(
    db: str, kafka: KafkaConsumer, producer: KafkaProducer, handler: Any, **options: Any
) -> Consumer:
    return Consumer(NAME, db, kafka, producer, {JobClosed: handler}, **options)


def envelope(job_id: str, *, tenant: str | None = None) -> Envelope:
    return builders.job_closed_envelope(builders.job_closed(job_id=job_id), tenant=tenant)


def inbox(db: str) -> dict[str, tuple[str, str | None, int]]:
    """event_id -> (outcome, error, kafka offset), as committed."""
    with psycopg.connect(db) as c:
        rows = c.execute("SELECT event_id, outcome, error, kafka_offset FROM inbox").fetchall()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def drafted_jobs(db: str) -> list[str]:
    with psycopg.connect(db) as c:
        return sorted(r[0] for r in c.execute("SELECT job_id FROM invoices"))


def partition_of(records: list[Any]) -> TopicPartition:
    (tp,) = {TopicPartition(r.topic, r.partition) for r in records}
    return tp


def test_the_same_record_processed_twice_calls_the_handler_once(
    db: str, kafka: KafkaConsumer, producer: KafkaProducer, conn: psycopg.Connection
) -> None:
    env = envelope("job-1")
    send(producer, TOPIC, env)
    records = poll_records(kafka, 1)
    handler = DraftInvoice()
    consumer = consumer_for(db, kafka, producer, handler)

    consumer.process_batch(conn, records)
    consumer.process_batch(conn, records)  # e.g. redelivered after a crash before the commit

    assert handler.calls == ["job-1"]
    assert inbox(db) == {env.id: ("handled", None, records[0].offset)}
    assert drafted_jobs(db) == ["job-1"]
    with psycopg.connect(db) as c:
        (drafted,) = c.execute(
            "SELECT headers->>'ce_causationid', version FROM events WHERE aggregate_id = %s",
            (invoice_id_for_job("shop-1", "job-1"),),
        ).fetchall()
    assert drafted == (env.id, 1)
    assert kafka.committed(partition_of(records)) == records[0].offset + 1


def test_a_republished_copy_with_the_same_ce_id_is_skipped(
    db: str, kafka: KafkaConsumer, producer: KafkaProducer, conn: psycopg.Connection
) -> None:
    env = envelope("job-1")
    send(producer, TOPIC, env)
    send(producer, TOPIC, env)  # the relay crashed between ack and mark, and sent it again
    records = poll_records(kafka, 2)
    assert records[0].offset != records[1].offset
    handler = DraftInvoice()

    consumer_for(db, kafka, producer, handler).process_batch(conn, records)

    assert handler.calls == ["job-1"]
    assert inbox(db) == {env.id: ("handled", None, min(r.offset for r in records))}
    assert kafka.committed(partition_of(records)) == max(r.offset for r in records) + 1


def test_malformed_records_go_to_the_dlq_and_the_next_valid_one_is_handled(
    settings: Settings,
    db: str,
    kafka: KafkaConsumer,
    producer: KafkaProducer,
    conn: psycopg.Connection,
) -> None:
    good = envelope("job-good")
    key = b"one-partition"
    bad_json_headers = [(n, b"bad-json-1" if n == "ce_id" else v) for n, v in good.headers()]
    send(producer, TOPIC, key=key, value=b'{"job_id": ', headers=bad_json_headers)
    send(producer, TOPIC, key=key, value=b"{}", headers=[])
    send(producer, TOPIC, good, key=key)
    records = poll_records(kafka, 3)
    bad_json, no_headers, valid = sorted(records, key=lambda r: r.offset)
    handler = DraftInvoice()

    consumer_for(db, kafka, producer, handler).process_batch(conn, records)

    assert handler.calls == ["job-good"]
    assert drafted_jobs(db) == ["job-good"]
    rows = inbox(db)
    # A record that cannot be decoded is recorded by its position, never by the ce_id it claims
    # (a bad copy must not make the genuine event look like a duplicate later).
    bad_json_id = f"{TOPIC}/{bad_json.partition}/{bad_json.offset}"
    fallback_id = f"{TOPIC}/{no_headers.partition}/{no_headers.offset}"
    assert set(rows) == {bad_json_id, fallback_id, good.id}
    assert rows[good.id] == ("handled", None, valid.offset)
    assert rows[bad_json_id][0] == "dead_lettered" and rows[bad_json_id][1]
    assert rows[fallback_id][0] == "dead_lettered"
    assert "missing headers" in (rows[fallback_id][1] or "")

    dead = read_topic(settings.kafka_bootstrap_servers, DLQ, expect=2)
    assert len(dead) == 2
    by_offset = {int(headers_of(r)["dlq_original_offset"]): r for r in dead}
    assert set(by_offset) == {bad_json.offset, no_headers.offset}
    for original in (bad_json, no_headers):
        letter = by_offset[original.offset]
        meta = headers_of(letter)
        assert letter.key == key and letter.value == original.value
        assert meta["dlq_error_type"] == "MalformedEvent"
        assert meta["dlq_error"] == rows[bad_json_id if original is bad_json else fallback_id][1]
        assert meta["dlq_consumer"] == NAME
        assert meta["dlq_original_topic"] == TOPIC
        assert meta["dlq_original_partition"] == str(original.partition)
        assert meta["dlq_failed_at"]
    assert headers_of(by_offset[bad_json.offset])["ce_id"] == "bad-json-1"  # originals kept
    assert kafka.committed(partition_of(records)) == valid.offset + 1


def test_a_poison_event_is_dead_lettered_at_once(
    settings: Settings,
    db: str,
    kafka: KafkaConsumer,
    producer: KafkaProducer,
    conn: psycopg.Connection,
) -> None:
    mismatch = envelope("job-x", tenant="someone-else")
    send(producer, TOPIC, mismatch)
    records = poll_records(kafka, 1)
    handler = DraftInvoice()

    consumer_for(db, kafka, producer, handler, poison=(TenantMismatch,)).process_batch(
        conn, records
    )

    assert handler.calls == ["job-x"]  # one attempt, no retries
    assert inbox(db)[mismatch.id][0] == "dead_lettered"
    assert drafted_jobs(db) == []
    (letter,) = read_topic(settings.kafka_bootstrap_servers, DLQ, expect=1)
    assert headers_of(letter)["dlq_error_type"] == "TenantMismatch"
    assert headers_of(letter)["ce_id"] == mismatch.id
    assert kafka.committed(partition_of(records)) == records[0].offset + 1


def test_a_failing_handler_is_retried_then_dead_lettered_after_max_attempts(
    settings: Settings,
    db: str,
    kafka: KafkaConsumer,
    producer: KafkaProducer,
    conn: psycopg.Connection,
) -> None:
    healthy, failing = envelope("job-ok"), envelope("job-bad")
    key = b"one-partition"
    send(producer, TOPIC, healthy, key=key)
    send(producer, TOPIC, failing, key=key)
    records = poll_records(kafka, 2)
    tp = partition_of(records)
    handler = DraftInvoice(fail_for={"job-bad": -1})
    consumer = consumer_for(db, kafka, producer, handler, max_attempts=3)

    for _attempt in (1, 2):
        with pytest.raises(_RetryBatch):
            consumer.process_batch(conn, records)
        # The whole batch rolled back, the healthy record's work included; nothing committed.
        assert inbox(db) == {}
        assert drafted_jobs(db) == []
        assert kafka.committed(tp) is None

    consumer.process_batch(conn, records)  # the third attempt gives up on job-bad

    assert handler.calls.count("job-bad") == 3
    rows = inbox(db)
    assert rows[healthy.id][0] == "handled"
    assert rows[failing.id][:2] == ("dead_lettered", "boom for job-bad")
    assert drafted_jobs(db) == ["job-ok"]
    (letter,) = read_topic(settings.kafka_bootstrap_servers, DLQ, expect=1)
    assert headers_of(letter)["dlq_error"] == "boom for job-bad"
    assert headers_of(letter)["dlq_error_type"] == "RuntimeError"
    assert headers_of(letter)["ce_id"] == failing.id
    assert kafka.committed(tp) == max(r.offset for r in records) + 1


def test_two_failing_records_in_a_batch_are_each_tried_max_attempts_times(
    db: str,
    kafka: KafkaConsumer,
    producer: KafkaProducer,
    conn: psycopg.Connection,
) -> None:
    key = b"one-partition"
    send(producer, TOPIC, envelope("job-a"), key=key)
    send(producer, TOPIC, envelope("job-b"), key=key)
    records = poll_records(kafka, 2)
    handler = DraftInvoice(fail_for={"job-a": -1, "job-b": -1})
    consumer = consumer_for(db, kafka, producer, handler, max_attempts=3)

    for _pass in range(20):
        try:
            consumer.process_batch(conn, records)
            break
        except _RetryBatch:
            continue
    assert {outcome for outcome, _e, _o in inbox(db).values()} == {"dead_lettered"}
    assert (handler.calls.count("job-a"), handler.calls.count("job-b")) == (3, 3)


def test_offsets_are_committed_after_the_database_commit(
    db: str,
    kafka: KafkaConsumer,
    producer: KafkaProducer,
    conn: psycopg.Connection,
    autocommit: Connect,
) -> None:
    env = envelope("job-1")
    send(producer, TOPIC, env)
    records = poll_records(kafka, 1)
    observer = autocommit(db)
    seen_at_commit: list[object] = []
    real_commit = kafka.commit

    def commit_spy(offsets: Any = None) -> None:
        row = observer.execute(
            "SELECT outcome FROM inbox WHERE event_id = %s", (env.id,)
        ).fetchone()
        seen_at_commit.append(row)
        real_commit(offsets)

    kafka.commit = commit_spy
    consumer_for(db, kafka, producer, DraftInvoice()).process_batch(conn, records)

    # When the offsets were committed, the inbox row was already visible to everyone else.
    assert seen_at_commit == [("handled",)]
    assert kafka.committed(partition_of(records)) == records[0].offset + 1


def test_offsets_are_not_committed_when_the_database_commit_fails(
    db: str,
    kafka: KafkaConsumer,
    producer: KafkaProducer,
    conn: psycopg.Connection,
    autocommit: Connect,
) -> None:
    # A deferred constraint: the handler's work is accepted, the COMMIT itself fails.
    autocommit(db).execute(
        "CREATE TABLE commit_guard (id INT, UNIQUE (id) DEFERRABLE INITIALLY DEFERRED)"
    )
    env = envelope("job-1")
    send(producer, TOPIC, env)
    records = poll_records(kafka, 1)
    tp = partition_of(records)
    draft = DraftInvoice()

    def fails_at_commit(c: psycopg.Connection, e: Envelope) -> None:
        draft(c, e)
        c.execute("INSERT INTO commit_guard VALUES (1), (1)")

    with pytest.raises(psycopg.errors.UniqueViolation):
        consumer_for(db, kafka, producer, fails_at_commit).process_batch(conn, records)
    assert kafka.committed(tp) is None
    assert inbox(db) == {}
    assert drafted_jobs(db) == []

    # Redelivered, it is handled (once) and only then committed.
    consumer_for(db, kafka, producer, draft).process_batch(conn, records)
    assert inbox(db)[env.id][0] == "handled"
    assert drafted_jobs(db) == ["job-1"]
    assert kafka.committed(tp) == records[0].offset + 1


def test_the_running_loop_rewinds_and_retries_a_batch_until_the_handler_recovers(
    settings: Settings,
    db: str,
    kafka: KafkaConsumer,
    producer: KafkaProducer,
) -> None:
    env = envelope("job-flaky")
    send(producer, TOPIC, env)
    handler = DraftInvoice(fail_for={"job-flaky": 2})
    consumer = consumer_for(db, kafka, producer, handler, max_attempts=5)
    stop = threading.Event()
    loop = threading.Thread(target=consumer.run, args=(stop,), daemon=True)
    loop.start()
    try:
        wait_for(lambda: env.id in inbox(db), 20, "the event to be handled")
    finally:
        stop.set()
        loop.join(timeout=10)
    assert not loop.is_alive()

    assert handler.calls == ["job-flaky"] * 3  # failed, failed, handled: redelivered by rewind
    assert inbox(db)[env.id][0] == "handled"
    assert drafted_jobs(db) == ["job-flaky"]
    assert read_topic(settings.kafka_bootstrap_servers, DLQ, expect=0) == []
    (record,) = read_topic(settings.kafka_bootstrap_servers, TOPIC, expect=1)
    committed = committed_offsets(settings.kafka_bootstrap_servers, NAME, TOPIC)
    assert committed == {record.partition: record.offset + 1}


def test_nul_bytes_in_an_id_or_a_field_are_dead_lettered_once_not_a_crash_loop(
    settings: Settings,
    db: str,
    kafka: KafkaConsumer,
    producer: KafkaProducer,
    conn: psycopg.Connection,
) -> None:
    key = b"one-partition"
    nul_id = [(n, b"id\x00x" if n == "ce_id" else v) for n, v in envelope("job-a").headers()]
    send(producer, TOPIC, key=key, value=envelope("job-a").value(), headers=nul_id)
    nul_field = builders.job_closed_envelope(
        builders.job_closed(job_id="job-b", customer=builders.customer_snapshot(name="Ann\x00Lee"))
    )
    send(producer, TOPIC, nul_field, key=key)
    send(producer, TOPIC, envelope("job-c"), key=key)
    records = poll_records(kafka, 3)
    handler = DraftInvoice()

    consumer_for(db, kafka, producer, handler, max_attempts=5).process_batch(conn, records)

    assert drafted_jobs(db) == ["job-c"]
    assert handler.calls.count("job-b") <= 2  # fast path + careful path, never 5 retries
    outcomes = {outcome for outcome, _error, _offset in inbox(db).values()}
    assert outcomes == {"dead_lettered", "handled"}
    dead = read_topic(settings.kafka_bootstrap_servers, DLQ, expect=2)
    kinds = sorted(headers_of(r)["dlq_error_type"] for r in dead)
    assert kinds == ["DataError", "MalformedEvent"]
    assert kafka.committed(partition_of(records)) == max(r.offset for r in records) + 1


def test_a_dead_letter_re_driven_after_the_fix_is_handled_once(
    settings: Settings,
    db: str,
    kafka: KafkaConsumer,
    producer: KafkaProducer,
    conn: psycopg.Connection,
) -> None:
    """A handler that fails for a job (a bug) dead-letters it; after the fix, `shared.redrive`
    sends the letter back to its topic and the consumer handles it — once: the same record
    delivered again is still a duplicate, and a second re-drive sends nothing."""
    failing = envelope("job-needs-fix")
    send(producer, TOPIC, failing)
    handler = DraftInvoice(fail_for={"job-needs-fix": -1})
    consumer = consumer_for(db, kafka, producer, handler, max_attempts=1)
    first = poll_records(kafka, 1)
    consumer.process_batch(conn, first)
    assert inbox(db)[failing.id][0] == "dead_lettered"
    consumer.process_batch(conn, first)  # the same record again (a crash before the commit)
    assert handler.calls == ["job-needs-fix"] and drafted_jobs(db) == []

    handler.fail_for.clear()  # the fix is deployed
    bootstrap = settings.kafka_bootstrap_servers
    assert redrive(bootstrap, TOPIC, consumer=NAME) == Redriven(read=1, sent=1)
    (again,) = poll_records(kafka, 1)
    assert headers_of(again)["ce_id"] == failing.id
    assert not any(name.startswith("dlq_") for name in headers_of(again))
    consumer.process_batch(conn, [again])
    assert inbox(db)[failing.id][0] == "handled" and drafted_jobs(db) == ["job-needs-fix"]
    consumer.process_batch(conn, [again])  # delivered twice: handled once
    assert handler.calls == ["job-needs-fix", "job-needs-fix"]
    assert redrive(bootstrap, TOPIC, consumer=NAME) == Redriven(read=0, sent=0)
