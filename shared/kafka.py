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
    """Idempotent producer, acks=all: a retried send is never written twice by the broker."""
    return KafkaProducer(
        bootstrap_servers=bootstrap.split(","),
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=2,
        batch_size=512 * 1024,
        max_request_size=4 * 1024 * 1024,
        request_timeout_ms=15000,
    )


FETCH_MAX_WAIT_MS = 1000
"""How long the broker holds an idle consumer's fetch. At 20 ms each of the platform's six idle
consumers took ~6-10 % of a core (and the broker as much again) answering 50 empty fetches a
second: a third of a core of two; at Kafka's default 500 ms the broker still took 6 % of a core
and each consumer 2 % parsing empty answers for its ~100 partitions. A record is delivered as
soon as it arrives whatever this is (Tansu answers a waiting fetch at once), and commits do not
wait behind it; only a batch rewound after a failure waits up to this long for its new fetch."""


def make_consumer(
    bootstrap: str,
    group_id: str,
    topics: Iterable[str],
    *,
    session_timeout_ms: int = 6000,
    heartbeat_interval_ms: int = 2000,
    max_poll_records: int = 1000,
) -> KafkaConsumer:
    """Manual commits only, from the earliest offset, without auto-creating topics. An idle
    consumer's fetch waits at the broker up to FETCH_MAX_WAIT_MS (it is answered as soon as a
    record arrives, so this costs no latency; a short wait only spins every consumer idly)."""
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
        fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
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
