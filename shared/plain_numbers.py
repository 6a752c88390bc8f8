"""Numbers as people and forms write them at the API's edge: ASCII digits, an optional point.

Python's Decimal (and so pydantic) also reads other digit systems ("١٢", "１"), underscores
("1_000"), exponents ("1e3") and signed zero ("-0"): each would be stored and shown as something
nobody typed. ``PlainDecimal`` refuses them with a plain reason; JSON numbers are taken as they
are, except negative zero."""

from __future__ import annotations

import math
import re
from decimal import Decimal

from pydantic import BeforeValidator

PLAIN = re.compile(r"-?([0-9]+(\.[0-9]*)?|\.[0-9]+)", re.ASCII)


def plain_decimal(value: object) -> object:
    if isinstance(value, str):
        text = value.strip()
        if PLAIN.fullmatch(text) is None:
            raise ValueError("write it with the digits 0-9 and at most one point, such as 1.5")
        value = text
    if isinstance(value, bool):
        raise ValueError("a number, such as 1.5")
    if _negative_zero(value):
        raise ValueError("zero has no sign: write 0")
    return value


def _negative_zero(value: object) -> bool:
    if isinstance(value, str):
        return value.startswith("-") and Decimal(value) == 0
    if isinstance(value, float):
        return value == 0 and math.copysign(1, value) < 0
    if isinstance(value, Decimal):
        return value.is_zero() and value.is_signed()
    return False


PlainDecimal = BeforeValidator(plain_decimal)
"""Annotate a Decimal field with it: ``Annotated[Decimal, PlainDecimal, Field(...)]``."""
