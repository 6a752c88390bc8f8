"""StripeCheck's choice of charges on real PostgreSQL: only unsettled charges with a
PaymentIntent, made within the window; those asked longest ago (or never) first, each marked
asked, so charges that never settle cannot keep the others from their turn."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from services.payments.adapters.postgres import ConsumerUnitOfWork
from services.payments.domain.ledger import Charge, ChargeStatus
from services.payments.domain.model import PayableInvoice
from tests.integration.helpers import ServiceDb

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
AFTER = timedelta(minutes=15)
WINDOW = timedelta(days=10)


def charge(
    conn: psycopg.Connection,
    uow: ConsumerUnitOfWork,
    name: str,
    status: ChargeStatus,
    age: timedelta,
) -> None:
    intent = None if name == "no-intent" else f"pi_{name}"
    uow.charges.add(Charge(name, "inv-1", "shop-1", 1_000, "ach", status, intent))
    conn.execute("UPDATE charges SET created_at = %s WHERE charge_id = %s", (NOW - age, name))


def due(uow: ConsumerUnitOfWork, now: datetime, limit: int = 1) -> list[str]:
    return [c.charge_id for c in uow.charges.due_for_check(now - WINDOW, now - AFTER, now, limit)]


def test_the_charges_asked_longest_ago_go_first_and_each_is_asked_once_per_turn(
    service_db: ServiceDb,
) -> None:
    with psycopg.connect(service_db("payments")) as conn:
        uow = ConsumerUnitOfWork(conn)
        uow.invoices.save(PayableInvoice("inv-1", "shop-1"))
        charge(conn, uow, "oldest", "processing", timedelta(hours=2))
        charge(conn, uow, "older", "created", timedelta(hours=1))
        charge(conn, uow, "no-intent", "created", timedelta(hours=3))
        charge(conn, uow, "settled", "succeeded", timedelta(hours=3))
        charge(conn, uow, "failed", "failed", timedelta(hours=3))
        charge(conn, uow, "left-long-ago", "processing", timedelta(days=11))
        charge(conn, uow, "too-new", "processing", timedelta(minutes=5))

        assert due(uow, NOW) == ["oldest"]
        assert due(uow, NOW) == ["older"]  # "oldest" was just asked: not its turn again
        assert due(uow, NOW, limit=10) == []
        later = NOW + AFTER + timedelta(minutes=1)  # "too-new" is old enough now
        turns = [due(uow, later) for _ in range(4)]
        assert turns == [["too-new"], ["oldest"], ["older"], []]
        checked = conn.execute(
            "SELECT charge_id FROM charges WHERE checked_at IS NOT NULL ORDER BY charge_id"
        ).fetchall()
        assert [r[0] for r in checked] == ["older", "oldest", "too-new"]
