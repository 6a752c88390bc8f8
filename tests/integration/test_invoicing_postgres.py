"""The invoicing service's PostgreSQL adapter: the invoice stream, its outbox entry and the queue
projection, written in the caller's transaction."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

import psycopg
import pytest

from services.invoicing import views
from services.invoicing.adapters.postgres import (
    PostgresShopSettings,
    PostgresUnitOfWork,
    RecentShopSettings,
)
from services.invoicing.domain.model import invoice_id_for_job
from services.invoicing.domain.settings import ShopSettings
from services.invoicing.service_layer import handlers
from shared import eventstore
from shared.contracts import InvoiceDrafted
from shared.envelope import Envelope
from shared.eventstore import ConcurrencyConflict
from tests.integration.helpers import ServiceDb, wait_for, waiting_on_a_lock
from tests.unit import builders

pytestmark = pytest.mark.integration

NOW = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
Connect = Callable[[str], psycopg.Connection]


def clock() -> datetime:
    return NOW


@pytest.fixture
def db(service_db: ServiceDb) -> str:
    return service_db("invoicing")


def draft(conn: psycopg.Connection, cause: Envelope) -> None:
    handlers.when_job_is_closed_draft_invoice(cause, PostgresUnitOfWork(conn), clock)


def test_drafting_appends_the_event_and_projects_the_queue_in_one_transaction(db: str) -> None:
    cause = builders.job_closed_envelope(builders.job_closed(job_id="job-1", shop_id="shop-1"))
    invoice_id = invoice_id_for_job("shop-1", "job-1")
    with psycopg.connect(db) as conn:
        conn.execute("SELECT 1")
        draft(conn, cause)
        conn.rollback()  # nothing of it survives a rollback
        assert eventstore.load(conn, invoice_id) == []
        assert views.get_invoice(conn, "shop-1", invoice_id) is None

        draft(conn, cause)
        conn.commit()
        (stored,) = eventstore.load(conn, invoice_id)
        document = views.get_invoice(conn, "shop-1", invoice_id)
        queue = views.list_invoices(conn, "shop-1", today=NOW.date(), status="draft", limit=10)
        outbox = conn.execute(
            "SELECT topic, published_at FROM events WHERE aggregate_id = %s", (invoice_id,)
        ).fetchall()
        assert views.get_invoice(conn, "shop-2", invoice_id) is None  # another shop's

    event = stored.envelope.event
    assert isinstance(event, InvoiceDrafted)
    assert stored.version == 1
    assert stored.envelope.causation_id == cause.id
    assert outbox == [("InvoiceDrafted", None)]  # waiting for the relay
    assert document is not None
    assert document["status"] == "draft" and document["version"] == 1
    assert document["totals"] == event.totals.model_dump()
    assert document["lines"] == [line.model_dump(mode="json") for line in event.lines]
    assert [(q["invoice_id"], q["job_id"], q["total_cents"]) for q in queue] == [
        (invoice_id, "job-1", event.totals.total_cents)
    ]


def test_concurrent_drafts_of_one_job_make_one_invoice(db: str, autocommit: Connect) -> None:
    cause = builders.job_closed_envelope(builders.job_closed(job_id="job-1"))
    observer = autocommit(db)
    with psycopg.connect(db) as a, psycopg.connect(db) as b:
        a.execute("SELECT 1")
        b.execute("SELECT 1")
        draft(a, cause)  # uncommitted
        outcome: list[BaseException | None] = []

        def b_drafts() -> None:
            try:
                draft(b, cause)
                outcome.append(None)
            except BaseException as exc:
                outcome.append(exc)

        racer = threading.Thread(target=b_drafts)
        racer.start()
        wait_for(lambda: waiting_on_a_lock(observer, b.info.backend_pid), 5, "b to wait for a")
        a.commit()
        racer.join(timeout=5)
        assert len(outcome) == 1 and isinstance(outcome[0], ConcurrencyConflict)
        b.rollback()

        draft(b, cause)  # the consumer's retry: the invoice exists now, so nothing happens
        b.commit()

    rows = observer.execute("SELECT invoice_id, version FROM invoices").fetchall()
    assert rows == [(invoice_id_for_job("shop-1", "job-1"), 1)]
    assert observer.execute("SELECT count(*) FROM events").fetchone() == (1,)


def test_the_consumer_reads_shop_settings_once_per_shop_within_seconds(db: str) -> None:
    RecentShopSettings._cache.clear()
    with psycopg.connect(db) as conn:
        PostgresShopSettings(conn).save(ShopSettings("shop-c", card_max_cents=100))
        recent = RecentShopSettings(conn, ttl=60)
        assert recent.get("shop-c").card_max_cents == 100
        PostgresShopSettings(conn).save(ShopSettings("shop-c", card_max_cents=200))
        assert recent.get("shop-c").card_max_cents == 100  # within the ttl: the copy
        assert RecentShopSettings(conn, ttl=0).get("shop-c").card_max_cents == 200
        assert recent.get("shop-other") == ShopSettings("shop-other")  # defaults
    RecentShopSettings._cache.clear()
