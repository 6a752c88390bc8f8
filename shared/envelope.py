"""The event envelope: CloudEvents Kafka protocol binding (binary mode) around a contract.

Headers: ce_id, ce_type, ce_source, ce_specversion, ce_time, ce_subject, content-type, plus the
extensions ce_tenant, ce_correlationid and ce_causationid. The value is the contract's JSON."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pydantic import ValidationError

from shared.contracts import EVENTS_BY_TYPE, Event

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"
Headers = list[tuple[str, bytes]]
EVENT_ID = re.compile(r"[!-~]{1,200}")
TENANT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class MalformedEvent(Exception):
    """A message that can never be processed: missing headers, unknown type or version, bad JSON."""


@dataclass(frozen=True)
class Envelope:
    event: Event
    tenant: str
    source: str
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    time: datetime = field(default_factory=lambda: datetime.now(UTC))
    correlation_id: str = ""
    causation_id: str = ""

    @property
    def type(self) -> str:
        return type(self.event).__name__

    @property
    def topic(self) -> str:
        return type(self.event).topic

    @property
    def subject(self) -> str:
        return self.event.subject

    @property
    def key(self) -> bytes:
        return self.subject.encode()

    def value(self) -> bytes:
        return self.event.model_dump_json().encode()

    def headers(self) -> Headers:
        return [(name, text.encode()) for name, text in self.header_text().items()]

    def header_text(self) -> dict[str, str]:
        """The headers as text (how the outbox stores them)."""
        return {
            "ce_specversion": SPEC_VERSION,
            "ce_id": self.id,
            "ce_type": self.type,
            "ce_source": self.source,
            "ce_time": self.time.isoformat(),
            "ce_subject": self.subject,
            "content-type": CONTENT_TYPE,
            "ce_tenant": self.tenant,
            "ce_correlationid": self.correlation_id or self.id,
            "ce_causationid": self.causation_id,
        }

    def caused(self, event: Event, source: str) -> Envelope:
        """A new envelope for an event this one caused: same tenant and correlation."""
        return Envelope(
            event=event,
            tenant=self.tenant,
            source=source,
            correlation_id=self.correlation_id or self.id,
            causation_id=self.id,
        )


def header_map(headers: Headers | None) -> dict[str, str]:
    return {
        name: raw.decode("utf-8", errors="replace") if raw is not None else ""
        for name, raw in headers or ()
    }


def decode(headers: Headers | None, value: bytes | None) -> Envelope:
    """Parse a Kafka record into an Envelope, or raise MalformedEvent saying why."""
    meta, event = checked(headers, value)
    return Envelope(
        event=event,
        tenant=meta["ce_tenant"],
        source=meta["ce_source"],
        id=meta["ce_id"],
        time=_parse_time(meta.get("ce_time", "")),
        correlation_id=meta.get("ce_correlationid", ""),
        causation_id=meta.get("ce_causationid", ""),
    )


def checked(headers: Headers | None, value: bytes | None) -> tuple[dict[str, str], Event]:
    """The record's headers and its event, every rule of ``decode`` applied (a replay that needs
    no Envelope uses this directly)."""
    meta = header_map(headers)
    missing = [h for h in ("ce_id", "ce_type", "ce_source", "ce_tenant") if not meta.get(h)]
    if missing:
        raise MalformedEvent(f"missing headers: {', '.join(missing)}")
    if not EVENT_ID.fullmatch(meta["ce_id"]):
        raise MalformedEvent("ce_id must be 1-200 printable ASCII characters")
    if not TENANT.fullmatch(meta["ce_tenant"]):
        raise MalformedEvent("ce_tenant must be a shop id (letters, digits, . _ -; at most 64)")
    if meta.get("ce_specversion") != SPEC_VERSION:
        raise MalformedEvent(f"unsupported ce_specversion {meta.get('ce_specversion')!r}")
    event_cls = EVENTS_BY_TYPE.get(meta["ce_type"])
    if event_cls is None:
        raise MalformedEvent(f"unknown ce_type {meta['ce_type']!r}")
    if value is None:
        raise MalformedEvent("empty value")
    _parse_time(meta.get("ce_time", ""))
    try:
        return meta, event_cls.model_validate_json(value)
    except ValidationError as exc:
        raise MalformedEvent(_describe(exc)) from exc


def _parse_time(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise MalformedEvent(f"bad ce_time {text!r}") from exc


def _describe(exc: ValidationError) -> str:
    parts = [f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in exc.errors()]
    return "; ".join(parts)[:2000]
