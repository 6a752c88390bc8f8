"""Kafka clients configured the way the backbone needs them, and topic administration."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from shared.contracts import ALL_EVENTS

PARTITIONS = 8
"""Final partition count of every topic (the dev broker cannot add partitions later)."""


def all_topics() -> list[str]:
    names = [cls.topic for cls in ALL_EVENTS]
    return names + [f"{name}.dlq" for name in names]


def make_producer(bootstrap: str, *, client_id: str = "fieldpay") -> KafkaProducer:
    """acks=all, retried until the broker takes it, one request in flight (so a retry never
    overtakes a later send: per-key order holds). Not the idempotent producer: a retry may be
    written twice, which every consumer's inbox absorbs (by event id). The idempotent producer
    lost an acknowledged record when the broker (Tansu on s3://) was killed mid-write and
    restarted: the retry was answered as a duplicate of the write the crash had cut short, and
    the next record took its offset (chaos run in CI, 2026-11-26: a JobClosed never drafted)."""
    return KafkaProducer(
        bootstrap_servers=bootstrap.split(","),
        client_id=client_id,
        acks="all",
        enable_idempotence=False,
        max_in_flight_requests_per_connection=1,
        linger_ms=2,
        batch_size=512 * 1024,
        max_request_size=4 * 1024 * 1024,
        request_timeout_ms=15000,
    )


FETCH_MAX_WAIT_MS = 1000
"""How long the broker holds a consumer's fetch, for consumers nobody waits on (AR aging, the
staff app's live changes, jobs, payments' copy of invoices). Tansu holds a fetch this long even
when records arrive meanwhile, so it is also the delivery delay: measured one hop at 50 records/s
(bench/pipeline.py), p50 ≈ a quarter and p99 ≈ half of it — 1000 ms: 250 / 501 ms; 500: 128 /
253; 100: 27 / 53; 50: 14 / 29. A short wait costs CPU while idle: each fetch asks ~100
partitions; the platform idle took 0.38 cores of 2 with every consumer at 1000 ms, 0.80 at 100,
1.12 at 50 (bench/load_cpu.py, the broker the largest part)."""

PROMPT_FETCH_WAIT_MS = 100
"""For the consumers someone is waiting on: the closed job's draft in the office's queue (issue
2: p99 ≤ 100 ms at 50 jobs/s) and the customer's text and email once an invoice is sent."""


def make_consumer(
    bootstrap: str,
    group_id: str,
    topics: Iterable[str],
    *,
    session_timeout_ms: int = 6000,
    heartbeat_interval_ms: int = 2000,
    max_poll_records: int = 1000,
    fetch_max_wait_ms: int = FETCH_MAX_WAIT_MS,
) -> KafkaConsumer:
    """Manual commits only, from the earliest offset, without auto-creating topics. Each fetch
    waits at the broker ``fetch_max_wait_ms`` (see FETCH_MAX_WAIT_MS: delay against idle CPU)."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap.split(","),
        group_id=group_id,
        client_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        allow_auto_create_topics=False,
        session_timeout_ms=session_timeout_ms,
        heartbeat_interval_ms=heartbeat_interval_ms,
        max_poll_records=max_poll_records,
        fetch_max_wait_ms=fetch_max_wait_ms,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    consumer.subscribe(list(topics))
    return consumer


KEEP_FOREVER = {"retention.ms": "-1", "retention.bytes": "-1"}
"""Event topics keep their whole history: read models (AR aging) are rebuilt from them."""


def ensure_topics(
    bootstrap: str,
    topics: Iterable[str],
    partitions: int = PARTITIONS,
    replication_factor: int = 1,
) -> None:
    """Create the topics that do not exist yet, with their final partition count (production
    clusters: replication factor 3, matching min.insync.replicas=2 and acks=all)."""
    admin = _admin(bootstrap)
    try:
        existing = set(admin.list_topics())
        missing = [t for t in topics if t not in existing]
        if missing:
            new = [
                NewTopic(
                    t,
                    num_partitions=partitions,
                    replication_factor=replication_factor,
                    topic_configs=KEEP_FOREVER,
                )
                for t in missing
            ]
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(new)
    finally:
        admin.close()


def group_members(bootstrap: str, group: str) -> int:
    """How many consumers are in the group now (0: nobody is consuming for it)."""
    admin = _admin(bootstrap)
    try:
        described = admin.describe_groups([group]).get(group) or {}
        return len(described.get("members") or [])
    finally:
        admin.close()


def wait_for_broker(bootstrap: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            _admin(bootstrap).close()
            return
        except KafkaError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


class _Admin(KafkaAdminClient):  # type: ignore[misc]
    def _process_acl_operations(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Describe answers carry the caller's authorized operations as bits; Tansu sets bits
        kafka-python cannot name (a ValueError). Nothing here uses them: drop them."""
        obj.pop("authorized_operations", None)
        return obj


def _admin(bootstrap: str) -> KafkaAdminClient:
    return _Admin(bootstrap_servers=bootstrap.split(","), client_id="fieldpay-admin")
