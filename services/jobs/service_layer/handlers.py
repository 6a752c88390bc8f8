"""Use cases of the jobs service. Each takes a command and a unit of work."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import asdict, replace
from datetime import UTC, datetime

from services.jobs.domain.model import (
    Address,
    Customer,
    Job,
    JobTooLarge,
    LaborEntry,
    LineItem,
    ServiceLocation,
    UnknownCustomer,
    UnknownJob,
    UnknownServiceLocation,
    resolve_payment_terms,
)
from services.jobs.service_layer import commands
from services.jobs.service_layer.unit_of_work import UnitOfWork
from shared import contracts
from shared.envelope import Envelope
from shared.eventstore import MAX_EVENT_BYTES, ConcurrencyConflict

SOURCE = "/services/jobs"
MAX_JOB_CLOSED_BYTES = MAX_EVENT_BYTES * 2 // 3
"""Leaves room for the InvoiceDrafted built from it (about 15 % bigger) under the event cap."""
Clock = Callable[[], datetime]


def create_customer(shop_id: str, cmd: commands.CreateCustomer, uow: UnitOfWork) -> Customer:
    terms, days = resolve_payment_terms(cmd.payment_terms, cmd.payment_terms_days)
    customer = Customer(
        customer_id=str(uuid.uuid4()),
        shop_id=shop_id,
        name=cmd.name,
        customer_type=cmd.customer_type,
        email=cmd.email,
        phone=cmd.phone,
        billing_address=_address(cmd.billing_address),
        payment_terms=terms,
        payment_terms_days=days,
        tax_exempt=cmd.tax_exempt,
        tax_exemption_certificate=cmd.tax_exemption_certificate,
    )
    with uow:
        uow.customers.add(customer)
        uow.commit()
    return customer


def create_job(shop_id: str, cmd: commands.CreateJob, uow: UnitOfWork) -> Job:
    with uow:
        customer = uow.customers.get(shop_id, cmd.customer_id)
        if customer is None:
            raise UnknownCustomer(cmd.customer_id)
        job = Job(
            job_id=str(uuid.uuid4()),
            shop_id=shop_id,
            customer_id=cmd.customer_id,
            service_location_id=cmd.service_location_id,
            service_address=_service_address(shop_id, cmd, uow),
            line_items=[_line_item(item) for item in cmd.line_items],
            labor=[_labor(entry) for entry in cmd.labor],
        )
        _ensure_it_can_be_invoiced(job, customer)
        uow.jobs.add(job)
        uow.commit()
    return job


def add_service_location(
    shop_id: str, customer_id: str, cmd: commands.AddServiceLocation, uow: UnitOfWork
) -> ServiceLocation:
    with uow:
        if uow.customers.get(shop_id, customer_id) is None:
            raise UnknownCustomer(customer_id)
        location = ServiceLocation(
            location_id=str(uuid.uuid4()),
            shop_id=shop_id,
            customer_id=customer_id,
            name=cmd.name,
            address=_address(cmd.address),
        )
        uow.locations.add(location)
        uow.commit()
    return location


def _service_address(shop_id: str, cmd: commands.CreateJob, uow: UnitOfWork) -> Address:
    """The job keeps its own copy of where the work is, from a saved location or typed in."""
    if cmd.service_location_id is None:
        assert cmd.service_address is not None
        return _address(cmd.service_address)
    location = uow.locations.get(shop_id, cmd.service_location_id)
    if location is None or location.customer_id != cmd.customer_id:
        raise UnknownServiceLocation(cmd.service_location_id)
    return location.address


def close_job(
    shop_id: str,
    cmd: commands.CloseJob,
    uow: UnitOfWork,
    clock: Clock,
    *,
    correlation_id: str = "",
    attempts: int = 3,
) -> Job:
    """Close the job and publish JobClosed in the same transaction; retried on a lost race."""
    return _retrying(lambda: _close_once(shop_id, cmd, uow, clock, correlation_id), attempts)


def start_job(shop_id: str, job_id: str, uow: UnitOfWork, *, attempts: int = 3) -> Job:
    return _retrying(lambda: _change(shop_id, job_id, uow, Job.start), attempts)


def cancel_job(shop_id: str, job_id: str, uow: UnitOfWork, *, attempts: int = 3) -> Job:
    return _retrying(lambda: _change(shop_id, job_id, uow, Job.cancel), attempts)


def add_line_item(
    shop_id: str, job_id: str, cmd: commands.AddLineItem, uow: UnitOfWork, clock: Clock
) -> Job:
    def add(job: Job) -> None:
        job.add_line_item(LineItem(line_id=str(uuid.uuid4()), added_at=clock(), **cmd.model_dump()))

    return _retrying(lambda: _change(shop_id, job_id, uow, add, check_size=True), 3)


def add_labor(
    shop_id: str, job_id: str, cmd: commands.AddLaborEntry, uow: UnitOfWork, clock: Clock
) -> Job:
    def add(job: Job) -> None:
        job.add_labor(LaborEntry(entry_id=str(uuid.uuid4()), added_at=clock(), **cmd.model_dump()))

    return _retrying(lambda: _change(shop_id, job_id, uow, add, check_size=True), 3)


def _change(
    shop_id: str,
    job_id: str,
    uow: UnitOfWork,
    action: Callable[[Job], None],
    *,
    check_size: bool = False,
) -> Job:
    with uow:
        job = uow.jobs.get(shop_id, job_id)
        if job is None:
            raise UnknownJob(job_id)
        action(job)
        customer = uow.customers.get(shop_id, job.customer_id) if check_size else None
        if customer is not None:
            _ensure_it_can_be_invoiced(job, customer)
        uow.jobs.save(job)
        uow.commit()
    return job


def _retrying(attempt_once: Callable[[], Job], attempts: int) -> Job:
    """Run a read-modify-write again after losing an optimistic race (it reloads)."""
    for attempt in range(attempts):
        try:
            return attempt_once()
        except ConcurrencyConflict:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def _close_once(
    shop_id: str, cmd: commands.CloseJob, uow: UnitOfWork, clock: Clock, correlation_id: str
) -> Job:
    with uow:
        job = uow.jobs.get(shop_id, cmd.job_id)
        if job is None:
            raise UnknownJob(cmd.job_id)
        customer = uow.customers.get(shop_id, job.customer_id)
        if customer is None:
            raise UnknownCustomer(job.customer_id)
        job.close(clock())
        uow.jobs.save(job)
        event = job_closed(job, customer)
        uow.publish(
            job.job_id,
            job.version,
            Envelope(
                event=event,
                tenant=shop_id,
                source=SOURCE,
                correlation_id=correlation_id,
            ),
        )
        uow.commit()
    return job


def _ensure_it_can_be_invoiced(job: Job, customer: Customer) -> None:
    """Refuse, at creation, a job whose JobClosed (and the invoice drafted from it, which is
    bigger) could not travel as one Kafka message."""
    provisional = replace(job, closed_at=datetime(2000, 1, 1, tzinfo=UTC))
    size = len(job_closed(provisional, customer).model_dump_json().encode())
    if size > MAX_JOB_CLOSED_BYTES:
        raise JobTooLarge(
            f"the job would be {size:,} bytes as an event; at most {MAX_JOB_CLOSED_BYTES:,}:"
            " split it into several jobs"
        )


def job_closed(job: Job, customer: Customer) -> contracts.JobClosed:
    """The event-carried state invoicing needs: billing snapshot, service address, lines, labor."""
    assert job.closed_at is not None
    return contracts.JobClosed(
        job_id=job.job_id,
        shop_id=job.shop_id,
        closed_at=job.closed_at,
        customer=contracts.CustomerSnapshot(
            customer_id=customer.customer_id,
            name=customer.name,
            email=customer.email,
            phone=customer.phone,
            billing_address=_address_out(customer.billing_address),
            customer_type=customer.customer_type.value,
            payment_terms=customer.payment_terms.value,
            payment_terms_days=customer.payment_terms_days,
            tax_exempt=customer.tax_exempt,
            tax_exemption_certificate=customer.tax_exemption_certificate,
        ),
        service_address=_address_out(job.service_address),
        service_location_id=job.service_location_id,
        line_items=[contracts.JobLineItem(**asdict(item)) for item in job.line_items],
        labor=[contracts.LaborEntry(**asdict(entry)) for entry in job.labor],
    )


def _address(a: commands.AddressIn) -> Address:
    return Address(**a.model_dump())


def _address_out(a: Address) -> contracts.Address:
    return contracts.Address(**asdict(a))


def _line_item(item: commands.LineItemIn) -> LineItem:
    return LineItem(line_id=str(uuid.uuid4()), **item.model_dump())


def _labor(entry: commands.LaborEntryIn) -> LaborEntry:
    return LaborEntry(entry_id=str(uuid.uuid4()), **entry.model_dump())
