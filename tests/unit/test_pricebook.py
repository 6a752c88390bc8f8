"""Pricebook and tax rates: how a line gets its price and tax, and the handlers that keep them."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from services.jobs.domain.pricebook import (
    LaborSpec,
    LineSpec,
    PricebookItem,
    ShopPricing,
    TaxRate,
    UnknownPricebookItem,
    UnknownTaxRate,
)
from services.jobs.service_layer import commands, handlers
from tests.unit.fakes import FakeJobsUnitOfWork
from tests.unit.test_jobs import SHOP, a_customer, address_in

pytestmark = pytest.mark.unit

COUNTY = TaxRate("rate-county", SHOP, "Fresno County", Decimal("8.35"), is_default=True)
CITY = TaxRate("rate-city", SHOP, "Clovis city", Decimal("7.975"))
HEATER = PricebookItem("item-heater", SHOP, "50 gal water heater", 129900, sku="WH-50")
PERMIT = PricebookItem("item-permit", SHOP, "Permit fee", 7500, taxable=False)
CITY_PART = PricebookItem("item-valve", SHOP, "Valve", 2500, tax_rate_id="rate-city")
OLD = PricebookItem("item-old", SHOP, "Discontinued", 100, active=False)
PRICING = ShopPricing.of([COUNTY, CITY], [HEATER, PERMIT, CITY_PART, OLD])


def test_a_pricebook_line_takes_the_items_name_price_and_the_default_rate() -> None:
    line = PRICING.line(LineSpec(Decimal(1), pricebook_item_id=HEATER.item_id), "x", "l1")
    assert (line.description, line.unit_price_cents, line.taxable) == (
        "50 gal water heater",
        129900,
        True,
    )
    assert (line.tax_rate_percent, line.tax_rate_id, line.tax_rate_name) == (
        Decimal("8.35"),
        "rate-county",
        "Fresno County",
    )
    assert line.pricebook_item_id == HEATER.item_id


def test_what_is_typed_on_the_line_wins_over_the_pricebook() -> None:
    spec = LineSpec(
        Decimal(2),
        pricebook_item_id=HEATER.item_id,
        description="Heater (customer discount)",
        unit_price_cents=119900,
        tax_rate_id=CITY.tax_rate_id,
    )
    line = PRICING.line(spec, "x", "l1")
    assert (line.description, line.unit_price_cents) == ("Heater (customer discount)", 119900)
    assert (line.tax_rate_name, line.tax_rate_percent) == ("Clovis city", Decimal("7.975"))


def test_an_items_own_rate_beats_the_default_and_an_exempt_item_has_none() -> None:
    valve = PRICING.line(LineSpec(Decimal(1), pricebook_item_id=CITY_PART.item_id), "x", "l1")
    assert valve.tax_rate_id == CITY.tax_rate_id
    permit = PRICING.line(LineSpec(Decimal(1), pricebook_item_id=PERMIT.item_id), "x", "l2")
    assert (permit.taxable, permit.tax_rate_percent, permit.tax_rate_id) == (
        False,
        Decimal(0),
        None,
    )


def test_a_custom_line_with_a_typed_percent_carries_no_rate_name() -> None:
    spec = LineSpec(
        Decimal(1), description="Odd part", unit_price_cents=500, tax_rate_percent=Decimal(5)
    )
    line = PRICING.line(spec, "x", "l1")
    assert (line.tax_rate_percent, line.tax_rate_name, line.pricebook_item_id) == (
        Decimal(5),
        None,
        None,
    )


def test_a_shop_without_rates_taxes_at_zero() -> None:
    bare = ShopPricing.of([], [])
    line = bare.line(LineSpec(Decimal(1), description="Part", unit_price_cents=500), "x", "l1")
    assert (line.taxable, line.tax_rate_percent, line.tax_rate_id) == (True, Decimal(0), None)


@pytest.mark.parametrize(
    ("spec", "field", "reason"),
    [
        (
            LineSpec(Decimal(1), pricebook_item_id="nope"),
            "line_items.3.pricebook_item_id",
            "no such item in this shop's pricebook",
        ),
        (
            LineSpec(Decimal(1), pricebook_item_id=OLD.item_id),
            "line_items.3.pricebook_item_id",
            "this pricebook item is archived",
        ),
        (
            LineSpec(Decimal(1), description="x", unit_price_cents=1, tax_rate_id="nope"),
            "line_items.3.tax_rate_id",
            "no such tax rate in this shop",
        ),
    ],
)
def test_unknown_items_and_rates_name_the_field(spec: LineSpec, field: str, reason: str) -> None:
    with pytest.raises((UnknownPricebookItem, UnknownTaxRate)) as caught:
        PRICING.line(spec, "line_items.3", "l1")
    assert (caught.value.field, caught.value.reason) == (field, reason)


def test_labor_by_the_hour_or_flat_with_the_default_rate_when_taxable() -> None:
    flat = PRICING.labor(LaborSpec("Ana", Decimal(3), flat_amount_cents=25000), "", "e1")
    assert (flat.flat_amount_cents, flat.hourly_rate_cents, flat.tax_rate_id) == (25000, 0, None)
    taxed = PRICING.labor(LaborSpec("Bo", Decimal(1), 9000, taxable=True), "", "e2")
    assert (taxed.hourly_rate_cents, taxed.tax_rate_id) == (9000, COUNTY.tax_rate_id)


# --- commands ---------------------------------------------------------------------------------


def problems(model: type[commands.Command], **body: object) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(body)
    return {".".join(map(str, e["loc"])): e["msg"] for e in caught.value.errors()}


def test_a_custom_line_needs_a_description_and_a_price() -> None:
    assert problems(commands.LineItemIn, quantity="1") == {
        "description": "Value error, required for a line not taken from the pricebook",
        "unit_price_cents": "Value error, required for a line not taken from the pricebook",
    }
    assert commands.LineItemIn(pricebook_item_id="item-1", quantity=Decimal(1))


def test_a_line_names_a_rate_or_types_a_percent_not_both() -> None:
    found = problems(
        commands.LineItemIn,
        pricebook_item_id="i",
        quantity="1",
        tax_rate_id="r",
        tax_rate_percent=5,
    )
    assert found == {
        "tax_rate_percent": "Value error, give tax_rate_id or tax_rate_percent, not both"
    }


def test_labor_is_hourly_or_flat() -> None:
    reason = "Value error, give either hourly_rate_cents or flat_amount_cents (one of them)"
    assert problems(commands.LaborEntryIn, technician="A", hours="1") == {
        "flat_amount_cents": reason
    }
    both = problems(
        commands.LaborEntryIn, technician="A", hours="1", hourly_rate_cents=1, flat_amount_cents=2
    )
    assert both == {"flat_amount_cents": reason}


# --- handlers ---------------------------------------------------------------------------------


def test_the_first_rate_is_the_default_and_a_later_one_can_take_over() -> None:
    uow = FakeJobsUnitOfWork()
    first = handlers.create_tax_rate(SHOP, commands.CreateTaxRate(name="A", percent=5), uow)
    second = handlers.create_tax_rate(SHOP, commands.CreateTaxRate(name="B", percent=6), uow)
    assert (first.is_default, second.is_default) == (True, False)
    third = handlers.create_tax_rate(
        SHOP, commands.CreateTaxRate(name="C", percent=7, is_default=True), uow
    )
    defaults = [r.name for r in uow.tax_rates.for_shop(SHOP) if r.is_default]
    assert third.is_default and defaults == ["C"]
    handlers.make_default_tax_rate(SHOP, first.tax_rate_id, uow)
    assert [r.name for r in uow.tax_rates.for_shop(SHOP) if r.is_default] == ["A"]
    assert handlers.make_default_tax_rate("other-shop", first.tax_rate_id, uow) is None


def test_pricebook_items_refuse_another_shops_rate_and_update_only_what_is_given() -> None:
    uow = FakeJobsUnitOfWork()
    theirs = handlers.create_tax_rate(
        "other-shop", commands.CreateTaxRate(name="T", percent=1), uow
    )
    with pytest.raises(UnknownTaxRate):
        handlers.add_pricebook_item(
            SHOP,
            commands.CreatePricebookItem(
                name="Valve", unit_price_cents=100, tax_rate_id=theirs.tax_rate_id
            ),
            uow,
        )
    assert uow.pricebook.rows == {}
    item = handlers.add_pricebook_item(
        SHOP, commands.CreatePricebookItem(name="Valve", unit_price_cents=100, sku="V-1"), uow
    )
    changed = handlers.update_pricebook_item(
        SHOP, item.item_id, commands.UpdatePricebookItem(unit_price_cents=150), uow
    )
    assert changed is not None
    assert (changed.name, changed.sku, changed.unit_price_cents) == ("Valve", "V-1", 150)
    assert (
        handlers.update_pricebook_item(
            "other-shop", item.item_id, commands.UpdatePricebookItem(active=False), uow
        )
        is None
    )


def test_a_job_priced_from_the_pricebook_keeps_its_price_when_the_pricebook_changes() -> None:
    uow = FakeJobsUnitOfWork([a_customer()])
    rate = handlers.create_tax_rate(SHOP, commands.CreateTaxRate(name="County", percent=8), uow)
    item = handlers.add_pricebook_item(
        SHOP, commands.CreatePricebookItem(name="Heater", unit_price_cents=100000), uow
    )
    cmd = commands.CreateJob(
        customer_id="cust-1",
        service_address=address_in(),
        line_items=[commands.LineItemIn(pricebook_item_id=item.item_id, quantity=Decimal(1))],
    )
    job = handlers.create_job(SHOP, cmd, uow)
    handlers.update_pricebook_item(
        SHOP, item.item_id, commands.UpdatePricebookItem(unit_price_cents=120000), uow
    )
    line = uow.jobs.get(SHOP, job.job_id).line_items[0]  # type: ignore[union-attr]
    assert (line.unit_price_cents, line.tax_rate_id) == (100000, rate.tax_rate_id)


def test_an_unknown_item_on_a_new_job_stores_nothing() -> None:
    uow = FakeJobsUnitOfWork([a_customer()])
    cmd = commands.CreateJob(
        customer_id="cust-1",
        service_address=address_in(),
        line_items=[commands.LineItemIn(pricebook_item_id="ghost", quantity=Decimal(1))],
    )
    with pytest.raises(UnknownPricebookItem) as caught:
        handlers.create_job(SHOP, cmd, uow)
    assert caught.value.field == "line_items.0.pricebook_item_id"
    assert uow.jobs.rows == {} and uow.commits == 0
