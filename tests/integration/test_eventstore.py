"""The event store on real PostgreSQL: optimistic concurrency between real connections, history,
outbox flags and notifications."""

from __future__ import annotations

import threading
from collections.abc import Callable

import psycopg
import pytest

from shared import eventstore
from shared.contracts import JobClosed
from shared.envelope import Envelope
from shared.eventstore import ConcurrencyConflict
from tests.integration.helpers import wait_for, waiting_on_a_lock
from tests.unit import builders

pytestmark = pytest.mark.integration

AGG = "job-agg-1"
Connect = Callable[[str], psycopg.Connection]


def an_envelope(label: str, job_id: str = AGG) -> Envelope:
    """A distinguishable event for the stream (the label goes in the customer's name)."""
    event = builders.job_closed(job_id=job_id, customer=builders.customer_snapshot(name=label))
    return Envelope(event=event, tenant="shop-1", source="/test", correlation_id=label)


def labels(stream: list[eventstore.StoredEvent]) -> list[tuple[int, str]]:
    out = []
    for stored in stream:
        assert isinstance(stored.envelope.event, JobClosed)
        out.append((stored.version, stored.envelope.event.customer.name))
    return out


def seed(url: str, count: int) -> None:
    with psycopg.connect(url) as conn:
        eventstore.append(conn, AGG, 0, [an_envelope(f"seed-{n}") for n in range(1, count + 1)])
        conn.commit()


def test_two_concurrent_writers_one_wins_the_loser_retries_and_nothing_is_overwritten(
    jobs_db: str, autocommit: Connect
) -> None:
    seed(jobs_db, 3)
    n = 3
    observer = autocommit(jobs_db)
    with psycopg.connect(jobs_db) as a, psycopg.connect(jobs_db) as b:
        # Both writers load version N.
        assert eventstore.load(a, AGG)[-1].version == n
        assert eventstore.load(b, AGG)[-1].version == n

        # A appends first (not committed yet); B appends after the same version and blocks on
        # A's uncommitted key, in its own thread.
        assert eventstore.append(a, AGG, n, [an_envelope("A")]) == n + 1
        outcome: dict[str, BaseException | int] = {}

        def b_appends() -> None:
            try:
                outcome["b"] = eventstore.append(b, AGG, n, [an_envelope("B")])
            except BaseException as exc:
                outcome["b"] = exc

        racer = threading.Thread(target=b_appends)
        racer.start()
        wait_for(
            lambda: waiting_on_a_lock(observer, b.info.backend_pid), 5, "B to wait for A's row"
        )
        assert racer.is_alive()

        a.commit()
        racer.join(timeout=5)
        assert not racer.is_alive()
        conflict = outcome["b"]
        assert isinstance(conflict, ConcurrencyConflict), conflict
        assert (conflict.aggregate_id, conflict.expected_version) == (AGG, n)

        # The loser reloads and retries on top of the winner.
        b.rollback()
        reloaded = eventstore.load(b, AGG)
        assert reloaded[-1].version == n + 1
        assert eventstore.append(b, AGG, reloaded[-1].version, [an_envelope("B")]) == n + 2
        b.commit()

    stream = eventstore.load(observer, AGG)
    assert labels(stream) == [
        (1, "seed-1"),
        (2, "seed-2"),
        (3, "seed-3"),
        (n + 1, "A"),
        (n + 2, "B"),
    ]
    assert len({stored.envelope.id for stored in stream}) == 5


