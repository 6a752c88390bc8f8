"""Event store with optimistic concurrency; its table is also the transactional outbox.

Appending uses the primary key (aggregate_id, version): two writers that loaded the same version
race for the same key, one commits, the other gets ConcurrencyConflict and must reload and retry."""

from __future__ import annotations

import json
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

import psycopg
from psycopg.types.json import Jsonb

from shared.contracts import EVENTS_BY_TYPE, Event
from shared.envelope import Envelope

OUTBOX_CHANNEL = "outbox"
"""Notified by a trigger on events (shared/sql/0002_outbox_notify.sql) when rows are inserted."""


MAX_EVENT_BYTES = 900_000
"""Below Kafka's default 1 MB message limit, with room for headers and the dead-letter copy."""


class EventTooLarge(ValueError):
    """An event whose JSON would not fit in one Kafka message: refused before it is accepted."""


class ConcurrencyConflict(Exception):
    """Someone else appended to this aggregate first. Reload and retry, or answer 409."""

    def __init__(self, aggregate_id: str, expected_version: int) -> None:
        super().__init__(f"aggregate {aggregate_id} changed after version {expected_version}")
        self.aggregate_id = aggregate_id
        self.expected_version = expected_version


@dataclass(frozen=True)
class StoredEvent:
    aggregate_id: str
    version: int
    envelope: Envelope


INSERT = (
    "INSERT INTO events (aggregate_id, version, event_id, tenant, event_type, topic, key, value,"
    " headers) VALUES "
)
ROW = "(%s, %s, %s, %s, %s, %s, %s, %s, %s)"


def append(
    conn: psycopg.Connection,
    aggregate_id: str,
    expected_version: int,
    envelopes: Sequence[Envelope],
    *,
    publish: bool = True,
) -> int:
    """Append envelopes after ``expected_version`` inside the caller's transaction (a failed
    append leaves that transaction to roll back: use a savepoint to keep going after a conflict).

    Returns the new version. With ``publish`` the relay sends them to their topics."""
    if not envelopes:
        return expected_version
    rows = [
        _row(aggregate_id, expected_version + i + 1, env, publish)
        for i, env in enumerate(envelopes)
    ]
    try:
        conn.execute(INSERT + ", ".join([ROW] * len(rows)), [v for row in rows for v in row])
    except psycopg.errors.UniqueViolation as exc:
        if exc.diag.constraint_name == "events_pkey":
            raise ConcurrencyConflict(aggregate_id, expected_version) from exc
        raise
    return expected_version + len(rows)


_preloaded: weakref.WeakKeyDictionary[psycopg.Connection, dict[str, list[StoredEvent]]] = (
    weakref.WeakKeyDictionary()
)


def preload(conn: psycopg.Connection, aggregate_ids: Iterable[str]) -> None:
    """Read many streams in one query, for the next ``load`` of each on this connection (in the
    same transaction). A consumer batch uses it to save a round trip per event."""
    ids = list(dict.fromkeys(aggregate_ids))
    streams: dict[str, list[StoredEvent]] = {aggregate_id: [] for aggregate_id in ids}
    rows = conn.execute(
        "SELECT aggregate_id, version, event_type, value, headers FROM events"
        " WHERE aggregate_id = ANY(%s) ORDER BY aggregate_id, version",
        (ids,),
    ).fetchall()
    for r in rows:
        streams[r[0]].append(StoredEvent(r[0], r[1], _envelope(r[2], r[3], r[4])))
    _preloaded[conn] = streams


def forget_preloaded(conn: psycopg.Connection) -> None:
    _preloaded.pop(conn, None)


def load(conn: psycopg.Connection, aggregate_id: str) -> list[StoredEvent]:
    """The aggregate's history in version order."""
    cached = _preloaded.get(conn)
    if cached is not None and aggregate_id in cached:
        return cached.pop(aggregate_id)
    rows = conn.execute(
        "SELECT aggregate_id, version, event_type, value, headers FROM events"
        " WHERE aggregate_id = %s ORDER BY version",
        (aggregate_id,),
    ).fetchall()
    return [StoredEvent(r[0], r[1], _envelope(r[2], r[3], r[4])) for r in rows]


def _row(aggregate_id: str, version: int, env: Envelope, publish: bool) -> tuple[object, ...]:
    value = env.value()
    if len(value) > MAX_EVENT_BYTES:
        raise EventTooLarge(
            f"{env.type} would be {len(value):,} bytes; the limit is {MAX_EVENT_BYTES:,}"
        )
    headers = env.header_text()
    return (
        aggregate_id,
        version,
        env.id,
        env.tenant,
        env.type,
        env.topic if publish else None,
        env.subject,
        value.decode(),
        Jsonb(headers),
    )


def _envelope(event_type: str, value: str, headers: dict[str, str]) -> Envelope:
    cls: type[Event] = EVENTS_BY_TYPE[event_type]
    event = cls.model_validate(json.loads(value))
    return Envelope(
        event=event,
        tenant=headers["ce_tenant"],
        source=headers["ce_source"],
        id=headers["ce_id"],
        time=datetime.fromisoformat(headers["ce_time"]),
        correlation_id=headers.get("ce_correlationid", ""),
        causation_id=headers.get("ce_causationid", ""),
    )


T = TypeVar("T")


def retrying(attempt_once: Callable[[], T], attempts: int = 3) -> T:
    """Run a read-modify-write again after losing an optimistic race (it reloads)."""
    for attempt in range(attempts):
        try:
            return attempt_once()
        except ConcurrencyConflict:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")
