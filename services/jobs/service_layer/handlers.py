"""Use cases of the jobs service. Each takes a command and a unit of work."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from datetime import UTC, datetime

from services.jobs.domain.model import (
    Address,
    Customer,
    Job,
    JobTooLarge,
    LaborEntry,
    LineItem,
    Note,
    ServiceLocation,
    TenantMismatch,
    UnknownCustomer,
    UnknownJob,
    UnknownServiceLocation,
    resolve_payment_terms,
)
from services.jobs.domain.pricebook import (
    LaborSpec,
    LineSpec,
    PricebookItem,
    ShopPricing,
    TaxRate,
    UnknownTaxRate,
)
from services.jobs.service_layer import commands
from services.jobs.service_layer.unit_of_work import JobRepository, UnitOfWork
from shared import contracts
from shared.envelope import Envelope
from shared.eventstore import MAX_EVENT_BYTES, retrying

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


def create_tax_rate(shop_id: str, cmd: commands.CreateTaxRate, uow: UnitOfWork) -> TaxRate:
    """A shop's first rate is its default; a later one becomes the default when asked."""
    with uow:
        first = not uow.tax_rates.for_shop(shop_id)
        rate = TaxRate(str(uuid.uuid4()), shop_id, cmd.name, cmd.percent)
        uow.tax_rates.add(rate)
        if cmd.is_default or first:
            uow.tax_rates.make_default(shop_id, rate.tax_rate_id)
            rate = replace(rate, is_default=True)
        uow.commit()
    return rate


def make_default_tax_rate(shop_id: str, tax_rate_id: str, uow: UnitOfWork) -> TaxRate | None:
    """None when the shop has no such rate."""
    with uow:
        rate = _rates(uow, shop_id).get(tax_rate_id)
        if rate is None:
            return None
        uow.tax_rates.make_default(shop_id, tax_rate_id)
        uow.commit()
    return replace(rate, is_default=True)


def add_pricebook_item(
    shop_id: str, cmd: commands.CreatePricebookItem, uow: UnitOfWork
) -> PricebookItem:
    with uow:
        _must_know_rate(uow, shop_id, cmd.tax_rate_id)
        item = PricebookItem(item_id=str(uuid.uuid4()), shop_id=shop_id, **cmd.model_dump())
        uow.pricebook.add(item)
        uow.commit()
    return item


def update_pricebook_item(
    shop_id: str, item_id: str, cmd: commands.UpdatePricebookItem, uow: UnitOfWork
) -> PricebookItem | None:
    """None when the shop has no such item."""
    with uow:
        found = uow.pricebook.get_many(shop_id, {item_id})
        if not found:
            return None
        _must_know_rate(uow, shop_id, cmd.tax_rate_id)
        item = replace(found[0], **cmd.model_dump(exclude_none=True))
        uow.pricebook.save(item)
        uow.commit()
    return item


def _rates(uow: UnitOfWork, shop_id: str) -> dict[str, TaxRate]:
    return {rate.tax_rate_id: rate for rate in uow.tax_rates.for_shop(shop_id)}


def _must_know_rate(uow: UnitOfWork, shop_id: str, tax_rate_id: str | None) -> None:
    if tax_rate_id is not None and tax_rate_id not in _rates(uow, shop_id):
        raise UnknownTaxRate("tax_rate_id", "no such tax rate in this shop")


def pricing_for(uow: UnitOfWork, shop_id: str, lines: Sequence[commands.LineItemIn]) -> ShopPricing:
    """The shop's rates and the pricebook items these lines name, read once."""
    wanted = {line.pricebook_item_id for line in lines if line.pricebook_item_id}
    items = uow.pricebook.get_many(shop_id, wanted) if wanted else []
    return ShopPricing.of(uow.tax_rates.for_shop(shop_id), items)


def priced_lines(
    pricing: ShopPricing,
    lines: Sequence[commands.LineItemIn],
    labor: Sequence[commands.LaborEntryIn],
) -> tuple[list[LineItem], list[LaborEntry]]:
    items = [
        pricing.line(line_spec(line), f"line_items.{n}", str(uuid.uuid4()))
        for n, line in enumerate(lines)
    ]
    entries = [
        pricing.labor(labor_spec(entry), f"labor.{n}", str(uuid.uuid4()))
        for n, entry in enumerate(labor)
    ]
    return items, entries


