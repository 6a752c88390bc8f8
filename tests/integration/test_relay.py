"""The outbox relay on real PostgreSQL and the real broker: what it publishes, in which order,
with which headers, and that an event is marked published only once the broker acknowledged it."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from kafka import KafkaProducer
from kafka.errors import KafkaTimeoutError

from shared import eventstore
from shared.contracts import JobClosed
from shared.envelope import Envelope
from shared.relay import Relay
from shared.settings import Settings
from tests.integration.helpers import headers_of, read_topic, wait_for
from tests.unit import builders

pytestmark = pytest.mark.integration

TOPIC = JobClosed.topic
Connect = Callable[[str], psycopg.Connection]


@pytest.fixture
def db(settings: Settings) -> str:
    return settings.database_url_for("jobs")


@pytest.fixture
def relay_conn(db: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(db) as conn:
        yield conn


def envelope(job_id: str, label: str) -> Envelope:
    event = builders.job_closed(job_id=job_id, customer=builders.customer_snapshot(name=label))
    return Envelope(event=event, tenant="shop-1", source="/services/jobs", correlation_id=label)


def append(db: str, stream: list[tuple[str, int, Envelope]], *, publish: bool = True) -> None:
    with psycopg.connect(db) as conn:
        conn.execute("SELECT 1")
        for aggregate, version, env in stream:
            eventstore.append(conn, aggregate, version - 1, [env], publish=publish)
        conn.commit()


def outbox(db: str) -> list[tuple[int, str, str | None, bool]]:
    """(position, event_id, topic, published?) of every stored event, in position order."""
    with psycopg.connect(db) as conn:
        return [
            (r[0], str(r[1]), r[2], r[3] is not None)
            for r in conn.execute(
                "SELECT position, event_id, topic, published_at FROM events ORDER BY position"
            )
        ]


def interleaved(count_a: int = 4) -> list[tuple[str, int, Envelope]]:
    """job-A v1..vN interleaved with job-B v1, v2: positions alternate between the two keys."""
    stream: list[tuple[str, int, Envelope]] = []
    for version in range(1, count_a + 1):
        stream.append(("job-A", version, envelope("job-A", f"A{version}")))
        if version <= 2:
            stream.append(("job-B", version, envelope("job-B", f"B{version}")))
    return stream


def test_relay_publishes_unpublished_events_in_position_order_with_cloudevents_headers(
    settings: Settings, db: str, relay_conn: psycopg.Connection, producer: KafkaProducer
) -> None:
    stream = interleaved()
    append(db, stream)
    append(db, [("job-private", 1, envelope("job-private", "P"))], publish=False)
    by_id = {env.id: env for _agg, _v, env in stream}

    relay = Relay("jobs", db, producer)
    assert relay.relay_once(relay_conn) == len(stream)

    records = read_topic(settings.kafka_bootstrap_servers, TOPIC, expect=len(stream))
    assert len(records) == len(stream)
    position = {event_id: pos for pos, event_id, _topic, _published in outbox(db)}
    for record in records:
        env = by_id[headers_of(record)["ce_id"]]
        assert record.key == env.key
        assert record.value == env.value()
        assert headers_of(record) == {name: raw.decode() for name, raw in env.headers()}
    # Each key is on one partition, and there its events are in position (= version) order.
    for key in (b"job-A", b"job-B"):
        mine = sorted((r for r in records if r.key == key), key=lambda r: r.offset)
        assert len({r.partition for r in mine}) == 1
        positions = [position[headers_of(r)["ce_id"]] for r in mine]
        assert positions == sorted(positions)
        assert [headers_of(r)["ce_correlationid"] for r in mine] == (
            ["A1", "A2", "A3", "A4"] if key == b"job-A" else ["B1", "B2"]
        )

    # Everything with a topic is now marked; the private event was never a candidate.
    assert [(topic, published) for _pos, _id, topic, published in outbox(db)] == (
        [(TOPIC, True)] * len(stream) + [(None, False)]
    )

    # A second pass publishes nothing.
    assert relay.relay_once(relay_conn) == 0
    assert len(read_topic(settings.kafka_bootstrap_servers, TOPIC, expect=len(stream))) == len(
        stream
    )


def test_relay_takes_the_oldest_positions_first_one_batch_at_a_time(
    settings: Settings, db: str, relay_conn: psycopg.Connection, producer: KafkaProducer
) -> None:
    append(db, interleaved())  # 6 events
    relay = Relay("jobs", db, producer, batch_size=4)

    assert relay.relay_once(relay_conn) == 4
    assert [published for *_rest, published in outbox(db)] == [True] * 4 + [False] * 2
    assert relay.relay_once(relay_conn) == 2
    assert relay.relay_once(relay_conn) == 0
    assert all(published for *_rest, published in outbox(db))
    assert len(read_topic(settings.kafka_bootstrap_servers, TOPIC, expect=6)) == 6


class AckSpy:
    """The real producer, but it looks at the outbox at the moment each ack arrives; and it can be
    told to lose the ack of the N-th send (as if the broker timed out)."""

    def __init__(self, real: KafkaProducer, db: str, fail_send: int | None = None) -> None:
        self.real = real
        self.observer = psycopg.connect(db, autocommit=True)
        self.fail_send = fail_send
        self.sends = 0
        self.published_when_acked: list[bool] = []

    def send(self, topic: str, **kwargs: Any) -> Any:
        self.sends += 1
        future = self.real.send(topic, **kwargs)
        spy, failing = self, self.sends == self.fail_send
        event_id = dict(kwargs["headers"])["ce_id"].decode()

        class Future:
            def get(self, timeout: float | None = None) -> Any:
                if failing:
                    raise KafkaTimeoutError("ack lost")
                metadata = future.get(timeout=timeout)
                row = spy.observer.execute(
                    "SELECT published_at IS NOT NULL FROM events WHERE event_id = %s",
                    (event_id,),
                ).fetchone()
                assert row is not None
                spy.published_when_acked.append(row[0])
                return metadata

        return Future()

    def flush(self, timeout: float | None = None) -> None:
        self.real.flush(timeout)


def test_events_are_marked_published_only_after_the_broker_acknowledged_them(
    db: str, relay_conn: psycopg.Connection, producer: KafkaProducer
) -> None:
    append(db, interleaved())
    spy = AckSpy(producer, db)
    try:
        assert Relay("jobs", db, spy).relay_once(relay_conn) == 6
    finally:
        spy.observer.close()
    assert spy.published_when_acked == [False] * 6  # not marked when the ack came in...
    assert all(published for *_rest, published in outbox(db))  # ...but right after


def test_a_lost_ack_leaves_the_batch_unpublished_and_it_is_sent_again(
    settings: Settings, db: str, producer: KafkaProducer
) -> None:
    stream = interleaved()
    append(db, stream)
    spy = AckSpy(producer, db, fail_send=3)
    try:
        with psycopg.connect(db) as conn, pytest.raises(KafkaTimeoutError):
            Relay("jobs", db, spy).relay_once(conn)
    finally:
        spy.observer.close()
    # Every send reached the broker (only an ack was lost), yet nothing is marked published.
    assert not any(published for *_rest, published in outbox(db))

    with psycopg.connect(db) as conn:  # the restarted relay
        assert Relay("jobs", db, producer).relay_once(conn) == len(stream)
    assert all(published for *_rest, published in outbox(db))

    # At least once: the whole batch went out again, with the same ce_ids consumers dedupe on.
    records = read_topic(settings.kafka_bootstrap_servers, TOPIC, expect=2 * len(stream))
    ids = Counter(headers_of(r)["ce_id"] for r in records)
    assert ids == Counter({env.id: 2 for _a, _v, env in stream})


def test_only_one_relay_leads_and_another_takes_over_when_it_stops(
    settings: Settings, db: str, producer: KafkaProducer
) -> None:
    first, second = Relay("jobs", db, producer), Relay("jobs", db, producer)
    stop_first, stop_second = threading.Event(), threading.Event()
    threads = [
        threading.Thread(target=first.run, args=(stop_first,), daemon=True),
        threading.Thread(target=second.run, args=(stop_second,), daemon=True),
    ]
    threads[0].start()
    wait_for(lambda: first.is_leader, 5, "the first relay to lead")
    threads[1].start()
    try:
        append(db, [("job-1", 1, envelope("job-1", "one"))])
        wait_for(lambda: all(p for *_r, p in outbox(db)), 5, "the leader to publish")
        assert not second.is_leader

        stop_first.set()
        threads[0].join(timeout=5)
        wait_for(lambda: second.is_leader, 5, "the second relay to take over")
        append(db, [("job-2", 1, envelope("job-2", "two"))])
        wait_for(lambda: all(p for *_r, p in outbox(db)), 5, "the new leader to publish")
    finally:
        stop_first.set()
        stop_second.set()
        for thread in threads:
            thread.join(timeout=5)

    records = read_topic(settings.kafka_bootstrap_servers, TOPIC, expect=2)
    assert sorted(headers_of(r)["ce_correlationid"] for r in records) == ["one", "two"]
