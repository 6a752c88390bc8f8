"""Helpers of the integration tests: send envelopes, read topics back, wait for things."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
from kafka import KafkaConsumer, KafkaProducer
from kafka.structs import TopicPartition

from shared.envelope import Envelope
from shared.kafka import make_consumer

ServiceDb = Callable[[str], str]
"""``service_db("jobs")`` → the URL of a fresh, migrated database of that service."""


def send(
    producer: KafkaProducer,
    topic: str,
    envelope: Envelope | None = None,
    *,
    key: bytes | None = None,
    value: bytes | None = None,
    headers: list[tuple[str, bytes]] | None = None,
) -> Any:
    """Send an envelope (or raw parts) and wait for the ack; returns the RecordMetadata."""
    if envelope is not None:
        key = envelope.key if key is None else key
        value = envelope.value() if value is None else value
        headers = envelope.headers() if headers is None else headers
    future = producer.send(topic, key=key, value=value, headers=headers or [])
    producer.flush()
    return future.get(timeout=15)


def read_topic(
    bootstrap: str, topic: str, *, expect: int, timeout: float = 10.0, settle: float = 0.3
) -> list[Any]:
    """Every record of ``topic`` from the beginning, without joining a group (instant).

    Waits until ``expect`` records arrived, then a little longer (``settle``) to catch extras."""
    reader = KafkaConsumer(
        bootstrap_servers=bootstrap.split(","),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=20,
    )
    try:
        partitions = reader.partitions_for_topic(topic) or set()
        assert partitions, f"topic {topic} does not exist"
        reader.assign([TopicPartition(topic, p) for p in sorted(partitions)])
        records: list[Any] = []
        deadline = time.monotonic() + timeout
        settle_until: float | None = None
        while time.monotonic() < deadline:
            for batch in reader.poll(timeout_ms=100).values():
                records.extend(batch)
            if len(records) >= expect:
                settle_until = settle_until or time.monotonic() + settle
                if time.monotonic() >= settle_until:
                    break
        return records
    finally:
        reader.close()


def group_consumer(bootstrap: str, topics: list[str], group: str | None = None) -> KafkaConsumer:
    return make_consumer(
        bootstrap,
        group or f"it-{uuid.uuid4().hex[:8]}",
        topics,
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
    )


def poll_records(consumer: KafkaConsumer, count: int, timeout: float = 20.0) -> list[Any]:
    """Poll (joining the group on the way) until ``count`` records arrived."""
    records: list[Any] = []
    deadline = time.monotonic() + timeout
    while len(records) < count:
        assert time.monotonic() < deadline, f"only {len(records)} of {count} records arrived"
        for batch in consumer.poll(timeout_ms=200).values():
            records.extend(batch)
    return records


def headers_of(record: Any) -> dict[str, str]:
    return {name: raw.decode() for name, raw in record.headers or []}


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(0.05)


def waiting_on_a_lock(observer: psycopg.Connection, backend_pid: int) -> bool:
    """Is that PostgreSQL backend blocked on a lock (e.g. another transaction's row)?"""
    row = observer.execute(
        "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (backend_pid,)
    ).fetchone()
    return row is not None and row[0] == "Lock"


def committed_offsets(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    """The group's committed offsets on ``topic`` by partition, asked by an outsider."""
    outsider = KafkaConsumer(
        bootstrap_servers=bootstrap.split(","), group_id=group, enable_auto_commit=False
    )
    try:
        partitions = outsider.partitions_for_topic(topic) or set()
        offsets = {p: outsider.committed(TopicPartition(topic, p)) for p in sorted(partitions)}
        return {p: o for p, o in offsets.items() if o is not None}
    finally:
        outsider.close(autocommit=False)
