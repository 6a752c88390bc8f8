"""Service locations: a customer's places of work; a job is done at one of them or at a typed-in
address, and carries its own copy of the address."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.jobs.domain.model import UnknownCustomer, UnknownServiceLocation
from services.jobs.service_layer import commands, handlers
from tests.unit.fakes import FakeJobsUnitOfWork
from tests.unit.test_jobs import SHOP, a_customer, address_in, clock

pytestmark = pytest.mark.unit


def job_at(location_id: str, customer_id: str = "cust-1") -> commands.CreateJob:
    return commands.CreateJob(customer_id=customer_id, service_location_id=location_id)


def test_a_job_at_a_saved_location_copies_its_address_and_carries_its_id() -> None:
    uow = FakeJobsUnitOfWork([a_customer()])
    cmd = commands.AddServiceLocation(name="Unit 4B", address=address_in("40 Harbor Way"))
    unit = handlers.add_service_location(SHOP, "cust-1", cmd, uow)

    job = handlers.create_job(SHOP, job_at(unit.location_id), uow)
    handlers.close_job(SHOP, commands.CloseJob(job_id=job.job_id), uow, clock)

    assert job.service_address.line1 == "40 Harbor Way"
    event = uow.published[-1].envelope.event
    assert getattr(event, "service_location_id", None) == unit.location_id
    assert uow.locations.for_customer(SHOP, "cust-1") == [unit]


def test_another_customers_or_shops_location_is_refused() -> None:
    other = a_customer(customer_id="cust-2")
    uow = FakeJobsUnitOfWork([a_customer(), other])
    cmd = commands.AddServiceLocation(name="Office", address=address_in())
    theirs = handlers.add_service_location(SHOP, "cust-2", cmd, uow)

    with pytest.raises(UnknownServiceLocation):
        handlers.create_job(SHOP, job_at(theirs.location_id), uow)
    with pytest.raises(UnknownCustomer):  # from another shop, not even the customer is there
        handlers.create_job("other-shop", job_at(theirs.location_id, "cust-2"), uow)
    with pytest.raises(UnknownCustomer):
        handlers.add_service_location("other-shop", "cust-1", cmd, uow)
    assert uow.jobs.rows == {}


@pytest.mark.parametrize("both", [True, False])
def test_a_job_needs_exactly_one_of_location_and_address(both: bool) -> None:
    extra = {"service_location_id": "loc-1", "service_address": address_in()} if both else {}
    with pytest.raises(ValidationError) as caught:
        commands.CreateJob(customer_id="cust-1", **extra)
    assert [e["loc"] for e in caught.value.errors()] == [("service_address",)]
