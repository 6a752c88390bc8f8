"""A nudge on real PostgreSQL: queued when the last message is over an hour old, refused when
not, and of two nudges at the same moment only one goes out."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from services.notifications.adapters.postgres import PooledNudgeStore, QueueOnConnection
from services.notifications.domain.messages import TooSoon
from services.notifications.service_layer import handlers
from shared.db import make_pool
from shared.envelope import Envelope
from tests.integration.helpers import ServiceDb
from tests.unit.test_notifications import sent

pytestmark = pytest.mark.integration


@pytest.fixture
def pool(service_db: ServiceDb) -> Iterator[ConnectionPool]:
    url = service_db("notifications")
    with psycopg.connect(url) as conn:
        envelope = Envelope(event=sent(), tenant="shop-1", source="/i")
        handlers.when_invoice_is_sent_queue_messages(envelope, QueueOnConnection(conn))
        conn.commit()
    p = make_pool(url, min_size=1, max_size=4, name="nudge-test")
    yield p
    p.close()


def age_messages(pool: ConnectionPool, hours: int) -> None:
    with pool.connection() as conn:
        conn.execute(
            "UPDATE messages SET created_at = clock_timestamp() - make_interval(hours => %s)",
            (hours,),
        )


def count(pool: ConnectionPool, kind: str) -> int:
    with pool.connection() as conn:
        row = conn.execute("SELECT count(*) FROM messages WHERE kind = %s", (kind,)).fetchone()
        return int(row[0]) if row else 0


def test_nudges_wait_an_hour_and_race_to_one(pool: ConnectionPool) -> None:
    now = datetime.now(UTC)
    with pytest.raises(TooSoon):
        handlers.nudge("shop-1", "inv-1", ["sms"], "Ana", PooledNudgeStore(pool), now)
    with pytest.raises(handlers.UnknownInvoice):
        handlers.nudge("other-shop", "inv-1", ["sms"], "Eve", PooledNudgeStore(pool), now)
    age_messages(pool, 2)
    outcomes: list[str] = []

    def nudge() -> None:
        try:
            handlers.nudge("shop-1", "inv-1", ["sms", "email"], "Ana", PooledNudgeStore(pool), now)
            outcomes.append("sent")
        except TooSoon:
            outcomes.append("too soon")

    threads = [threading.Thread(target=nudge) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["sent", "too soon", "too soon", "too soon"]
    assert count(pool, "nudge") == 2 and count(pool, "invoice_sent") == 2
