"""The CloudEvents envelope: what goes on the wire and what decode accepts or refuses."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from shared.contracts import JobClosed
from shared.envelope import CONTENT_TYPE, SPEC_VERSION, Envelope, MalformedEvent, decode
from tests.unit import builders

pytestmark = pytest.mark.unit

WHEN = datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def an_envelope(**overrides: object) -> Envelope:
    fields: dict[str, object] = {
        "event": builders.job_closed(job_id="job-1"),
        "tenant": "shop-1",
        "source": "/services/jobs",
        "id": "0b7e3a52-6f43-4a28-8d1e-0c4a2b1b1e11",
        "time": WHEN,
        "correlation_id": "corr-1",
        "causation_id": "cause-1",
        **overrides,
    }
    return Envelope(**fields)  # type: ignore[arg-type]


def with_header(
    headers: list[tuple[str, bytes]], name: str, value: bytes | None
) -> list[tuple[str, bytes]]:
    """Replace (or, with None, drop) one header."""
    kept = [(n, v) for n, v in headers if n != name]
    return kept if value is None else [*kept, (name, value)]


def test_headers_follow_the_cloudevents_kafka_binding() -> None:
    env = an_envelope()
    headers = dict(env.headers())
    assert headers == {
        "ce_specversion": SPEC_VERSION.encode(),
        "ce_id": env.id.encode(),
        "ce_type": b"JobClosed",
        "ce_source": b"/services/jobs",
        "ce_time": WHEN.isoformat().encode(),
        "ce_subject": b"job-1",
        "content-type": CONTENT_TYPE.encode(),
        "ce_tenant": b"shop-1",
        "ce_correlationid": b"corr-1",
        "ce_causationid": b"cause-1",
    }
    assert env.key == b"job-1"
    assert env.topic == JobClosed.topic == "JobClosed"


def test_a_new_envelope_is_its_own_correlation() -> None:
    env = Envelope(event=builders.job_closed(), tenant="shop-1", source="/s")
    assert dict(env.headers())["ce_correlationid"] == env.id.encode()


def test_decode_round_trips_headers_and_value() -> None:
    env = an_envelope()
    decoded = decode(env.headers(), env.value())
    assert decoded == env
    assert decoded.headers() == env.headers()
    assert decoded.value() == env.value()
    assert isinstance(decoded.event, JobClosed)


def test_decode_round_trips_every_event_field() -> None:
    event = builders.job_closed(
        line_items=[builders.line_item("a", quantity="1.125"), builders.line_item("b")],
        labor=[builders.labor_entry(hours="0.75")],
    )
    env = an_envelope(event=event)
    decoded = decode(env.headers(), env.value()).event
    assert decoded.model_dump() == event.model_dump()


def test_caused_envelope_keeps_tenant_and_correlation() -> None:
    cause = an_envelope()
    effect = cause.caused(builders.job_closed(job_id="job-2"), "/services/invoicing")
    assert (effect.tenant, effect.correlation_id, effect.causation_id) == (
        "shop-1",
        "corr-1",
        cause.id,
    )
    assert effect.source == "/services/invoicing"
    assert effect.id != cause.id


@pytest.mark.parametrize("missing", ["ce_id", "ce_type", "ce_source", "ce_tenant"])
def test_decode_refuses_a_record_missing_a_required_header(missing: str) -> None:
    env = an_envelope()
    with pytest.raises(MalformedEvent, match=missing):
        decode(with_header(env.headers(), missing, None), env.value())


@pytest.mark.parametrize("missing", ["ce_id", "ce_tenant"])
def test_decode_refuses_an_empty_required_header(missing: str) -> None:
    env = an_envelope()
    with pytest.raises(MalformedEvent, match=missing):
        decode(with_header(env.headers(), missing, b""), env.value())


def test_decode_refuses_a_record_without_headers() -> None:
    with pytest.raises(MalformedEvent, match="missing headers"):
        decode(None, an_envelope().value())


def test_decode_refuses_an_unknown_type() -> None:
    env = an_envelope()
    with pytest.raises(MalformedEvent, match="unknown ce_type 'JobOpened'"):
        decode(with_header(env.headers(), "ce_type", b"JobOpened"), env.value())


@pytest.mark.parametrize("version", [b"0.3", b"2.0", b""])
def test_decode_refuses_another_specversion(version: bytes) -> None:
    env = an_envelope()
    with pytest.raises(MalformedEvent, match="ce_specversion"):
        decode(with_header(env.headers(), "ce_specversion", version), env.value())


def test_decode_refuses_a_missing_specversion() -> None:
    env = an_envelope()
    with pytest.raises(MalformedEvent, match="ce_specversion"):
        decode(with_header(env.headers(), "ce_specversion", None), env.value())


@pytest.mark.parametrize("value", [b"{not json", b"", b"\xff\xfe", b"[]", b"null"])
def test_decode_refuses_a_value_that_is_not_a_json_object(value: bytes) -> None:
    with pytest.raises(MalformedEvent):
        decode(an_envelope().headers(), value)


def test_decode_refuses_an_empty_value() -> None:
    with pytest.raises(MalformedEvent, match="empty value"):
        decode(an_envelope().headers(), None)


@pytest.mark.parametrize("version", [2, 0, "1"])
def test_decode_refuses_a_schema_version_it_does_not_know(version: object) -> None:
    env = an_envelope()
    body = json.loads(env.value())
    body["schema_version"] = version
    with pytest.raises(MalformedEvent, match="schema_version"):
        decode(env.headers(), json.dumps(body).encode())


def test_decode_refuses_a_body_that_breaks_the_contract() -> None:
    env = an_envelope()
    body = json.loads(env.value())
    del body["customer"]
    body["surprise"] = True
    with pytest.raises(MalformedEvent) as caught:
        decode(env.headers(), json.dumps(body).encode())
    assert "customer" in str(caught.value) and "surprise" in str(caught.value)


def test_decode_refuses_a_body_of_another_type() -> None:
    """The value must match the class named in ce_type."""
    env = an_envelope()
    with pytest.raises(MalformedEvent):
        decode(with_header(env.headers(), "ce_type", b"PaymentReceived"), env.value())


@pytest.mark.parametrize("when", [b"yesterday", b""])
def test_decode_refuses_a_bad_time(when: bytes) -> None:
    env = an_envelope()
    with pytest.raises(MalformedEvent, match="ce_time"):
        decode(with_header(env.headers(), "ce_time", when), env.value())


def test_decode_tolerates_absent_optional_extensions() -> None:
    env = an_envelope()
    headers = with_header(
        with_header(env.headers(), "ce_causationid", None), "ce_correlationid", None
    )
    decoded = decode(headers, env.value())
    assert (decoded.correlation_id, decoded.causation_id) == ("", "")
    assert decoded.event == env.event
