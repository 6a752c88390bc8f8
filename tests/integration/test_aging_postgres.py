"""The AR aging read model on real PostgreSQL, over random event histories (hypothesis): events
applied in a shuffled order with repeats through the consumer's handler give, for every day, the
same report as the domain computes from the events — in total and per customer, today's and as
of past days; the drill-down lists the invoices behind a bucket to the cent."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from psycopg_pool import ConnectionPool

from services.reporting.adapters.postgres import AgingOnConnection, PooledAgingReports
from services.reporting.domain.aging import Buckets, aging, from_buckets
from services.reporting.domain.ledger import InvoiceFacts, owed_on
from services.reporting.service_layer import handlers
from shared import contracts
from shared.db import make_pool
from shared.envelope import Envelope
from tests.unit import builders
from tests.unit.test_aging import START, ZONE, changes, fold, histories

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pool(pg_server_url: str) -> Iterator[ConnectionPool]:
    from shared.db import drop_database, ensure_database, migrate
    from shared.devstack.infra import service_migrations
    from shared.settings import Settings

    settings = Settings(database_url=pg_server_url, database_prefix=f"a{uuid.uuid4().hex[:8]}_")
    url = settings.database_url_for("reporting")
    ensure_database(settings.admin_database_url(), url)
    migrate(url, service_migrations("reporting"))
    p = make_pool(url, min_size=1, max_size=4, name="aging-test")
    yield p
    p.close()
    drop_database(settings.admin_database_url(), url)


def as_shop(event: contracts.Event, shop: str) -> contracts.Event:
    return event.model_copy(update={"shop_id": shop, "invoice_id": f"{shop}/{event.subject}"})


@hypothesis_settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(invoices=histories, seed=st.integers(0, 2**32))
def test_the_read_model_gives_the_domains_report_on_every_day(
    pool: ConnectionPool, invoices: tuple[list[contracts.Event], ...], seed: int
) -> None:
    shop = f"shop-{uuid.uuid4().hex[:10]}"
    events = [as_shop(e, shop) for invoice in invoices for e in invoice]
    arrivals = events + random.Random(seed).sample(events, k=len(events) // 3)
    random.Random(seed).shuffle(arrivals)
    for event in arrivals:
        with pool.connection() as conn:
            envelope = Envelope(event=event, tenant=shop, source="/test")
            handlers.when_invoice_changes_age_it(envelope, AgingOnConnection(conn))
    reports = PooledAgingReports(pool)
    buckets = Buckets()
    expected_changes = changes(fold_as(events, shop))
    first = START.astimezone(ZONE).date()
    for offset in range(0, 200, 13):
        day = first + timedelta(days=offset)
        want = aging(owed_on(expected_changes, day), day, buckets, by_customer=True)
        per_customer = aging(reports.owed_on(shop, day), day, buckets, by_customer=True)
        total = per_customer
        assert total.total == want.total
        assert from_buckets(reports.bucketed(shop, day, buckets, False), day, buckets).total == (
            want.total
        )
        assert per_customer.customers == want.customers
        for bucket in range(len(buckets.labels)):
            earliest, latest = buckets.due_dates(bucket, day)
            listed = reports.invoices(shop, day, earliest, latest, None)
            assert sum(i.balance_cents for i in listed) == want.total.cents[bucket]
    far = first + timedelta(days=400)
    now = aging(reports.owed_now(shop), far, buckets, by_customer=False)
    assert now.total == aging(owed_on(expected_changes, far), far, buckets, False).total
    assert from_buckets(reports.bucketed(shop, far, buckets, True), far, buckets).total == now.total


def fold_as(events: list[contracts.Event], shop: str) -> dict[str, InvoiceFacts]:
    invoices = fold([e.model_copy(update={"shop_id": "shop-1"}) for e in events])
    for facts in invoices.values():
        facts.shop_id = shop
    return invoices


def test_the_shops_time_zone_is_its_newest_invoices(pool: ConnectionPool) -> None:
    shop = f"shop-{uuid.uuid4().hex[:10]}"

    def sent(invoice_id: str, at: datetime, zone: str) -> contracts.InvoiceSent:
        return contracts.InvoiceSent(
            invoice_id=invoice_id,
            shop_id=shop,
            invoice_number=invoice_id,
            sent_at=at,
            due_date=at.date(),
            customer=builders.customer_snapshot(),
            service_address=builders.address(),
            lines=[],
            totals=contracts.InvoiceTotals(subtotal_cents=100, tax_cents=0, total_cents=100),
            allowed_payment_methods=["card"],
            pay_url="https://pay.example.com/p/x",
            shop=contracts.ShopBranding(name="Shop", time_zone=zone),
        )

    newer = sent("new", datetime(2026, 6, 1, tzinfo=UTC), "America/New_York")
    older = sent("old", datetime(2026, 1, 1, tzinfo=UTC), "America/Denver")
    for event in (newer, older):  # the older invoice's event arrives last
        with pool.connection() as conn:
            envelope = Envelope(event=event, tenant=shop, source="/test")
            handlers.when_invoice_changes_age_it(envelope, AgingOnConnection(conn))
    assert PooledAgingReports(pool).shop(shop).time_zone == "America/New_York"
