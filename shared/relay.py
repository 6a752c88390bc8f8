"""The outbox relay: publishes unpublished events in position order and marks them published only
after the broker acknowledged them. A crash in between re-publishes; consumers dedupe by ce_id."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import psycopg
from kafka import KafkaProducer
from kafka.errors import KafkaError

from shared.eventstore import OUTBOX_CHANNEL
from shared.faults import crash_point
from shared.metrics import EVENTS_PUBLISHED, OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE, RELAY_BATCH_SECONDS

log = logging.getLogger(__name__)
LEADER_LOCK = 7_734_002
KEEPALIVE: dict[str, Any] = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 30_000,
}
"""A dead network path ends the session (and its leader lock) in seconds, not hours."""

SELECT_BATCH = (
    "SELECT position, topic, key, value, headers FROM events"
    " WHERE published_at IS NULL AND topic IS NOT NULL ORDER BY position LIMIT %s"
)
MARK_PUBLISHED = "UPDATE events SET published_at = clock_timestamp() WHERE position = ANY(%s)"
BACKLOG = (
    "SELECT count(*), EXTRACT(EPOCH FROM clock_timestamp() - min(recorded_at)) FROM events"
    " WHERE published_at IS NULL AND topic IS NOT NULL"
)


class Relay:
    """One leader per service database (advisory lock), so events leave in position order."""

    def __init__(
        self, service: str, db_url: str, producer: KafkaProducer, batch_size: int = 1000
    ) -> None:
        self.service = service
        self.db_url = db_url
        self.producer = producer
        self.batch_size = batch_size
        self.last_beat = 0.0
        self.is_leader = False

    def run(self, stop: threading.Event) -> None:
        """Relay until stopped. A database or broker failure is logged, backed off and retried on
        fresh connections (leadership is taken again: the old session's lock died with it)."""
        failures = 0
        while not stop.is_set():
            try:
                self._relay_until_failure(stop)
            except (psycopg.Error, KafkaError) as exc:
                failures += 1
                log.warning("relay failed; retrying", extra={"error": repr(exc)[:500]})
                self.is_leader = False
                stop.wait(min(0.1 * 2**failures, 10.0))

    def _relay_until_failure(self, stop: threading.Event) -> None:
        with (
            psycopg.connect(self.db_url, autocommit=True, **KEEPALIVE) as listener,
            psycopg.connect(self.db_url, **KEEPALIVE) as conn,
        ):
            listener.execute(f"LISTEN {OUTBOX_CHANNEL}")
            self._become_leader(conn, stop)
            next_gauge = 0.0
            while not stop.is_set():
                self.last_beat = time.monotonic()
                sent = self.relay_once(conn)
                if time.monotonic() >= next_gauge:
                    self._update_backlog(conn)
                    next_gauge = time.monotonic() + 1.0
                if sent < self.batch_size:
                    _wait_for_notify(listener, timeout=0.5)

    def relay_once(self, conn: psycopg.Connection) -> int:
        """Publish one batch. Returns how many events were published."""
        started = time.perf_counter()
        rows = conn.execute(SELECT_BATCH, (self.batch_size,)).fetchall()
        if not rows:
            conn.rollback()
            return 0
        futures = [self._send(row) for row in rows]
        self.producer.flush()
        for future in futures:
            future.get(timeout=30)
        crash_point("relay.after_ack")
        conn.execute(MARK_PUBLISHED, ([row[0] for row in rows],))
        conn.commit()
        for row in rows:
            EVENTS_PUBLISHED.labels(self.service, row[1]).inc()
        RELAY_BATCH_SECONDS.labels(self.service).observe(time.perf_counter() - started)
        return len(rows)

    def _send(self, row: tuple[Any, ...]) -> Any:
        _position, topic, key, value, headers = row
        pairs = [(name, text.encode()) for name, text in headers.items()]
        future = self.producer.send(topic, key=key.encode(), value=value.encode(), headers=pairs)
        crash_point("relay.after_send")
        return future

    def _become_leader(self, conn: psycopg.Connection, stop: threading.Event) -> None:
        while not stop.is_set():
            self.last_beat = time.monotonic()
            got = conn.execute("SELECT pg_try_advisory_lock(%s)", (LEADER_LOCK,)).fetchone()
            conn.commit()
            if got and got[0]:
                self.is_leader = True
                log.info("relay is leader", extra={"relay": self.service})
                return
            stop.wait(1.0)

    def _update_backlog(self, conn: psycopg.Connection) -> None:
        row = conn.execute(BACKLOG).fetchone()
        conn.rollback()
        count, oldest = row if row else (0, None)
        OUTBOX_BACKLOG.labels(self.service).set(count or 0)
        OUTBOX_OLDEST_AGE.labels(self.service).set(float(oldest or 0))


def _wait_for_notify(listener: psycopg.Connection, timeout: float) -> None:
    for _ in listener.notifies(timeout=timeout, stop_after=1):
        break
