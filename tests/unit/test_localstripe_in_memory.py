"""The development Stripe keeps its store in memory: localstripe's write of the whole store to
/tmp on every change (a cost that grows with every object) is turned off."""

from __future__ import annotations

import pytest
from localstripe import resources  # type: ignore[import-untyped]

from shared.devstack.localstripe_in_memory import keep_in_memory


def test_changes_to_the_store_write_nothing_to_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    written: list[str] = []
    monkeypatch.setattr("builtins.open", lambda path, *a, **k: written.append(str(path)))
    monkeypatch.setattr(resources.Store, "dump_to_disk", resources.Store.dump_to_disk)
    keep_in_memory()
    store = resources.Store()
    store["cus_1"] = {"id": "cus_1"}
    del store["cus_1"]
    store.dump_to_disk()
    assert written == []
