"""The jobs service: the Job aggregate and its use cases, on in-memory fakes of its ports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from services.jobs.domain.model import (
    Address,
    Customer,
    Job,
    JobAlreadyClosed,
    JobStatus,
    UnknownCustomer,
    UnknownJob,
)
from services.jobs.service_layer import commands, handlers
from shared.contracts import JobClosed
from shared.eventstore import ConcurrencyConflict
from tests.unit.fakes import FakeJobs, FakeJobsUnitOfWork

pytestmark = pytest.mark.unit

SHOP = "shop-1"
NOW = datetime(2025, 6, 1, 12, 30, tzinfo=UTC)


def clock() -> datetime:
    return NOW


def a_customer(**overrides: object) -> Customer:
    fields: dict[str, object] = {
        "customer_id": "cust-1",
        "shop_id": SHOP,
        "name": "Pat Doe",
        "billing_address": Address("9 Billing Rd", "Fresno", "CA", "93701", line2="Suite 4"),
        "payment_terms_days": 30,
        "email": "pat@example.com",
        "phone": "+15595550100",
        "tax_exempt": False,
        **overrides,
    }
    return Customer(**fields)  # type: ignore[arg-type]


def address_in(line1: str = "2 Service Ave") -> commands.AddressIn:
    return commands.AddressIn(line1=line1, city="Clovis", region="CA", postal_code="93612")


def create_job_cmd(customer_id: str = "cust-1") -> commands.CreateJob:
    return commands.CreateJob(
        customer_id=customer_id,
        service_address=address_in(),
        line_items=[
            commands.LineItemIn(
                description="Water heater",
                quantity=Decimal(1),
                unit_price_cents=129900,
                tax_rate_percent=Decimal("7.25"),
            ),
            commands.LineItemIn(
                description="Fittings", quantity=Decimal("3.5"), unit_price_cents=333, taxable=False
            ),
        ],
        labor=[
            commands.LaborEntryIn(
                technician="Ana Silva", hours=Decimal("2.5"), hourly_rate_cents=11000
            ),
            commands.LaborEntryIn(
                technician="Bo Chen",
                hours=Decimal("0.25"),
                hourly_rate_cents=9000,
                taxable=True,
                tax_rate_percent=Decimal("5"),
            ),
        ],
    )


def a_job(**overrides: object) -> Job:
    fields: dict[str, object] = {
        "job_id": "job-1",
        "shop_id": SHOP,
        "customer_id": "cust-1",
        "service_address": Address("2 Service Ave", "Clovis", "CA", "93612"),
        **overrides,
    }
    return Job(**fields)  # type: ignore[arg-type]


# --- the Job aggregate -------------------------------------------------------------------------


def test_closing_an_open_job_records_when_and_bumps_the_version() -> None:
    job = a_job()
    job.close(NOW)
    assert job.status is JobStatus.CLOSED
    assert job.closed_at == NOW
    assert job.version == 2


def test_closing_a_job_twice_raises_and_changes_nothing() -> None:
    job = a_job()
    job.close(NOW)
    with pytest.raises(JobAlreadyClosed):
        job.close(NOW + timedelta(hours=1))
    assert job.closed_at == NOW
    assert job.version == 2
    assert job.status is JobStatus.CLOSED


# --- create_customer / create_job --------------------------------------------------------------


def test_create_customer_stores_it_under_the_shop() -> None:
    uow = FakeJobsUnitOfWork()
    cmd = commands.CreateCustomer(
        name="Pat Doe",
        email="pat@example.com",
        billing_address=address_in("9 Billing Rd"),
        payment_terms_days=15,
        tax_exempt=True,
        tax_exemption_certificate="CA-EX-1",
    )
    customer = handlers.create_customer(SHOP, cmd, uow)
    assert uow.commits == 1
    assert uow.customers.get(SHOP, customer.customer_id) == customer
    assert uow.customers.get("other-shop", customer.customer_id) is None
    assert customer.tax_exempt is True
    assert customer.tax_exemption_certificate == "CA-EX-1"
    assert (customer.payment_terms, customer.payment_terms_days) == ("net_15", 15)
    assert customer.billing_address.line1 == "9 Billing Rd"


def test_create_job_with_unknown_customer_raises_and_stores_nothing() -> None:
    uow = FakeJobsUnitOfWork()
    with pytest.raises(UnknownCustomer):
        handlers.create_job(SHOP, create_job_cmd("nobody"), uow)
    assert uow.jobs.rows == {}
    assert uow.commits == 0


def test_create_job_with_another_shops_customer_raises() -> None:
    uow = FakeJobsUnitOfWork([a_customer(shop_id="other-shop")])
    with pytest.raises(UnknownCustomer):
        handlers.create_job(SHOP, create_job_cmd(), uow)
    assert uow.jobs.rows == {}


def test_create_job_stores_an_open_job_with_its_lines_and_labor() -> None:
    uow = FakeJobsUnitOfWork([a_customer()])
    job = handlers.create_job(SHOP, create_job_cmd(), uow)
    stored = uow.jobs.get(SHOP, job.job_id)
    assert stored == job
    assert stored.status is JobStatus.SCHEDULED and stored.version == 1
    assert [i.description for i in stored.line_items] == ["Water heater", "Fittings"]
    assert [e.technician for e in stored.labor] == ["Ana Silva", "Bo Chen"]
    assert len({i.line_id for i in stored.line_items} | {e.entry_id for e in stored.labor}) == 4
    assert uow.published == []  # creating a job is not a published fact


# --- close_job ---------------------------------------------------------------------------------


def opened(uow: FakeJobsUnitOfWork) -> Job:
    return handlers.create_job(SHOP, create_job_cmd(), uow)


def test_close_job_publishes_exactly_one_job_closed_with_everything_invoicing_needs() -> None:
    customer = a_customer()
    uow = FakeJobsUnitOfWork([customer])
    job = opened(uow)

    closed = handlers.close_job(
        SHOP, commands.CloseJob(job_id=job.job_id), uow, clock, correlation_id="corr-42"
    )

    assert closed.status is JobStatus.CLOSED and closed.closed_at == NOW
    assert uow.jobs.get(SHOP, job.job_id).status is JobStatus.CLOSED  # type: ignore[union-attr]
    assert len(uow.published) == 1
    published = uow.published[0]
    assert published.aggregate_id == job.job_id
    assert published.version == closed.version == 2
    envelope = published.envelope
    assert envelope.tenant == SHOP
    assert envelope.source == handlers.SOURCE
    assert envelope.correlation_id == "corr-42"
    assert envelope.type == "JobClosed" and envelope.subject == job.job_id

    event = envelope.event
    assert isinstance(event, JobClosed)
    assert (event.job_id, event.shop_id, event.closed_at) == (job.job_id, SHOP, NOW)
    # The customer's billing snapshot, as it is now.
    snapshot = event.customer
    assert snapshot.customer_id == customer.customer_id
    assert snapshot.name == customer.name
    assert snapshot.email == customer.email
    assert snapshot.phone == customer.phone
    assert snapshot.payment_terms_days == 30
    assert snapshot.tax_exempt is False
    assert snapshot.billing_address.model_dump() == {
        "line1": "9 Billing Rd",
        "line2": "Suite 4",
        "city": "Fresno",
        "region": "CA",
        "postal_code": "93701",
        "country": "US",
    }
    # Where the work was done.
    assert event.service_address.line1 == "2 Service Ave"
    assert event.service_address.city == "Clovis"
    # Every line item and labor entry, in order, with every figure.
    assert [
        (i.line_id, i.description, i.quantity, i.unit_price_cents, i.taxable, i.tax_rate_percent)
        for i in event.line_items
    ] == [
        (i.line_id, i.description, i.quantity, i.unit_price_cents, i.taxable, i.tax_rate_percent)
        for i in job.line_items
    ]
    assert [
        (e.entry_id, e.technician, e.hours, e.hourly_rate_cents, e.taxable, e.tax_rate_percent)
        for e in event.labor
    ] == [
        (e.entry_id, e.technician, e.hours, e.hourly_rate_cents, e.taxable, e.tax_rate_percent)
        for e in job.labor
    ]


def test_close_job_snapshot_carries_a_tax_exempt_customer() -> None:
    uow = FakeJobsUnitOfWork([a_customer(tax_exempt=True, email=None, phone=None)])
    job = opened(uow)
    handlers.close_job(SHOP, commands.CloseJob(job_id=job.job_id), uow, clock)
    event = uow.published[0].envelope.event
    assert isinstance(event, JobClosed)
    assert event.customer.tax_exempt is True
    assert event.customer.email is None and event.customer.phone is None


def test_closing_a_closed_job_raises_and_publishes_nothing_more() -> None:
    uow = FakeJobsUnitOfWork([a_customer()])
    job = opened(uow)
    handlers.close_job(SHOP, commands.CloseJob(job_id=job.job_id), uow, clock)
    with pytest.raises(JobAlreadyClosed):
        handlers.close_job(SHOP, commands.CloseJob(job_id=job.job_id), uow, clock)
    assert len(uow.published) == 1


def test_close_unknown_job_raises() -> None:
    uow = FakeJobsUnitOfWork([a_customer()])
    with pytest.raises(UnknownJob):
        handlers.close_job(SHOP, commands.CloseJob(job_id="nope"), uow, clock)
    assert uow.published == []


def test_close_another_shops_job_is_unknown() -> None:
    uow = FakeJobsUnitOfWork([a_customer()])
    job = opened(uow)
    with pytest.raises(UnknownJob):
        handlers.close_job("other-shop", commands.CloseJob(job_id=job.job_id), uow, clock)
    assert uow.published == []


def test_close_job_retries_after_a_concurrency_conflict() -> None:
    uow = FakeJobsUnitOfWork([a_customer()])
    job = opened(uow)
    uow.jobs.conflicts_to_raise = 2  # lose the race twice, win the third time

    closed = handlers.close_job(SHOP, commands.CloseJob(job_id=job.job_id), uow, clock)

    assert closed.status is JobStatus.CLOSED
    assert uow.jobs.saves == 3
    assert len(uow.published) == 1  # the losing attempts were rolled back, not published
    assert uow.commits == 2  # create_job + the winning close


def test_close_job_gives_up_after_its_attempts() -> None:
    uow = FakeJobsUnitOfWork([a_customer()])
    job = opened(uow)
    uow.jobs.conflicts_to_raise = 5
    with pytest.raises(ConcurrencyConflict):
        handlers.close_job(SHOP, commands.CloseJob(job_id=job.job_id), uow, clock, attempts=3)
    assert uow.jobs.saves == 3
    assert uow.published == []
    assert uow.jobs.get(SHOP, job.job_id).status is JobStatus.SCHEDULED  # type: ignore[union-attr]


def test_close_job_that_lost_to_a_concurrent_close_reports_already_closed() -> None:
    """The retry reloads the job; if the winner closed it, this close must not bill twice."""
    uow = FakeJobsUnitOfWork([a_customer()])
    job = opened(uow)

    class RacingJobs(FakeJobs):
        raced = False

        def save(self, job: Job) -> None:
            if not self.raced:
                self.raced = True
                winner = self.get(SHOP, job.job_id)
                assert winner is not None
                winner.close(NOW)
                super().save(winner)  # someone else closes it first
            super().save(job)

    racing = RacingJobs()
    racing.rows = uow.jobs.rows
    uow.jobs = racing
    with pytest.raises(JobAlreadyClosed):
        handlers.close_job(SHOP, commands.CloseJob(job_id=job.job_id), uow, clock)
    assert uow.published == []
