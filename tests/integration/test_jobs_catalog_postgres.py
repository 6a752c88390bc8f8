"""Tax rates, the pricebook, estimates and the job's newer parts (technicians, notes, closings)
on real PostgreSQL: round trips, tenancy, the one-default rule under concurrency, and the
reopen use case publishing into the outbox."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal

import pytest
from psycopg_pool import ConnectionPool

from services.jobs.adapters.postgres import PostgresUnitOfWork
from services.jobs.domain.estimate import EstimateStatus
from services.jobs.service_layer import commands, estimates, handlers
from shared import eventstore
from shared.contracts import EstimateApproved, JobClosed, JobReopened
from shared.db import make_pool
from tests.integration.test_jobs_postgres import SHOP, a_customer, clock

pytestmark = pytest.mark.integration


@pytest.fixture
def pool(jobs_db: str) -> Iterator[ConnectionPool]:
    p = make_pool(jobs_db, min_size=1, max_size=8, name="jobs-catalog-test")
    with PostgresUnitOfWork(p) as uow:
        uow.customers.add(a_customer())
        uow.commit()
    yield p
    p.close()


def uow_of(pool: ConnectionPool) -> PostgresUnitOfWork:
    return PostgresUnitOfWork(pool)


def address() -> commands.AddressIn:
    return commands.AddressIn(line1="2 Service Ave", city="Clovis", region="CA", postal_code="1")


def test_tax_rates_keep_one_default_even_when_offices_race(pool: ConnectionPool) -> None:
    rates = [
        handlers.create_tax_rate(
            SHOP, commands.CreateTaxRate(name=f"R{n}", percent=Decimal(n)), uow_of(pool)
        )
        for n in range(6)
    ]
    assert [r.is_default for r in rates] == [True, False, False, False, False, False]
    errors: list[BaseException] = []

    def make_default(rate_id: str) -> None:
        try:
            for _ in range(10):
                handlers.make_default_tax_rate(SHOP, rate_id, uow_of(pool))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=make_default, args=(r.tax_rate_id,)) for r in rates]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with uow_of(pool) as uow:
        stored = uow.tax_rates.for_shop(SHOP)
        assert [r.name for r in stored] == [f"R{n}" for n in range(6)]
        assert sum(r.is_default for r in stored) == 1
        assert uow.tax_rates.for_shop("other-shop") == []
        assert stored[2].percent == Decimal(2)


def test_pricebook_items_round_trip_and_stay_in_their_shop(pool: ConnectionPool) -> None:
    rate = handlers.create_tax_rate(
        SHOP, commands.CreateTaxRate(name="County", percent=Decimal("8.35")), uow_of(pool)
    )
    cmd = commands.CreatePricebookItem(
        name="Heater",
        description="50 gal",
        sku="WH-50",
        unit_price_cents=129900,
        tax_rate_id=rate.tax_rate_id,
    )
    item = handlers.add_pricebook_item(SHOP, cmd, uow_of(pool))
    with uow_of(pool) as uow:
        assert uow.pricebook.get_many(SHOP, {item.item_id, "ghost"}) == [item]
        assert uow.pricebook.get_many("other-shop", {item.item_id}) == []
    archived = handlers.update_pricebook_item(
        SHOP, item.item_id, commands.UpdatePricebookItem(active=False), uow_of(pool)
    )
    with uow_of(pool) as uow:
        assert uow.pricebook.get_many(SHOP, {item.item_id}) == [archived]


def test_technicians_notes_and_priced_lines_round_trip(pool: ConnectionPool) -> None:
    handlers.create_tax_rate(
        SHOP, commands.CreateTaxRate(name="County", percent=Decimal("8.35")), uow_of(pool)
    )
    job = handlers.create_job(
        SHOP,
        commands.CreateJob(
            customer_id="cust-1",
            service_address=address(),
            technicians=["Ana", "Bo"],
            line_items=[
                commands.LineItemIn(description="Valve", quantity=Decimal(1), unit_price_cents=900)
            ],
            labor=[
                commands.LaborEntryIn(
                    technician="Ana", hours=Decimal("1.5"), flat_amount_cents=9900
                )
            ],
        ),
        uow_of(pool),
    )
    handlers.add_note(
        SHOP, job.job_id, commands.AddNote(author="Ana", text="Dog in yard"), uow_of(pool), clock
    )
    with uow_of(pool) as uow:
        stored = uow.jobs.get(SHOP, job.job_id)
    assert stored is not None
    assert stored.technicians == ["Ana", "Bo"]
    assert [(n.author, n.text, n.added_at) for n in stored.notes] == [
        ("Ana", "Dog in yard", clock())
    ]
    assert stored.line_items[0].tax_rate_name == "County"
    assert stored.labor[0].flat_amount_cents == 9900
    assert stored.line_items == job.line_items and stored.labor == job.labor


def test_close_reopen_close_appends_to_one_stream_in_order(pool: ConnectionPool) -> None:
    job = handlers.create_job(
        SHOP, commands.CreateJob(customer_id="cust-1", service_address=address()), uow_of(pool)
    )
    close = commands.CloseJob(job_id=job.job_id)
    handlers.close_job(SHOP, close, uow_of(pool), clock)
    handlers.reopen_job(SHOP, job.job_id, commands.ReopenJob(), uow_of(pool), clock)
    handlers.close_job(SHOP, close, uow_of(pool), clock)
    with pool.connection() as conn:
        stream = [stored.envelope.event for stored in eventstore.load(conn, job.job_id)]
    assert [type(e) for e in stream] == [JobClosed, JobReopened, JobClosed]
    assert [e.closing for e in stream if isinstance(e, JobClosed)] == [1, 2]


def test_an_estimate_round_trips_and_its_approval_is_in_the_outbox(pool: ConnectionPool) -> None:
    cmd = commands.CreateEstimate(
        customer_id="cust-1",
        service_address=address(),
        line_items=[
            commands.LineItemIn(
                description="Condenser", quantity=Decimal("1.5"), unit_price_cents=420000
            )
        ],
        notes="30 days",
    )
    estimate = estimates.create_estimate(SHOP, cmd, uow_of(pool))
    with uow_of(pool) as uow:
        assert uow.estimates.get(SHOP, estimate.estimate_id) == estimate
        assert uow.estimates.get("other-shop", estimate.estimate_id) is None
    approved = estimates.approve_estimate(
        SHOP,
        estimate.estimate_id,
        commands.ApproveEstimate(approved_by="Pat"),
        uow_of(pool),
        clock,
    )
    with uow_of(pool) as uow:
        stored = uow.estimates.get(SHOP, estimate.estimate_id)
    assert stored == approved and stored.status is EstimateStatus.APPROVED
    with pool.connection() as conn:
        (event,) = [s.envelope.event for s in eventstore.load(conn, estimate.estimate_id)]
    assert isinstance(event, EstimateApproved)
    assert event.line_items[0].quantity == Decimal("1.5") and event.approved_by == "Pat"
