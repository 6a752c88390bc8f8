"""The shop's pricebook and tax rates, and how a line on a job or an estimate is priced and taxed.

A technician picks "50 gal water heater" from the pricebook and the line comes with the shop's
price, taxability and tax rate; anything typed on the line (a discounted price, "not taxable")
wins over the pricebook. Standard library only."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TypeVar

from services.jobs.domain.model import LaborEntry, LineItem


@dataclass(frozen=True)
class TaxRate:
    tax_rate_id: str
    shop_id: str
    name: str
    percent: Decimal
    is_default: bool = False


@dataclass(frozen=True)
class PricebookItem:
    item_id: str
    shop_id: str
    name: str
    unit_price_cents: int
    taxable: bool = True
    description: str = ""
    sku: str | None = None
    tax_rate_id: str | None = None
    active: bool = True


class PricingError(Exception):
    """A line names something the shop does not have; ``field`` is where in the request."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class UnknownPricebookItem(PricingError):
    pass


class UnknownTaxRate(PricingError):
    pass


@dataclass(frozen=True)
class LineSpec:
    """A line as entered: from the pricebook (``pricebook_item_id``) or custom. Blank fields are
    filled from the pricebook item; a custom line must give its description and price."""

    quantity: Decimal
    pricebook_item_id: str | None = None
    description: str | None = None
    unit_price_cents: int | None = None
    taxable: bool | None = None
    tax_rate_id: str | None = None
    tax_rate_percent: Decimal | None = None


@dataclass(frozen=True)
class LaborSpec:
    technician: str
    hours: Decimal
    hourly_rate_cents: int | None = None
    flat_amount_cents: int | None = None
    taxable: bool = False
    tax_rate_id: str | None = None
    tax_rate_percent: Decimal | None = None


@dataclass(frozen=True)
class Rate:
    """The tax rate a line carries: a named rate of the shop, or a percent typed on the line."""

    percent: Decimal
    tax_rate_id: str | None = None
    name: str | None = None


NO_RATE = Rate(Decimal(0))


@dataclass(frozen=True)
class ShopPricing:
    """The shop's tax rates and the pricebook items a request refers to."""

    rates: Mapping[str, TaxRate]
    items: Mapping[str, PricebookItem]

    @classmethod
    def of(cls, rates: Iterable[TaxRate], items: Iterable[PricebookItem]) -> ShopPricing:
        return cls({r.tax_rate_id: r for r in rates}, {i.item_id: i for i in items})

    @property
    def default_rate(self) -> TaxRate | None:
        return next((r for r in self.rates.values() if r.is_default), None)

    def line(
        self,
        spec: LineSpec,
        field: str,
        line_id: str,
        added_by: str | None = None,
        added_at: datetime | None = None,
    ) -> LineItem:
        item = self._item(spec.pricebook_item_id, _at(field, "pricebook_item_id"))
        taxable = _first(spec.taxable, item.taxable if item else None, True)
        rate = self._rate(spec.tax_rate_id, spec.tax_rate_percent, item, taxable, field)
        return LineItem(
            line_id=line_id,
            description=_first(spec.description, item.name if item else None, ""),
            quantity=spec.quantity,
            unit_price_cents=_first(spec.unit_price_cents, item.unit_price_cents if item else 0),
            taxable=taxable,
            tax_rate_percent=rate.percent,
            added_by=added_by,
            added_at=added_at,
            pricebook_item_id=item.item_id if item else None,
            tax_rate_id=rate.tax_rate_id,
            tax_rate_name=rate.name,
        )

    def labor(
        self,
        spec: LaborSpec,
        field: str,
        entry_id: str,
        added_by: str | None = None,
        added_at: datetime | None = None,
    ) -> LaborEntry:
        rate = self._rate(spec.tax_rate_id, spec.tax_rate_percent, None, spec.taxable, field)
        return LaborEntry(
            entry_id=entry_id,
            technician=spec.technician,
            hours=spec.hours,
            hourly_rate_cents=spec.hourly_rate_cents or 0,
            flat_amount_cents=spec.flat_amount_cents,
            taxable=spec.taxable,
            tax_rate_percent=rate.percent,
            added_by=added_by,
            added_at=added_at,
            tax_rate_id=rate.tax_rate_id,
            tax_rate_name=rate.name,
        )

    def _item(self, item_id: str | None, field: str) -> PricebookItem | None:
        if item_id is None:
            return None
        item = self.items.get(item_id)
        if item is None:
            raise UnknownPricebookItem(field, "no such item in this shop's pricebook")
        if not item.active:
            raise UnknownPricebookItem(field, "this pricebook item is archived")
        return item

    def _rate(
        self,
        rate_id: str | None,
        percent: Decimal | None,
        item: PricebookItem | None,
        taxable: bool,
        field: str,
    ) -> Rate:
        """A rate named on the line, else a percent typed on it, else (for a taxable line) the
        pricebook item's rate, else the shop's default rate; a shop with no rates taxes at 0 %."""
        if rate_id is not None:
            return self._named(rate_id, _at(field, "tax_rate_id"))
        if percent is not None:
            return Rate(percent)
        if not taxable:
            return NO_RATE
        item_rate = self.rates.get(item.tax_rate_id or "") if item else None
        if item_rate is not None:
            return Rate(item_rate.percent, item_rate.tax_rate_id, item_rate.name)
        default = self.default_rate
        return self._named(default.tax_rate_id, field) if default else NO_RATE

    def _named(self, rate_id: str, field: str) -> Rate:
        rate = self.rates.get(rate_id)
        if rate is None:
            raise UnknownTaxRate(field, "no such tax rate in this shop")
        return Rate(rate.percent, rate.tax_rate_id, rate.name)


T = TypeVar("T")


def _at(field: str, name: str) -> str:
    """``line_items.2`` + ``tax_rate_id`` → ``line_items.2.tax_rate_id``; a lone line: the name."""
    return f"{field}.{name}" if field else name


def _first(*values: T | None) -> T:
    for value in values:
        if value is not None:
            return value
    raise ValueError("no value")
