"""Money: per-line half-up rounding, totals as the sum of lines, and how cents are shown."""

from __future__ import annotations

import random
from decimal import Decimal, localcontext

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from shared.money import (
    BadAmount,
    LineAmounts,
    Totals,
    format_cents,
    invoice_totals,
    line_amounts,
    parse_dollars,
    to_cents,
)

pytestmark = pytest.mark.unit

# The ranges the jobs API accepts (services/jobs/service_layer/commands.py).
quantities = st.decimals(min_value=Decimal("0.001"), max_value=Decimal(100000), places=3)
prices = st.integers(min_value=0, max_value=100_000_000)
rates = st.decimals(min_value=Decimal(0), max_value=Decimal(100), places=4)
lines = st.builds(
    LineAmounts,
    subtotal_cents=st.integers(min_value=0, max_value=10**13),
    tax_cents=st.integers(min_value=0, max_value=10**13),
)
PROPERTY = hypothesis_settings(max_examples=300, deadline=None, database=None)


def exact_subtotal(quantity: Decimal, unit_price_cents: int) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 80
        return quantity * unit_price_cents


def exact_tax(subtotal_cents: int, rate: Decimal) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 80
        return Decimal(subtotal_cents) * rate / 100


# --- examples ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "cents"),
    [
        ("0.5", 1),
        ("1.5", 2),
        ("2.5", 3),
        ("2.4999", 2),
        ("2.5001", 3),
        ("0", 0),
        ("0.49", 0),
        ("1234567.5", 1234568),
    ],
)
def test_to_cents_rounds_half_up_not_half_even(amount: str, cents: int) -> None:
    assert to_cents(Decimal(amount)) == cents


@pytest.mark.parametrize(
    ("quantity", "price", "subtotal"),
    [
        ("1", 129900, 129900),
        ("3", 333, 999),
        ("2.5", 11000, 27500),
        ("0.5", 1, 1),  # exactly half a cent rounds up
        ("0.5", 5, 3),  # 2.5 -> 3 (banker's rounding would give 2)
        ("0.333", 100, 33),  # 33.3 -> 33
        ("0.335", 100, 34),  # 33.5 -> 34
        ("1.001", 999, 1000),  # 999.999 -> 1000
    ],
)
def test_line_subtotal_is_quantity_times_price_rounded_half_up(
    quantity: str, price: int, subtotal: int
) -> None:
    amounts = line_amounts(Decimal(quantity), price, False, Decimal(0))
    assert amounts.subtotal_cents == subtotal
    assert amounts.tax_cents == 0


@pytest.mark.parametrize(
    ("subtotal_price", "rate", "tax"),
    [
        (10000, "7.25", 725),
        (100, "7.25", 7),  # 7.25 -> 7
        (10, "5", 1),  # 0.5 -> 1
        (50, "5", 3),  # 2.5 -> 3 (half-even would give 2)
        (30, "5", 2),  # 1.5 -> 2
        (129900, "7.25", 9418),  # 9417.75 -> 9418
        (999, "8.875", 89),  # 88.66125 -> 89
        (12345, "0", 0),
        (12345, "100", 12345),
    ],
)
def test_line_tax_is_rounded_half_up_per_line(subtotal_price: int, rate: str, tax: int) -> None:
    amounts = line_amounts(Decimal(1), subtotal_price, True, Decimal(rate))
    assert amounts.subtotal_cents == subtotal_price
    assert amounts.tax_cents == tax
    assert amounts.total_cents == subtotal_price + tax


def test_tax_is_computed_on_the_rounded_subtotal() -> None:
    # 0.5 x 3 cents = 1.5 -> 2 cents; tax at 25% of 2 cents = 0.5 -> 1 cent.
    # (25% of the unrounded 1.5 would be 0.375 -> 0.)
    amounts = line_amounts(Decimal("0.5"), 3, True, Decimal(25))
    assert (amounts.subtotal_cents, amounts.tax_cents) == (2, 1)


def test_untaxable_line_has_no_tax_whatever_its_rate() -> None:
    amounts = line_amounts(Decimal(2), 5000, False, Decimal("9.5"))
    assert amounts == LineAmounts(subtotal_cents=10000, tax_cents=0)


def test_invoice_totals_sum_the_lines_and_tax_is_not_rounded_again_on_the_sum() -> None:
    # Three lines of 10 cents at 5%: each line's tax is 0.5 -> 1 cent, so 3 cents in all
    # (rounding the summed tax, 1.5, would give 2).
    line = line_amounts(Decimal(1), 10, True, Decimal(5))
    totals = invoice_totals([line, line, line])
    assert totals == Totals(subtotal_cents=30, tax_cents=3)
    assert totals.total_cents == 33


def test_invoice_totals_of_no_lines_are_zero() -> None:
    totals = invoice_totals([])
    assert (totals.subtotal_cents, totals.tax_cents, totals.total_cents) == (0, 0, 0)


def test_invoice_totals_accept_any_iterable_once() -> None:
    generator = (LineAmounts(100, 7) for _ in range(3))
    assert invoice_totals(generator) == Totals(300, 21)