def test_racing_writers_in_threads_exactly_one_commits(jobs_db: str) -> None:
    """Both load N and append at once; whoever inserts first wins, the other conflicts."""
    seed(jobs_db, 1)
    barrier = threading.Barrier(2, timeout=5)
    results: dict[str, str] = {}

    def writer(name: str) -> None:
        with psycopg.connect(jobs_db) as conn:
            version = eventstore.load(conn, AGG)[-1].version
            barrier.wait()
            try:
                eventstore.append(conn, AGG, version, [an_envelope(name)])
                conn.commit()
                results[name] = "committed"
            except ConcurrencyConflict:
                conn.rollback()
                results[name] = "conflict"

    threads = [threading.Thread(target=writer, args=(name,)) for name in ("A", "B")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert sorted(results.values()) == ["committed", "conflict"]
    with psycopg.connect(jobs_db) as conn:
        winner = next(name for name, result in results.items() if result == "committed")
        assert labels(eventstore.load(conn, AGG)) == [(1, "seed-1"), (2, winner)]


def test_a_stale_writer_conflicts_even_after_the_winner_committed(jobs_db: str) -> None:
    seed(jobs_db, 2)
    with psycopg.connect(jobs_db) as conn:
        assert eventstore.load(conn, AGG)[-1].version == 2  # opens the caller's transaction
        with pytest.raises(ConcurrencyConflict), conn.transaction():
            eventstore.append(conn, AGG, 1, [an_envelope("stale")])
        # The caller's savepoint rolled back only the conflict: the transaction is still usable.
        assert eventstore.append(conn, AGG, 2, [an_envelope("fresh")]) == 3
        conn.commit()
        assert labels(eventstore.load(conn, AGG)) == [(1, "seed-1"), (2, "seed-2"), (3, "fresh")]


def test_a_batch_append_is_all_or_nothing(jobs_db: str) -> None:
    seed(jobs_db, 2)
    with psycopg.connect(jobs_db) as conn:
        conn.execute("SELECT 1")  # inside the caller's transaction, as handlers use it
        # Versions 2 and 3: version 2 is taken, so neither is written.
        with pytest.raises(ConcurrencyConflict):
            eventstore.append(conn, AGG, 1, [an_envelope("x"), an_envelope("y")])
        conn.commit()
        assert labels(eventstore.load(conn, AGG)) == [(1, "seed-1"), (2, "seed-2")]


def test_reusing_an_event_id_is_not_a_concurrency_conflict(jobs_db: str) -> None:
    envelope = an_envelope("once")
    with psycopg.connect(jobs_db) as conn:
        eventstore.append(conn, AGG, 0, [envelope])
        with pytest.raises(psycopg.errors.UniqueViolation) as caught:
            eventstore.append(conn, "another-aggregate", 0, [envelope])
        assert not isinstance(caught.value, ConcurrencyConflict)


def test_load_returns_the_envelopes_as_appended(jobs_db: str) -> None:
    envelope = Envelope(
        event=builders.job_closed(job_id=AGG),
        tenant="shop-7",
        source="/services/jobs",
        correlation_id="corr-9",
        causation_id="cause-9",
    )
    with psycopg.connect(jobs_db) as conn:
        eventstore.append(conn, AGG, 0, [envelope])
        conn.commit()
        (stored,) = eventstore.load(conn, AGG)
        assert eventstore.load(conn, "nothing-here") == []
    assert stored.aggregate_id == AGG and stored.version == 1
    assert stored.envelope == envelope


def test_published_events_go_to_the_outbox_private_ones_do_not(
    jobs_db: str, autocommit: Connect
) -> None:
    listener = autocommit(jobs_db)
    listener.execute(f"LISTEN {eventstore.OUTBOX_CHANNEL}")
    with psycopg.connect(jobs_db) as conn:
        eventstore.append(conn, AGG, 0, [an_envelope("private")], publish=False)
        conn.commit()
    assert list(listener.notifies(timeout=0.3, stop_after=1)) == []

    with psycopg.connect(jobs_db) as conn:
        eventstore.append(conn, AGG, 1, [an_envelope("public")])
        # Nothing is announced before the commit...
        assert list(listener.notifies(timeout=0.2, stop_after=1)) == []
        conn.commit()
    # ...and the relay is woken up once it is.
    assert [n.channel for n in listener.notifies(timeout=2, stop_after=1)] == ["outbox"]

    rows = listener.execute(
        "SELECT version, topic, key, published_at FROM events WHERE aggregate_id = %s"
        " ORDER BY version",
        (AGG,),
    ).fetchall()
    assert rows == [(1, None, AGG, None), (2, "JobClosed", AGG, None)]


def test_an_event_too_big_for_one_kafka_message_is_refused(jobs_db: str) -> None:
    huge = builders.job_closed(
        line_items=[
            builders.line_item(description="\u2603" * 500, line_id=f"l{n}") for n in range(700)
        ]
    )
    with psycopg.connect(jobs_db) as conn:
        conn.execute("SELECT 1")
        with pytest.raises(eventstore.EventTooLarge, match="limit is 900,000"):
            eventstore.append(conn, AGG, 0, [builders.job_closed_envelope(huge)])
        conn.rollback()
        assert eventstore.load(conn, AGG) == []
