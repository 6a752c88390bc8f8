"""Which consumers fetch promptly: the two someone waits on (the office for a closed job's draft,
the customer for the text of a sent invoice) ask the broker with the short wait; the others keep
the long one, which costs less CPU while idle (shared/kafka.py)."""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from shared.kafka import FETCH_MAX_WAIT_MS, PROMPT_FETCH_WAIT_MS
from shared.wiring import ServiceWiring

PROMPT = {"invoicing", "notifications"}
SERVICES = ("gateway", "invoicing", "jobs", "notifications", "payments", "reporting")


@pytest.mark.parametrize("service", SERVICES)
def test_each_consumer_fetches_with_the_wait_its_readers_need(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: dict[str, Any] = {}

    def consumer(self: ServiceWiring, group: str, handlers: object, **options: Any) -> None:
        asked.update(options)

    monkeypatch.setattr(ServiceWiring, "consumer", consumer)
    module = importlib.import_module(f"services.{service}.entrypoints.consumer")
    module.build_consumer()
    wanted = PROMPT_FETCH_WAIT_MS if service in PROMPT else FETCH_MAX_WAIT_MS
    assert asked.get("fetch_max_wait_ms", FETCH_MAX_WAIT_MS) == wanted
    assert PROMPT_FETCH_WAIT_MS <= 100 < FETCH_MAX_WAIT_MS
