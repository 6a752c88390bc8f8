"""The jobs service's PostgreSQL unit of work: round trips, tenancy, transactions, optimistic saves
and the close use case racing itself on real connections."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from services.jobs.adapters.postgres import PostgresUnitOfWork
from services.jobs.domain.model import (
    Address,
    Customer,
    Job,
    JobAlreadyClosed,
    JobStatus,
    LaborEntry,
    LineItem,
)
from services.jobs.service_layer import commands, handlers
from shared import eventstore
from shared.contracts import JobClosed
from shared.db import make_pool
from shared.eventstore import ConcurrencyConflict
from tests.integration.helpers import wait_for, waiting_on_a_lock

pytestmark = pytest.mark.integration

SHOP = "shop-1"
NOW = datetime(2025, 6, 1, 12, 30, 15, 123456, tzinfo=UTC)
Connect = Callable[[str], psycopg.Connection]


def clock() -> datetime:
    return NOW


@pytest.fixture
def pool(jobs_db: str) -> Iterator[ConnectionPool]:
    p = make_pool(jobs_db, min_size=1, max_size=4, name="jobs-test")
    yield p
    p.close()


def a_customer(customer_id: str = "cust-1", shop_id: str = SHOP, **overrides: Any) -> Customer:
    fields: dict[str, Any] = {
        "customer_id": customer_id,
        "shop_id": shop_id,
        "name": "Pat Doe",
        "billing_address": Address(
            "9 Billing Rd", "Fresno", "CA", "93701", line2="Suite 4", country="US"
        ),
        "payment_terms_days": 30,
        "email": "pat@example.com",
        "phone": "+15595550100",
        "tax_exempt": True,
        **overrides,
    }
    return Customer(**fields)


def a_job(job_id: str = "job-1", customer_id: str = "cust-1") -> Job:
    return Job(
        job_id=job_id,
        shop_id=SHOP,
        customer_id=customer_id,
        service_address=Address("2 Service Ave", "Clovis", "CA", "93612"),
        line_items=[
            LineItem("li-b", "Water heater", Decimal("1.000"), 129900, True, Decimal("7.2500")),
            LineItem("li-a", "Fittings", Decimal("3.125"), 333, False, Decimal("0.0000")),
        ],
        labor=[
            LaborEntry("lab-z", "Ana Silva", Decimal("2.50"), 11000),
            LaborEntry("lab-y", "Bo Chen", Decimal("0.25"), 9000, True, Decimal("5.0000")),
        ],
    )


def stored(pool: ConnectionPool, job: Job) -> None:
    with PostgresUnitOfWork(pool) as uow:
        uow.customers.add(a_customer(job.customer_id))
        uow.jobs.add(job)
        uow.commit()


def test_customers_round_trip_within_their_shop(pool: ConnectionPool) -> None:
    customer = a_customer()
    bare = a_customer("cust-2", email=None, phone=None, tax_exempt=False, payment_terms_days=0)
    with PostgresUnitOfWork(pool) as uow:
        uow.customers.add(customer)
        uow.customers.add(bare)
        uow.commit()
    with PostgresUnitOfWork(pool) as uow:
        assert uow.customers.get(SHOP, "cust-1") == customer
        assert uow.customers.get(SHOP, "cust-2") == bare
        assert uow.customers.get("another-shop", "cust-1") is None
        assert uow.customers.get(SHOP, "nobody") is None


def test_jobs_round_trip_with_lines_and_labor_in_order(pool: ConnectionPool) -> None:
    job = a_job()
    stored(pool, job)
    with PostgresUnitOfWork(pool) as uow:
        loaded = uow.jobs.get(SHOP, job.job_id)
        assert uow.jobs.get("another-shop", job.job_id) is None
        assert uow.jobs.get(SHOP, "no-such-job") is None
    assert loaded == job
    assert loaded is not None
    assert [i.line_id for i in loaded.line_items] == ["li-b", "li-a"]  # entry order, not id order
    assert [e.entry_id for e in loaded.labor] == ["lab-z", "lab-y"]
    assert loaded.line_items[1].quantity == Decimal("3.125")
    assert (loaded.status, loaded.closed_at, loaded.version) == (JobStatus.SCHEDULED, None, 1)


def test_a_job_without_lines_or_labor_round_trips(pool: ConnectionPool) -> None:
    job = a_job("job-empty")
    job.line_items, job.labor = [], []
    stored(pool, job)
    with PostgresUnitOfWork(pool) as uow:
        assert uow.jobs.get(SHOP, "job-empty") == job


def test_nothing_is_kept_without_commit(pool: ConnectionPool) -> None:
    with PostgresUnitOfWork(pool) as uow:
        uow.customers.add(a_customer())
    with PostgresUnitOfWork(pool) as uow:
        uow.customers.add(a_customer())
        uow.rollback()
        uow.commit()
    with PostgresUnitOfWork(pool) as uow:
        assert uow.customers.get(SHOP, "cust-1") is None


def test_the_connection_goes_back_to_the_pool_clean_after_an_error(pool: ConnectionPool) -> None:
    with pytest.raises(ZeroDivisionError), PostgresUnitOfWork(pool) as uow:
        uow.customers.add(a_customer())
        _ = 1 / 0
    for _ in range(pool.max_size + 1):  # every connection of the pool is usable again
        with PostgresUnitOfWork(pool) as uow:
            assert uow.customers.get(SHOP, "cust-1") is None


def test_closing_saves_the_job_and_appends_job_closed_in_one_transaction(
    pool: ConnectionPool,
) -> None:
    job = a_job()
    stored(pool, job)
    closed = handlers.close_job(
        SHOP,
        commands.CloseJob(job_id=job.job_id),
        PostgresUnitOfWork(pool),
        clock,
        correlation_id="corr-1",
    )
    with PostgresUnitOfWork(pool) as uow:
        reloaded = uow.jobs.get(SHOP, job.job_id)
        history = eventstore.load(uow.conn, job.job_id)
    assert reloaded == closed
    assert (reloaded.status, reloaded.closed_at, reloaded.version) == (JobStatus.CLOSED, NOW, 2)
    (event,) = history
    assert event.version == 2
    assert isinstance(event.envelope.event, JobClosed)
    assert event.envelope.event.customer.tax_exempt is True
    assert [i.line_id for i in event.envelope.event.line_items] == ["li-b", "li-a"]
    assert event.envelope.correlation_id == "corr-1"


def test_an_optimistic_save_conflicts_with_a_committed_change(pool: ConnectionPool) -> None:
    stored(pool, a_job())
    with PostgresUnitOfWork(pool) as first, PostgresUnitOfWork(pool) as second:
        mine = first.jobs.get(SHOP, "job-1")
        theirs = second.jobs.get(SHOP, "job-1")
        assert mine is not None and theirs is not None
        theirs.close(NOW)
        second.jobs.save(theirs)
        second.commit()

        mine.close(NOW)
        with pytest.raises(ConcurrencyConflict) as caught:
            first.jobs.save(mine)
        assert caught.value.expected_version == 1
    with PostgresUnitOfWork(pool) as uow:
        final = uow.jobs.get(SHOP, "job-1")
    assert final is not None and final.version == 2


def test_an_optimistic_save_waits_for_a_concurrent_one_then_conflicts(
    pool: ConnectionPool, jobs_db: str, autocommit: Connect
) -> None:
    stored(pool, a_job())
    observer = autocommit(jobs_db)
    with PostgresUnitOfWork(pool) as first, PostgresUnitOfWork(pool) as second:
        mine, theirs = first.jobs.get(SHOP, "job-1"), second.jobs.get(SHOP, "job-1")
        assert mine is not None and theirs is not None
        theirs.close(NOW)
        second.jobs.save(theirs)  # holds the row, uncommitted
        mine.close(NOW)
        outcome: list[BaseException | None] = []

        def save_mine() -> None:
            try:
                first.jobs.save(mine)
                outcome.append(None)
            except BaseException as exc:
                outcome.append(exc)

        racer = threading.Thread(target=save_mine)
        racer.start()
        wait_for(
            lambda: waiting_on_a_lock(observer, first.conn.info.backend_pid),
            5,
            "the second save to wait for the first",
        )
        assert racer.is_alive()
        second.commit()
        racer.join(timeout=5)
        assert len(outcome) == 1 and isinstance(outcome[0], ConcurrencyConflict)


def test_two_concurrent_closes_bill_once(pool: ConnectionPool) -> None:
    """Both requests read the open job; one closes it, the other retries, sees it closed, and
    refuses: one JobClosed event, never two."""
    stored(pool, a_job())
    barrier = threading.Barrier(2, timeout=5)

    class FirstReadTogether(PostgresUnitOfWork):
        waited = False

        def __enter__(self) -> FirstReadTogether:
            super().__enter__()
            if not self.waited:
                self.waited = True
                job_repo = self.jobs
                original_get = job_repo.get

                def get(shop_id: str, job_id: str) -> Job | None:
                    job = original_get(shop_id, job_id)
                    barrier.wait()  # both have read the open job
                    return job

                job_repo.get = get  # type: ignore[method-assign]
            return self

    outcomes: list[object] = []

    def close() -> None:
        try:
            outcomes.append(
                handlers.close_job(
                    SHOP, commands.CloseJob(job_id="job-1"), FirstReadTogether(pool), clock
                )
            )
        except BaseException as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=close) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=15)

    assert sorted(type(o).__name__ for o in outcomes) == ["Job", "JobAlreadyClosed"]
    with PostgresUnitOfWork(pool) as uow:
        history = eventstore.load(uow.conn, "job-1")
    assert [(e.version, e.envelope.type) for e in history] == [(2, "JobClosed")]
    assert any(isinstance(o, JobAlreadyClosed) for o in outcomes)
