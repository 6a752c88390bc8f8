"""A replaced pay link on real PostgreSQL. Notifications: a message queued with the old link goes
out with the live one (its words on record changed to match), a later nudge carries the live
link, and the links arrive in any order, any number of times. Payments: the copy answers only
the live token; every older one is found as revoked by its digest (never stored in clear)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from services.notifications.adapters.postgres import (
    PooledMessageStore,
    PooledNudgeStore,
    QueueOnConnection,
)
from services.notifications.service_layer import handlers as notifications
from services.payments.adapters.postgres import ConsumerUnitOfWork
from services.payments.service_layer import handlers as payments
from shared.contracts import Event, pay_token_digest
from shared.db import make_pool
from shared.envelope import Envelope
from tests.integration.helpers import ServiceDb
from tests.unit import test_pay_link as payments_story
from tests.unit.test_notifications import sent
from tests.unit.test_pay_link_revocation import replaced

pytestmark = pytest.mark.integration


def told(
    conn: psycopg.Connection, event: Event, handle: Callable[[Envelope, QueueOnConnection], object]
) -> None:
    handle(Envelope(event=event, tenant="shop-1", source="/i"), QueueOnConnection(conn))


@pytest.fixture
def pool(service_db: ServiceDb) -> Iterator[ConnectionPool]:
    url = service_db("notifications")
    p = make_pool(url, min_size=1, max_size=4, name="relink-test")
    yield p
    p.close()


def test_queued_and_later_messages_carry_the_live_link(pool: ConnectionPool) -> None:
    invoice = sent()
    first, second = (
        replaced(2, "new-tok-0123456789abcd", "x"),
        replaced(3, "newest-0123456789abcd", "y"),
    )
    live = second.pay_url
    with pool.connection() as conn:
        told(conn, invoice, notifications.when_invoice_is_sent_queue_messages)
        for event in (second, first, second):  # out of order, and twice
            told(conn, event, notifications.when_invoice_changes_record_it)
    store = PooledMessageStore(pool)
    claimed = [store.claim_next(), store.claim_next()]
    assert all(c is not None for c in claimed)
    for c in claimed:
        assert c is not None
        assert invoice.pay_url not in c.message.body and live in c.message.body
        assert c.invoice.pay_url == live  # the email's PDF shows (and its QR code opens) it
        store.sent(c, "provider-id")
    with pool.connection() as conn:
        bodies = [r[0] for r in conn.execute("SELECT body FROM messages").fetchall()]
        conn.execute("UPDATE messages SET created_at = clock_timestamp() - interval '2 hours'")
    assert len(bodies) == 2 and all(live in b and invoice.pay_url not in b for b in bodies)
    now = datetime.now(UTC) + timedelta(minutes=1)
    nudged = notifications.nudge(
        "shop-1", "inv-1", ["sms", "email"], "Ana", PooledNudgeStore(pool), now
    )
    assert len(nudged) == 2 and all(live in m.body and first.pay_url not in m.body for m in nudged)


def test_payments_keeps_revoked_tokens_by_digest_only(service_db: ServiceDb) -> None:
    url = service_db("payments")
    new, newer = "new-tok-0123456789abcd", "newer-tok-0123456789ab"
    old = payments_story.sent().pay_token or ""
    with psycopg.connect(url) as conn:
        uow = ConsumerUnitOfWork(conn)
        for event in (replaced(3, newer, new), payments_story.sent(), replaced(2, new, old)):
            envelope = Envelope(event=event, tenant="shop-1", source="/i")
            payments.when_invoicing_tells_keep_copy(envelope, uow)
        assert uow.invoices.by_token(newer) is not None
        for token in (old, new):
            assert uow.invoices.by_token(token) is None and uow.invoices.revoked(token)
        assert not uow.invoices.revoked(newer)
        with pytest.raises(payments.RevokedPayLink):
            payments.start_card_setup(old, "a" * 32, uow, None)  # type: ignore[arg-type]
        stored = conn.execute("SELECT token_sha256 FROM revoked_pay_links").fetchall()
        assert sorted(r[0] for r in stored) == sorted(pay_token_digest(t) for t in (old, new))
        dump = conn.execute("SELECT copy::text FROM payable_invoices").fetchone()
        assert dump is not None and old not in dump[0] and new not in dump[0]


def test_another_shops_link_never_reaches_this_shops_customers(pool: ConnectionPool) -> None:
    invoice = sent()
    forged = replaced(2, "other-shop-tok-0123456", "x").model_copy(update={"shop_id": "shop-2"})
    with pool.connection() as conn:
        told(conn, invoice, notifications.when_invoice_is_sent_queue_messages)
        envelope = Envelope(event=forged, tenant="shop-2", source="/i")
        notifications.when_invoice_changes_record_it(envelope, QueueOnConnection(conn))
    store = PooledMessageStore(pool)
    claimed = store.claim_next()
    assert claimed is not None and claimed.invoice.pay_url == invoice.pay_url
    assert invoice.pay_url in claimed.message.body and forged.pay_url not in claimed.message.body
    store.sent(claimed, "provider-id")
    with pool.connection() as conn:
        conn.execute("UPDATE messages SET created_at = clock_timestamp() - interval '2 hours'")
    now = datetime.now(UTC) + timedelta(minutes=1)
    nudged = notifications.nudge("shop-1", "inv-1", ["sms"], "Ana", PooledNudgeStore(pool), now)
    assert nudged and all(forged.pay_url not in m.body for m in nudged)
