"""Estimates: draft, sent, approved or declined; approving publishes EstimateApproved once."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.jobs.domain.estimate import (
    EmptyEstimate,
    EstimateAlreadyDecided,
    EstimateNotDraft,
    EstimateStatus,
    UnknownEstimate,
)
from services.jobs.domain.model import UnknownCustomer
from services.jobs.service_layer import commands, estimates, handlers
from shared import contracts
from shared.eventstore import ConcurrencyConflict
from tests.unit.fakes import FakeJobsUnitOfWork
from tests.unit.test_jobs import NOW, SHOP, a_customer, address_in, clock

pytestmark = pytest.mark.unit


def estimate_cmd(**overrides: object) -> commands.CreateEstimate:
    fields: dict[str, object] = {
        "customer_id": "cust-1",
        "service_address": address_in(),
        "line_items": [
            commands.LineItemIn(
                description="Condenser", quantity=Decimal(1), unit_price_cents=420000
            )
        ],
        "labor": [
            commands.LaborEntryIn(technician="Ana", hours=Decimal(6), flat_amount_cents=90000)
        ],
        "notes": "Valid 30 days",
        **overrides,
    }
    return commands.CreateEstimate.model_validate(fields)


def approve(uow: FakeJobsUnitOfWork, estimate_id: str, shop: str = SHOP) -> None:
    estimates.approve_estimate(
        shop,
        estimate_id,
        commands.ApproveEstimate(approved_by="Pat Doe"),
        uow,
        clock,
        correlation_id="corr-9",
    )


def test_a_new_estimate_is_a_draft_priced_like_a_job_and_publishes_nothing() -> None:
    uow = FakeJobsUnitOfWork([a_customer()])
    handlers.create_tax_rate(SHOP, commands.CreateTaxRate(name="County", percent=8), uow)
    estimate = estimates.create_estimate(SHOP, estimate_cmd(), uow)
    stored = uow.estimates.get(SHOP, estimate.estimate_id)
    assert stored == estimate and stored.status is EstimateStatus.DRAFT
    assert stored.line_items[0].tax_rate_name == "County"
    assert stored.labor[0].flat_amount_cents == 90000
    assert uow.published == []


def test_approving_publishes_the_full_lines_and_the_customer_snapshot_once() -> None:
    uow = FakeJobsUnitOfWork([a_customer(tax_exempt=True, tax_exemption_certificate="EX-9")])
    estimate = estimates.create_estimate(SHOP, estimate_cmd(), uow)
    estimates.send_estimate(SHOP, estimate.estimate_id, uow, clock)
    approve(uow, estimate.estimate_id)

    assert len(uow.published) == 1
    envelope = uow.published[0].envelope
    assert (envelope.type, envelope.tenant, envelope.correlation_id) == (
        "EstimateApproved",
        SHOP,
        "corr-9",
    )
    event = envelope.event
    assert isinstance(event, contracts.EstimateApproved)
    assert (event.estimate_id, event.approved_at, event.approved_by) == (
        estimate.estimate_id,
        NOW,
        "Pat Doe",
    )
    assert event.customer.tax_exempt and event.customer.tax_exemption_certificate == "EX-9"
    assert [(i.description, i.unit_price_cents) for i in event.line_items] == [
        ("Condenser", 420000)
    ]
    assert [(e.technician, e.flat_amount_cents) for e in event.labor] == [("Ana", 90000)]
    assert event.service_address.line1 == "2 Service Ave" and event.notes == "Valid 30 days"

    with pytest.raises(EstimateAlreadyDecided):
        approve(uow, estimate.estimate_id)
    with pytest.raises(EstimateAlreadyDecided):
        estimates.decline_estimate(
            SHOP, estimate.estimate_id, commands.DeclineEstimate(), uow, clock
        )
    assert len(uow.published) == 1


def test_a_sent_estimates_lines_are_fixed_and_a_declined_one_is_final() -> None:
    uow = FakeJobsUnitOfWork([a_customer()])
    estimate_id = estimates.create_estimate(SHOP, estimate_cmd(), uow).estimate_id
    line = commands.LineItemIn(description="Pad", quantity=Decimal(1), unit_price_cents=5000)
    assert len(estimates.add_estimate_line(SHOP, estimate_id, line, uow).line_items) == 2
    sent = estimates.send_estimate(SHOP, estimate_id, uow, clock)
    assert (sent.status, sent.sent_at) == (EstimateStatus.SENT, NOW)
    with pytest.raises(EstimateNotDraft):
        estimates.add_estimate_line(SHOP, estimate_id, line, uow)
    declined = estimates.decline_estimate(
        SHOP, estimate_id, commands.DeclineEstimate(reason="too dear"), uow, clock
    )
    assert (declined.status, declined.decline_reason) == (EstimateStatus.DECLINED, "too dear")
    with pytest.raises(EstimateAlreadyDecided):
        approve(uow, estimate_id)
    assert uow.published == []


def test_an_empty_estimate_is_neither_sent_nor_approved() -> None:
    uow = FakeJobsUnitOfWork([a_customer()])
    estimate_id = estimates.create_estimate(
        SHOP, estimate_cmd(line_items=[], labor=[]), uow
    ).estimate_id
    with pytest.raises(EmptyEstimate):
        estimates.send_estimate(SHOP, estimate_id, uow, clock)
    with pytest.raises(EmptyEstimate):
        approve(uow, estimate_id)
    assert uow.published == []


def test_another_shops_estimate_or_customer_is_unknown() -> None:
    uow = FakeJobsUnitOfWork([a_customer()])
    estimate_id = estimates.create_estimate(SHOP, estimate_cmd(), uow).estimate_id
    with pytest.raises(UnknownEstimate):
        approve(uow, estimate_id, shop="other-shop")
    with pytest.raises(UnknownCustomer):
        estimates.create_estimate("other-shop", estimate_cmd(), uow)
    assert uow.published == []


def test_a_concurrent_change_is_retried_on_the_fresh_estimate() -> None:
    uow = FakeJobsUnitOfWork([a_customer()])
    estimate_id = estimates.create_estimate(SHOP, estimate_cmd(), uow).estimate_id
    real_save = uow.estimates.save
    calls = {"n": 0}

    def save_losing_once(estimate: object) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConcurrencyConflict(estimate_id, 1)
        real_save(estimate)  # type: ignore[arg-type]

    uow.estimates.save = save_losing_once  # type: ignore[method-assign]
    approve(uow, estimate_id)
    assert calls["n"] == 2 and len(uow.published) == 1
