"""Poison on every topic: a malformed record, an unknown schema version and a semantically
impossible event (its body names another shop than its envelope) on each of the 16 event topics.
Every consumer group that reads the topic puts each of them on ``<topic>.dlq`` with the reason,
and keeps going: a job closed afterwards is drafted, sent and paid as usual."""

from __future__ import annotations

import json
import re
import uuid
from collections import defaultdict
from typing import Any

import pytest
import requests
from kafka import KafkaProducer

from shared.contracts import ALL_EVENTS
from shared.envelope import Envelope
from tests.support.api import Api, close_job, create_customer, create_job
from tests.support.platform import RunningPlatform, wait_for
from tests.support.samples import sample
from tests.support.topics import read_all

pytestmark = pytest.mark.e2e
SHOP, OTHER = "shop-poison", "shop-elsewhere"
SUBSCRIBED = re.compile(r'events_dead_lettered_total\{consumer="([^"]+)",topic="([^"]+)"\}')


def subscriptions(platform: RunningPlatform) -> dict[str, set[str]]:
    """topic → the consumer groups reading it, as the running consumers report it."""
    found: dict[str, set[str]] = defaultdict(set)
    for name, proc in platform.procs.items():
        if name.endswith("-consumer"):
            text = requests.get(f"{proc.url}/metrics", timeout=10).text
            for group, topic in SUBSCRIBED.findall(text):
                found[topic].add(group)
    return found


def poison(topic_cls: Any, n: int) -> dict[str, tuple[list[tuple[str, bytes]], bytes]]:
    """The three bad records of one topic: kind → (headers, value)."""
    good = Envelope(event=sample(topic_cls, SHOP, n), tenant=SHOP, source="/poison")
    headers = [(k, v) for k, v in good.headers() if k != "ce_id"]

    def with_id(kind: str) -> list[tuple[str, bytes]]:
        return [("ce_id", f"poison-{kind}-{topic_cls.topic}-{uuid.uuid4().hex[:6]}".encode())]

    future = json.loads(good.value())
    future["schema_version"] = 99
    elsewhere = Envelope(event=sample(topic_cls, OTHER, n), tenant=SHOP, source="/poison")
    return {
        "malformed": (headers + with_id("malformed"), b'{"not": "an event'),
        "unknown version": (headers + with_id("version"), json.dumps(future).encode()),
        "impossible": (
            [(k, v) for k, v in elsewhere.headers() if k != "ce_id"] + with_id("impossible"),
            elsewhere.value(),
        ),
    }


def test_poison_on_every_topic_is_dead_lettered_with_its_reason_and_nothing_stops(
    module_platform: RunningPlatform, module_settings: Any
) -> None:
    readers = subscriptions(module_platform)
    assert set(readers) == {cls.topic for cls in ALL_EVENTS}, "a topic nobody reads"
    bootstrap = module_settings.kafka_bootstrap_servers
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    sent: dict[str, dict[str, str]] = {}
    for n, cls in enumerate(ALL_EVENTS):
        sent[cls.topic] = {}
        for kind, (headers, value) in poison(cls, n).items():
            producer.send(cls.topic, key=f"poison-{n}".encode(), value=value, headers=headers)
            sent[cls.topic][dict(headers)["ce_id"].decode()] = kind
    producer.flush()
    producer.close()

    misses = []
    for cls in ALL_EVENTS:
        topic, groups = cls.topic, readers[cls.topic]
        letters = read_all(bootstrap, f"{topic}.dlq", expect_at_least=3 * len(groups))
        got = {(m.headers["dlq_consumer"], m.headers["ce_id"]): m for m in letters}
        for group in groups:
            for event_id, kind in sent[topic].items():
                letter = got.get((group, event_id))
                if letter is None or not letter.headers.get("dlq_error"):
                    misses.append(f"{group} did not dead-letter the {kind} {topic}")
                elif letter.headers["dlq_original_topic"] != topic:
                    misses.append(f"{group}: the {kind} {topic} letter names another topic")
    assert misses == []
    reasons = read_all(bootstrap, "InvoiceSent.dlq")
    by_kind = {sent["InvoiceSent"].get(m.headers["ce_id"]): m.headers["dlq_error"] for m in reasons}
    assert "schema_version" in by_kind["unknown version"]
    assert "another shop" in by_kind["impossible"] or "shop" in by_kind["impossible"]

    jobs = Api(module_platform.url("jobs-web"), SHOP)
    invoicing = Api(module_platform.url("invoicing-web"), SHOP)
    job = create_job(jobs, create_customer(jobs))
    close_job(jobs, job)
    draft = wait_for(
        lambda: invoicing.get("/invoices", job_id=job).json()["items"], 30, "the next draft"
    )
    sent_invoice = invoicing.post(f"/invoices/{draft[0]['invoice_id']}/send")
    assert sent_invoice.status_code == 200, sent_invoice.text
    for name, popen in module_platform.running.items():
        assert popen.poll() is None, f"{name} stopped"