def line_spec(line: commands.LineItemIn) -> LineSpec:
    return LineSpec(**line.model_dump(include=LINE_SPEC_FIELDS))


def labor_spec(entry: commands.LaborEntryIn) -> LaborSpec:
    return LaborSpec(**entry.model_dump(include=LABOR_SPEC_FIELDS))


LINE_SPEC_FIELDS = set(commands.LineItemIn.model_fields)
LABOR_SPEC_FIELDS = set(commands.LaborEntryIn.model_fields)


def create_job(shop_id: str, cmd: commands.CreateJob, uow: UnitOfWork) -> Job:
    with uow:
        customer = uow.customers.get(shop_id, cmd.customer_id)
        if customer is None:
            raise UnknownCustomer(cmd.customer_id)
        items, labor = priced_lines(
            pricing_for(uow, shop_id, cmd.line_items), cmd.line_items, cmd.labor
        )
        job = Job(
            job_id=str(uuid.uuid4()),
            shop_id=shop_id,
            customer_id=cmd.customer_id,
            service_location_id=cmd.service_location_id,
            service_address=service_address(shop_id, cmd, uow),
            line_items=items,
            labor=labor,
            technicians=list(dict.fromkeys(cmd.technicians)),
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


def service_address(shop_id: str, cmd: commands.WorkForCustomer, uow: UnitOfWork) -> Address:
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
    return retrying(lambda: _close_once(shop_id, cmd, uow, clock, correlation_id), attempts)


def start_job(shop_id: str, job_id: str, uow: UnitOfWork, *, attempts: int = 3) -> Job:
    return retrying(lambda: _change(shop_id, job_id, uow, Job.start), attempts)


def cancel_job(shop_id: str, job_id: str, uow: UnitOfWork, *, attempts: int = 3) -> Job:
    return retrying(lambda: _change(shop_id, job_id, uow, Job.cancel), attempts)


def add_line_item(
    shop_id: str, job_id: str, cmd: commands.AddLineItem, uow: UnitOfWork, clock: Clock
) -> Job:
    def add(job: Job) -> None:
        pricing = pricing_for(uow, shop_id, [cmd])
        line = pricing.line(line_spec(cmd), "", str(uuid.uuid4()), cmd.added_by, clock())
        job.add_line_item(line)

    return retrying(lambda: _change(shop_id, job_id, uow, add, check_size=True), 3)


def add_labor(
    shop_id: str, job_id: str, cmd: commands.AddLaborEntry, uow: UnitOfWork, clock: Clock
) -> Job:
    def add(job: Job) -> None:
        pricing = pricing_for(uow, shop_id, [])
        entry = pricing.labor(labor_spec(cmd), "", str(uuid.uuid4()), cmd.added_by, clock())
        job.add_labor(entry)

    return retrying(lambda: _change(shop_id, job_id, uow, add, check_size=True), 3)


def assign_technicians(
    shop_id: str, job_id: str, cmd: commands.AssignTechnicians, uow: UnitOfWork
) -> Job:
    return retrying(
        lambda: _change(shop_id, job_id, uow, lambda job: job.assign(cmd.technicians)), 3
    )


def add_note(
    shop_id: str, job_id: str, cmd: commands.AddNote, uow: UnitOfWork, clock: Clock
) -> Job:
    def add(job: Job) -> None:
        job.add_note(Note(str(uuid.uuid4()), cmd.author, cmd.text, clock()))

    return retrying(lambda: _change(shop_id, job_id, uow, add, check_size=True), 3)


def reopen_job(
    shop_id: str,
    job_id: str,
    cmd: commands.ReopenJob,
    uow: UnitOfWork,
    clock: Clock,
    *,
    correlation_id: str = "",
) -> Job:
    """Reopen a closed job whose invoice has not gone out; publishes JobReopened, so invoicing
    withdraws the draft until the job closes again."""

    def once() -> Job:
        with uow:
            job = _job(uow, shop_id, job_id)
            closing = job.closings
            job.reopen()
            uow.jobs.save(job)
            event = contracts.JobReopened(
                job_id=job.job_id,
                shop_id=shop_id,
                reopened_at=clock(),
                reopens_closing=closing,
                reason=cmd.reason,
            )
            uow.publish(job.job_id, job.version, envelope_of(event, shop_id, correlation_id))
            uow.commit()
        return job

    return retrying(once, 3)


def when_invoice_is_sent_stop_reopening(envelope: Envelope, jobs: JobRepository) -> None:
    """Once the job's invoice is with the customer, the job is corrected on the invoice instead.
    Idempotent: a redelivered InvoiceSent changes nothing. One whose body names another shop
    than its envelope is refused (the consumer dead-letters it), never silently dropped."""
    sent = envelope.event
    assert isinstance(sent, contracts.InvoiceSent)
    if sent.shop_id != envelope.tenant:
        raise TenantMismatch(f"InvoiceSent for shop {sent.shop_id} came as {envelope.tenant}")
    if sent.job_id is None:
        return
    job = jobs.get(sent.shop_id, sent.job_id)
    if job is not None and job.mark_invoice_sent():
        jobs.save(job)


def _job(uow: UnitOfWork, shop_id: str, job_id: str) -> Job:
    job = uow.jobs.get(shop_id, job_id)
    if job is None:
        raise UnknownJob(job_id)
    return job


def envelope_of(event: contracts.Event, shop_id: str, correlation_id: str) -> Envelope:
    return Envelope(event=event, tenant=shop_id, source=SOURCE, correlation_id=correlation_id)


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
        event = job_closed(job, customer, uow.tax_rates.for_shop(shop_id))
        uow.publish(job.job_id, job.version, envelope_of(event, shop_id, correlation_id))
        uow.commit()
    return job


def _ensure_it_can_be_invoiced(job: Job, customer: Customer) -> None:
    """Refuse, at creation, a job whose JobClosed (and the invoice drafted from it, which is
    bigger) could not travel as one Kafka message."""
    provisional = replace(job, closed_at=datetime(2000, 1, 1, tzinfo=UTC), closings=1)
    must_fit(job_closed(provisional, customer, []), "job")


def must_fit(event: contracts.Event, what: str) -> None:
    size = len(event.model_dump_json().encode())
    if size > MAX_JOB_CLOSED_BYTES:
        raise JobTooLarge(
            f"the {what} would be {size:,} bytes as an event; at most {MAX_JOB_CLOSED_BYTES:,}:"
            f" split it into several {what}s"
        )


def job_closed(job: Job, customer: Customer, rates: list[TaxRate]) -> contracts.JobClosed:
    """The event-carried state invoicing needs: billing snapshot, service address, lines, labor,
    the technicians' notes and the shop's tax rates."""
    assert job.closed_at is not None
    return contracts.JobClosed(
        job_id=job.job_id,
        shop_id=job.shop_id,
        closed_at=job.closed_at,
        closing=job.closings,
        customer=customer_snapshot(customer),
        service_address=address_out(job.service_address),
        service_location_id=job.service_location_id,
        line_items=line_items_out(job.line_items),
        labor=labor_out(job.labor),
        technicians=job.technicians,
        notes=[contracts.JobNote(**asdict(note)) for note in job.notes],
        tax_rates=tax_rates_out(rates),
    )


def line_items_out(items: list[LineItem]) -> list[contracts.JobLineItem]:
    return [contracts.JobLineItem(**asdict(item)) for item in items]


def labor_out(entries: list[LaborEntry]) -> list[contracts.LaborEntry]:
    return [contracts.LaborEntry(**asdict(entry)) for entry in entries]


def tax_rates_out(rates: list[TaxRate]) -> list[contracts.TaxRate]:
    return [
        contracts.TaxRate(
            tax_rate_id=r.tax_rate_id, name=r.name, percent=r.percent, is_default=r.is_default
        )
        for r in rates
    ]


def customer_snapshot(customer: Customer) -> contracts.CustomerSnapshot:
    return contracts.CustomerSnapshot(
        customer_id=customer.customer_id,
        name=customer.name,
        email=customer.email,
        phone=customer.phone,
        billing_address=address_out(customer.billing_address),
        customer_type=customer.customer_type.value,
        payment_terms=customer.payment_terms.value,
        payment_terms_days=customer.payment_terms_days,
        tax_exempt=customer.tax_exempt,
        tax_exemption_certificate=customer.tax_exemption_certificate,
    )


def _address(a: commands.AddressIn) -> Address:
    return Address(**a.model_dump())


def address_out(a: Address) -> contracts.Address:
    return contracts.Address(**asdict(a))
