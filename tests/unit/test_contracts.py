"""The checked-in contracts/ must be exactly what the models generate, and usable as schemas."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from shared.contracts import ALL_EVENTS
from shared.contracts.generate import OUT, rendered, schema_name
from tests.unit import builders

pytestmark = pytest.mark.unit

HOW_TO_FIX = "contracts/ is out of date with shared/contracts: run `make contracts` and commit it"


def checked_in() -> dict[str, str]:
    return {path.relative_to(OUT).as_posix(): path.read_text() for path in OUT.rglob("*.json")}


def test_checked_in_contracts_match_the_models() -> None:
    expected = rendered()
    actual = checked_in()
    missing = sorted(set(expected) - set(actual))
    stale = sorted(set(actual) - set(expected))
    changed = sorted(rel for rel in set(expected) & set(actual) if expected[rel] != actual[rel])
    assert not (missing or stale or changed), (
        f"{HOW_TO_FIX} (missing: {missing}, no longer generated: {stale}, changed: {changed})"
    )


def test_every_event_has_a_schema_and_a_channel() -> None:
    files = rendered()
    asyncapi = json.loads(files["asyncapi.json"])
    for cls in ALL_EVENTS:
        assert f"schemas/{schema_name(cls)}" in files
        assert asyncapi["channels"][cls.topic]["address"] == cls.topic
        payload = asyncapi["components"]["messages"][cls.__name__]["payload"]["$ref"]
        assert (OUT / payload).resolve() == (OUT / "schemas" / schema_name(cls)).resolve()


def test_a_real_event_validates_against_its_checked_in_schema() -> None:
    event = builders.job_closed()
    schema = json.loads(Path(OUT / "schemas" / "JobClosed.v1.json").read_text())
    jsonschema.validate(json.loads(event.model_dump_json()), schema)
    broken = json.loads(event.model_dump_json())
    broken["schema_version"] = 2
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)
