"""Use cases of estimates: propose the work, send it, record the customer's answer. Approving
publishes EstimateApproved, which carries everything invoicing needs to bill it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from services.jobs.domain.estimate import Estimate, UnknownEstimate
from services.jobs.domain.model import Customer, UnknownCustomer
from services.jobs.domain.pricebook import TaxRate
from services.jobs.service_layer import commands
from services.jobs.service_layer.handlers import (
    Clock,
    address_out,
    customer_snapshot,
    envelope_of,
    labor_out,
    labor_spec,
    line_items_out,
    line_spec,
    must_fit,
    priced_lines,
    pricing_for,
    service_address,
    tax_rates_out,
)
from services.jobs.service_layer.unit_of_work import UnitOfWork
from shared import contracts
from shared.eventstore import retrying


def create_estimate(shop_id: str, cmd: commands.CreateEstimate, uow: UnitOfWork) -> Estimate:
    with uow:
        customer = _customer(uow, shop_id, cmd.customer_id)
        pricing = pricing_for(uow, shop_id, cmd.line_items)
        items, labor = priced_lines(pricing, cmd.line_items, cmd.labor)
        estimate = Estimate(
            estimate_id=str(uuid.uuid4()),
            shop_id=shop_id,
            customer_id=cmd.customer_id,
            service_address=service_address(shop_id, cmd, uow),
            service_location_id=cmd.service_location_id,
            line_items=items,
            labor=labor,
            notes=cmd.notes,
        )
        _must_fit(estimate, customer)
        uow.estimates.add(estimate)
        uow.commit()
    return estimate


def add_estimate_line(
    shop_id: str, estimate_id: str, cmd: commands.LineItemIn, uow: UnitOfWork
) -> Estimate:
    def add(estimate: Estimate) -> None:
        line = pricing_for(uow, shop_id, [cmd]).line(line_spec(cmd), "", str(uuid.uuid4()))
        estimate.add_line_item(line)

    return retrying(lambda: _change(shop_id, estimate_id, uow, add))


def add_estimate_labor(
    shop_id: str, estimate_id: str, cmd: commands.LaborEntryIn, uow: UnitOfWork
) -> Estimate:
    def add(estimate: Estimate) -> None:
        entry = pricing_for(uow, shop_id, []).labor(labor_spec(cmd), "", str(uuid.uuid4()))
        estimate.add_labor(entry)

    return retrying(lambda: _change(shop_id, estimate_id, uow, add))


def send_estimate(shop_id: str, estimate_id: str, uow: UnitOfWork, clock: Clock) -> Estimate:
    return retrying(lambda: _change(shop_id, estimate_id, uow, lambda e: e.send(clock())))


def decline_estimate(
    shop_id: str, estimate_id: str, cmd: commands.DeclineEstimate, uow: UnitOfWork, clock: Clock
) -> Estimate:
    def decline(estimate: Estimate) -> None:
        estimate.decline(clock(), cmd.reason)

    return retrying(lambda: _change(shop_id, estimate_id, uow, decline))


def approve_estimate(
    shop_id: str,
    estimate_id: str,
    cmd: commands.ApproveEstimate,
    uow: UnitOfWork,
    clock: Clock,
    *,
    correlation_id: str = "",
) -> Estimate:
    """Approve once: publishes EstimateApproved in the same transaction; a second approval is
    refused (EstimateAlreadyDecided), never a second event."""

    def once() -> Estimate:
        with uow:
            estimate = _estimate(uow, shop_id, estimate_id)
            estimate.approve(clock(), cmd.approved_by)
            customer = _customer(uow, shop_id, estimate.customer_id)
            event = estimate_approved(estimate, customer, uow.tax_rates.for_shop(shop_id))
            uow.estimates.save(estimate)
            envelope = envelope_of(event, shop_id, correlation_id)
            uow.publish(estimate.estimate_id, estimate.version, envelope)
            uow.commit()
        return estimate

    return retrying(once)


def estimate_approved(
    estimate: Estimate, customer: Customer, rates: list[TaxRate]
) -> contracts.EstimateApproved:
    assert estimate.decided_at is not None and estimate.approved_by is not None
    return contracts.EstimateApproved(
        estimate_id=estimate.estimate_id,
        shop_id=estimate.shop_id,
        approved_at=estimate.decided_at,
        approved_by=estimate.approved_by,
        customer=customer_snapshot(customer),
        service_address=address_out(estimate.service_address),
        service_location_id=estimate.service_location_id,
        line_items=line_items_out(estimate.line_items),
        labor=labor_out(estimate.labor),
        tax_rates=tax_rates_out(rates),
        notes=estimate.notes,
    )


def _change(
    shop_id: str, estimate_id: str, uow: UnitOfWork, action: Callable[[Estimate], None]
) -> Estimate:
    with uow:
        estimate = _estimate(uow, shop_id, estimate_id)
        action(estimate)
        _must_fit(estimate, _customer(uow, shop_id, estimate.customer_id))
        uow.estimates.save(estimate)
        uow.commit()
    return estimate


def _must_fit(estimate: Estimate, customer: Customer) -> None:
    """Refuse an estimate whose approval (and the invoice made from it) could not travel as one
    Kafka message."""
    provisional = replace(
        estimate, decided_at=datetime(2000, 1, 1, tzinfo=UTC), approved_by="x" * 500
    )
    must_fit(estimate_approved(provisional, customer, []), "estimate")


def _estimate(uow: UnitOfWork, shop_id: str, estimate_id: str) -> Estimate:
    estimate = uow.estimates.get(shop_id, estimate_id)
    if estimate is None:
        raise UnknownEstimate(estimate_id)
    return estimate


def _customer(uow: UnitOfWork, shop_id: str, customer_id: str) -> Customer:
    customer = uow.customers.get(shop_id, customer_id)
    if customer is None:
        raise UnknownCustomer(customer_id)
    return customer
