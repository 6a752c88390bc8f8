"""The one place money is computed: line subtotal, per-line tax (half-up to the cent), totals.

Every figure a person sees — staff UI, PDF, pay page, AR aging — comes from these functions (other
services read the results from events; they never recompute)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

ONE_CENT = Decimal(1)


@dataclass(frozen=True)
class LineAmounts:
    subtotal_cents: int
    tax_cents: int

    @property
    def total_cents(self) -> int:
        return self.subtotal_cents + self.tax_cents


@dataclass(frozen=True)
class Totals:
    subtotal_cents: int
    tax_cents: int

    @property
    def total_cents(self) -> int:
        return self.subtotal_cents + self.tax_cents


def to_cents(amount: Decimal) -> int:
    """Round a Decimal number of cents half-up to a whole cent."""
    return int(amount.quantize(ONE_CENT, rounding=ROUND_HALF_UP))


def line_amounts(
    quantity: Decimal, unit_price_cents: int, taxable: bool, tax_rate_percent: Decimal
) -> LineAmounts:
    subtotal = to_cents(quantity * unit_price_cents)
    tax = to_cents(Decimal(subtotal) * tax_rate_percent / 100) if taxable else 0
    return LineAmounts(subtotal_cents=subtotal, tax_cents=tax)


def invoice_totals(lines: Iterable[LineAmounts]) -> Totals:
    """The invoice total is the sum of its lines (tax is rounded per line, never on the sum)."""
    subtotal = tax = 0
    for line in lines:
        subtotal += line.subtotal_cents
        tax += line.tax_cents
    return Totals(subtotal_cents=subtotal, tax_cents=tax)


@dataclass(frozen=True)
class Balance:
    """What is owed on an invoice: its total, less what was paid, plus what was refunded (a
    refund gives the money back, so it is owed again unless the invoice is corrected or void)."""

    total_cents: int
    paid_cents: int
    refunded_cents: int

    @property
    def balance_cents(self) -> int:
        return self.total_cents - self.paid_cents + self.refunded_cents


def invoice_balance(total_cents: int, paid: Iterable[int], refunded: Iterable[int]) -> Balance:
    return Balance(total_cents, sum(paid), sum(refunded))


class BadAmount(ValueError):
    """Not an amount of money people write: digits, an optional point and at most two places."""


def parse_dollars(text: str) -> int:
    """What a person typed ("1,234.5", "$80", "0.99") as cents; BadAmount otherwise. The
    inverse of ``format_cents`` for amounts that are not negative."""
    cleaned = text.strip().removeprefix("$")
    if DOLLARS.fullmatch(cleaned) is None or cleaned in ("", "."):
        raise BadAmount("an amount in dollars and cents, such as 125.50")
    whole, _, part = cleaned.replace(",", "").partition(".")
    return int(whole or "0") * 100 + int(part.ljust(2, "0"))


DOLLARS = re.compile(r"([0-9]{0,9}|[0-9]{1,3}(,[0-9]{3}){1,2})(\.[0-9]{0,2})?", re.ASCII)
"""Digits (commas only between thousands), then at most two decimals."""


def format_cents(cents: int, currency: str = "USD") -> str:
    """How money is shown to people: $1,234.56 (negative as -$1,234.56)."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    symbol = "$" if currency in ("USD", "CAD", "AUD") else f"{currency} "
    return f"{sign}{symbol}{whole:,}.{part:02d}"
