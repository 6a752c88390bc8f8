"""The business figures a scrape computes from the read models never hold the scrape up waiting
for a database: before the service opened its pool they are left out, not waited for."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import REGISTRY, generate_latest

from shared.wiring import ServiceWiring


def test_a_service_has_no_opened_pool_until_something_opens_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wiring = ServiceWiring("widgets", Path("migrations"))
    assert wiring.opened_pool() is None
    opened = object()
    monkeypatch.setitem(wiring.__dict__, "pool", opened)
    assert wiring.opened_pool() is opened


def test_a_scrape_before_the_pool_is_opened_leaves_the_figures_out_without_opening_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from services.invoicing.entrypoints import flask_app as invoicing  # noqa: F401
    from services.payments.entrypoints import flask_app as payments  # noqa: F401
    from services.reporting.entrypoints import flask_app as reporting  # noqa: F401

    opened: list[str] = []

    def make_pool(url: str, **options: object) -> None:
        opened.append(url)
        raise ConnectionError("no database in a unit test")

    monkeypatch.setattr("shared.wiring.make_pool", make_pool)
    exposition = generate_latest(REGISTRY)
    assert opened == []
    assert b"http_requests_total" in exposition
    assert b"ar_outstanding_cents" not in exposition
