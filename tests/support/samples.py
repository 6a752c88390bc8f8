"""A valid event of every contract, built from its model by Hypothesis (the smallest example, so
always the same): what the poison tests bend into malformed, unknown-version and impossible
events."""

from __future__ import annotations

import typing
from typing import Any

from hypothesis import HealthCheck, find, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from shared import contracts
from tests.unit import builders


def sample(cls: type[contracts.Event], shop_id: str, n: int) -> contracts.Event:
    """An event of ``cls`` for ``shop_id``; ``n`` makes its ids its own."""
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for name, field in cls.model_fields.items():
        chosen = _strategy(name, field.annotation, bool(field.metadata), n)
        pattern = next((m.pattern for m in field.metadata if getattr(m, "pattern", None)), None)
        if chosen is None and pattern and field.is_required():  # Hypothesis ignores patterns
            chosen = st.from_regex(pattern, fullmatch=True)
        if chosen is not None:  # else: Hypothesis reads the field's constraints itself
            fields[name] = chosen
    fields["shop_id"] = st.just(shop_id)
    strategy = st.builds(cls, **fields)
    quiet = settings(database=None, suppress_health_check=list(HealthCheck), max_examples=200)
    return find(strategy, lambda _event: True, settings=quiet)


def _strategy(
    name: str, annotation: Any, constrained: bool, n: int
) -> st.SearchStrategy[Any] | None:
    if annotation is contracts.Address:
        return st.just(builders.address())
    if annotation is contracts.CustomerSnapshot:
        return st.just(builders.customer_snapshot())
    if annotation is str and not constrained:
        return st.just(f"poison-{name}-{n}")
    if typing.get_origin(annotation) is list:
        (inner,) = typing.get_args(annotation)
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            return st.just([])
        return st.lists(st.from_type(inner), min_size=1, max_size=1)
    return None
