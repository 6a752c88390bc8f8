"""Read topics with a Kafka client that is not the project's (confluent-kafka / librdkafka)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from confluent_kafka import Consumer, TopicPartition
from kafka import KafkaProducer

from shared.contracts import Event
from shared.envelope import Envelope


@dataclass(frozen=True)
class Message:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: dict[str, str]


def read_all(
    bootstrap: str, topic: str, expect_at_least: int = 0, timeout: float = 30
) -> list[Message]:
    """Every message on ``topic`` from the beginning, waiting until at least ``expect_at_least``."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"e2e-reader-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    metadata = consumer.list_topics(topic, timeout=10)
    partitions = [TopicPartition(topic, p, 0) for p in metadata.topics[topic].partitions]
    consumer.assign(partitions)
    messages: list[Message] = []
    deadline = time.monotonic() + timeout
    idle_since = time.monotonic()
    try:
        while time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is None:
                if len(messages) >= expect_at_least and time.monotonic() - idle_since > 1.5:
                    break
                continue
            if msg.error():
                continue
            idle_since = time.monotonic()
            pairs: list[tuple[str, bytes | None]] = list(msg.headers() or [])  # type: ignore[arg-type]
            headers = {k: (v or b"").decode() for k, v in pairs}
            messages.append(Message(str(msg.topic()), msg.key(), msg.value(), headers))
    finally:
        consumer.close()
    return messages


def publish(bootstrap: str, event: Event, tenant: str, source: str = "/tests") -> Envelope:
    """Put one event on its topic as a service would (CloudEvents headers, keyed by subject)."""
    envelope = Envelope(event=event, tenant=tenant, source=source)
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        producer.send(
            envelope.topic, key=envelope.key, value=envelope.value(), headers=envelope.headers()
        )
        producer.flush()
    finally:
        producer.close()
    return envelope