@pytest.mark.parametrize(
    ("cents", "currency", "shown"),
    [
        (0, "USD", "$0.00"),
        (5, "USD", "$0.05"),
        (99, "USD", "$0.99"),
        (100, "USD", "$1.00"),
        (123456, "USD", "$1,234.56"),
        (100_000_000, "USD", "$1,000,000.00"),
        (-5, "USD", "-$0.05"),
        (-123456, "USD", "-$1,234.56"),
        (123456, "CAD", "$1,234.56"),
        (123456, "AUD", "$1,234.56"),
        (123456, "EUR", "EUR 1,234.56"),
        (-1, "GBP", "-GBP 0.01"),
    ],
)
def test_format_cents(cents: int, currency: str, shown: str) -> None:
    assert format_cents(cents, currency) == shown


def test_format_cents_defaults_to_dollars() -> None:
    assert format_cents(250) == "$2.50"


# --- properties --------------------------------------------------------------------------------


@PROPERTY
@given(quantity=quantities, price=prices, taxable=st.booleans(), rate=rates)
def test_line_total_is_subtotal_plus_tax(
    quantity: Decimal, price: int, taxable: bool, rate: Decimal
) -> None:
    amounts = line_amounts(quantity, price, taxable, rate)
    assert amounts.total_cents == amounts.subtotal_cents + amounts.tax_cents
    assert isinstance(amounts.subtotal_cents, int)
    assert isinstance(amounts.tax_cents, int)


@PROPERTY
@given(quantity=quantities, price=prices, rate=rates)
def test_no_tax_when_not_taxable(quantity: Decimal, price: int, rate: Decimal) -> None:
    assert line_amounts(quantity, price, False, rate).tax_cents == 0


@PROPERTY
@given(quantity=quantities, price=prices, taxable=st.booleans(), rate=rates)
def test_rounding_is_half_up_and_never_off_by_more_than_half_a_cent(
    quantity: Decimal, price: int, taxable: bool, rate: Decimal
) -> None:
    amounts = line_amounts(quantity, price, taxable, rate)
    subtotal_error = amounts.subtotal_cents - exact_subtotal(quantity, price)
    # Half-up on non-negative amounts: rounded - exact is in (-1/2, +1/2].
    assert Decimal("-0.5") < subtotal_error <= Decimal("0.5")
    if taxable:
        tax_error = amounts.tax_cents - exact_tax(amounts.subtotal_cents, rate)
        assert Decimal("-0.5") < tax_error <= Decimal("0.5")


@PROPERTY
@given(quantity=quantities, price=prices, rate=rates)
def test_tax_is_never_negative_nor_more_than_the_subtotal(
    quantity: Decimal, price: int, rate: Decimal
) -> None:
    amounts = line_amounts(quantity, price, True, rate)
    assert 0 <= amounts.tax_cents <= amounts.subtotal_cents


@PROPERTY
@given(st.lists(lines, max_size=50))
def test_invoice_totals_are_the_sum_of_the_lines(items: list[LineAmounts]) -> None:
    totals = invoice_totals(items)
    assert totals.subtotal_cents == sum(line.subtotal_cents for line in items)
    assert totals.tax_cents == sum(line.tax_cents for line in items)
    assert totals.total_cents == sum(line.total_cents for line in items)
    assert totals.total_cents == totals.subtotal_cents + totals.tax_cents


@PROPERTY
@given(st.lists(lines, max_size=20), st.randoms(use_true_random=False))
def test_invoice_totals_do_not_depend_on_line_order(
    items: list[LineAmounts], rnd: random.Random
) -> None:
    shuffled = list(items)
    rnd.shuffle(shuffled)
    assert invoice_totals(shuffled) == invoice_totals(items)


@PROPERTY
@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_format_cents_round_trips_to_the_same_number_of_cents(cents: int) -> None:
    shown = format_cents(cents)
    negative = shown.startswith("-")
    digits = shown.removeprefix("-").removeprefix("$").replace(",", "")
    whole, _, part = digits.partition(".")
    assert len(part) == 2
    assert (-1 if negative else 1) * (int(whole) * 100 + int(part)) == cents
    assert negative == (cents < 0)


@pytest.mark.parametrize(
    ("typed", "cents"),
    [("1,234.5", 123_450), ("$80", 8_000), ("0.99", 99), (".5", 50), (" 12 ", 1_200),
     ("1,234,567.89", 123_456_789)],
)  # fmt: skip
def test_dollars_typed_by_staff_become_cents(typed: str, cents: int) -> None:
    assert parse_dollars(typed) == cents
    assert parse_dollars(format_cents(cents)) == cents  # what the app shows reads back the same


@pytest.mark.parametrize("typed", ["12,34", "1,2345", "1.234", "-1", "1e3", "", ".", "١٢", ",5"])
def test_anything_else_is_not_an_amount(typed: str) -> None:
    with pytest.raises(BadAmount):
        parse_dollars(typed)
