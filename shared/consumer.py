"""The consumer loop: batches from Kafka, one database transaction per batch, an idempotent inbox,
offsets committed only after the database commit, retries with backoff, and a dead-letter topic.

Per record, inside the batch transaction and a savepoint:
  1. insert (consumer, ce_id) into the inbox; a duplicate key means "already done": skip;
  2. run the handler, which writes its projection / appends its events on the same connection.
A malformed record, or one that keeps failing, is published to ``<topic>.dlq`` (with the error in
headers) before the batch commits, and recorded in the inbox as dead-lettered."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
from kafka import ConsumerRebalanceListener, KafkaConsumer, KafkaProducer
from kafka.errors import CommitFailedError, KafkaError, MessageSizeTooLargeError
from kafka.structs import OffsetAndMetadata, TopicPartition

from shared import eventstore
from shared.contracts import Event
from shared.envelope import Envelope, MalformedEvent, decode
from shared.eventstore import ConcurrencyConflict
from shared.faults import crash_point
from shared.logs import correlation_id
from shared.metrics import (
    BATCH_SECONDS,
    CONSUMER_LAG,
    EVENTS_CONSUMED,
    EVENTS_DEAD_LETTERED,
    EVENTS_FAILED,
    HANDLER_SECONDS,
)

log = logging.getLogger(__name__)

Handler = Callable[[psycopg.Connection, Envelope], None]
LAG_EVERY_SECONDS = 5.0
"""How often the consumer_lag gauge is refreshed (scraped every 15 s; its alert looks at 10 min)."""
TRANSIENT = (psycopg.OperationalError, psycopg.InterfaceError, KafkaError)
"""Failures of the infrastructure, not of the event: retried forever, never dead-lettered —
except the DETERMINISTIC ones among them, which the same event would hit every time."""
DETERMINISTIC = (psycopg.errors.ProgramLimitExceeded, psycopg.DataError, MessageSizeTooLargeError)

CLAIM_INBOX = (
    "INSERT INTO inbox (consumer, event_id, topic, kafka_partition, kafka_offset, outcome) VALUES "
)
CLAIM_ROW = "(%s, %s, %s, %s, %s, 'handled')"
RETRY_DEAD_LETTERED = (
    " ON CONFLICT (consumer, event_id) DO UPDATE SET outcome = excluded.outcome,"
    " error = excluded.error, topic = excluded.topic, kafka_partition = excluded.kafka_partition,"
    " kafka_offset = excluded.kafka_offset, handled_at = clock_timestamp()"
    " WHERE inbox.outcome = 'dead_lettered' AND (inbox.topic, inbox.kafka_partition,"
    " inbox.kafka_offset) IS DISTINCT FROM (excluded.topic, excluded.kafka_partition,"
    " excluded.kafka_offset)"
)
"""An event already done is skipped — except one this consumer dead-lettered that comes again
from another record (re-driven after a fix: ``python -m shared.redrive``); the same record
delivered again (a crash before the offset commit) is still a duplicate."""
CLAIM_RETURNING = RETRY_DEAD_LETTERED + " RETURNING event_id"
INSERT_INBOX = (
    "INSERT INTO inbox (consumer, event_id, topic, kafka_partition, kafka_offset, outcome, error)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s)" + RETRY_DEAD_LETTERED
)


class PoisonEvent(Exception):
    """Raised by a handler for an event that can never be processed (a failing invariant)."""


@dataclass
class _Batch:
    records: list[Any]
    dead_letters: list[tuple[Any, BaseException]] = field(default_factory=list)


class Consumer:
    """Runs ``handlers`` (by event class) for one consumer group on one service database."""

    def __init__(
        self,
        name: str,
        db_url: str,
        kafka: KafkaConsumer,
        producer: KafkaProducer,
        handlers: Mapping[type[Event], Handler],
        *,
        max_attempts: int = 5,
        poison: tuple[type[BaseException], ...] = (),
        streams_for: Callable[[Envelope], Iterable[str]] | None = None,
    ) -> None:
        """``streams_for`` names the event streams a handler will load for an envelope, so the
        fast path can read them all in one query (see eventstore.preload)."""
        self.name = name
        self.db_url = db_url
        self.kafka = kafka
        self.producer = producer
        self.handlers = {cls.__name__: handler for cls, handler in handlers.items()}
        self.max_attempts = max_attempts
        self.streams_for = streams_for
        topics = sorted(kafka.subscription() or [])
        if topics:
            kafka.subscribe(topics, listener=_ForgetRevokedAttempts(self))
        for topic in topics:  # exported at 0 from the start: "none yet" is a figure too
            EVENTS_FAILED.labels(name, topic)
            EVENTS_DEAD_LETTERED.labels(name, topic)
        self.poison: tuple[type[BaseException], ...] = (
            MalformedEvent,
            PoisonEvent,
            *DETERMINISTIC,
            *poison,
        )
        self.attempts: dict[tuple[str, int, int], tuple[int, Exception]] = {}
        """Failed tries per record (and the last error), until its batch commits."""
        self.last_beat = 0.0
        self.retries = 0
        self.lag_reported = 0.0

    def run(self, stop: threading.Event) -> None:
        conn = psycopg.connect(self.db_url)
        try:
            while not stop.is_set():
                self.last_beat = time.monotonic()
                polled = self.kafka.poll(timeout_ms=200)
                records = [r for batch in polled.values() for r in batch]
                if records:
                    conn = self._process_with_retry(conn, records, stop)
                self._report_lag()
        finally:
            conn.close()
            self.kafka.close(autocommit=False)

    def _process_with_retry(
        self, conn: psycopg.Connection, records: list[Any], stop: threading.Event
    ) -> psycopg.Connection:
        """Process a batch; on failure rewind to its first offsets and back off, so the next poll
        redelivers it. Returns the connection to use next (a new one after a database failure)."""
        try:
            self.process_batch(conn, records)
            self.retries = 0
            return conn
        except TRANSIENT as exc:
            log.warning("transient failure, retrying batch", extra={"error": str(exc)})
            conn = self._reconnect(conn)
        except _RetryBatch:
            pass
        self.retries += 1
        self._rewind(records)
        stop.wait(min(0.05 * 2**self.retries, 5.0))
        return conn

    def process_batch(self, conn: psycopg.Connection, records: list[Any]) -> None:
        """Handle a batch in one transaction, then commit its offsets.

        Fast path: every record valid and every handler happy — one pipelined transaction, no
        savepoints. Anything else rolls that back and takes the careful path: a savepoint per
        record, so one bad record is dead-lettered or retried without touching the others."""
        started = time.perf_counter()
        try:
            self._process_fast(conn, records)
        except DETERMINISTIC as exc:
            log.info("batch needs the careful path", extra={"reason": repr(exc)[:300]})
            self._process_careful(conn, records)
        except TRANSIENT:
            raise
        except _HandlerFailed as failed:
            self._remember_failure(failed.record, failed.error)
            self._process_careful(conn, records)
        except Exception as exc:
            log.info("batch needs the careful path", extra={"reason": repr(exc)[:300]})
            self._process_careful(conn, records)
        crash_point("consumer.after_db_commit")
        self._commit_offsets(records)
        self._forget_attempts(records)
        BATCH_SECONDS.labels(self.name).observe(time.perf_counter() - started)

    def _process_fast(self, conn: psycopg.Connection, records: list[Any]) -> None:
        if any(key[:2] == (r.topic, r.partition) for r in records for key in self.attempts):
            raise _NeedsCare("a record of this batch failed before")
        envelopes = [decode(record.headers, record.value) for record in records]
        if any(env.type not in self.handlers for env in envelopes):
            raise _NeedsCare("an event this consumer has no handler for")
        outcomes: list[str] = []
        try:
            with conn.transaction(), conn.pipeline():
                fresh = self._claim(conn, records, envelopes)
                self._preload(conn, [env for env in envelopes if env.id in fresh])
                for record, envelope in zip(records, envelopes, strict=True):
                    outcomes.append(self._handle_fast(conn, record, envelope, fresh))
        finally:
            eventstore.forget_preloaded(conn)
        for (topic, outcome), count in Counter(
            (record.topic, outcome) for record, outcome in zip(records, outcomes, strict=True)
        ).items():
            EVENTS_CONSUMED.labels(self.name, topic, outcome).inc(count)

    def _handle_fast(
        self, conn: psycopg.Connection, record: Any, envelope: Envelope, fresh: set[str]
    ) -> str:
        if envelope.id not in fresh:
            return "duplicate"
        fresh.discard(envelope.id)  # a second copy in the same batch is a duplicate
        handler = self.handlers[envelope.type]
        started = time.perf_counter()
        token = correlation_id.set(envelope.correlation_id)
        try:
            handler(conn, envelope)
        except (psycopg.Error, KafkaError, ConcurrencyConflict):
            raise  # in pipeline mode a database error may belong to an earlier record
        except Exception as exc:
            raise _HandlerFailed(record, exc) from exc
        finally:
            correlation_id.reset(token)
        HANDLER_SECONDS.labels(self.name, record.topic).observe(time.perf_counter() - started)
        return "handled"

    def _record_inbox(
        self,
        conn: psycopg.Connection,
        record: Any,
        event_id: str,
        outcome: str,
        error: str | None,
    ) -> psycopg.Cursor[Any]:
        values = (
            self.name,
            event_id,
            record.topic,
            record.partition,
            record.offset,
            outcome,
            error,
        )
        return conn.execute(INSERT_INBOX, values)

    def _remember_failure(self, record: Any, exc: Exception) -> None:
        """A handler failed on the fast path: that was an attempt. A poison event is not tried
        again (the careful path dead-letters it); another error is retried after a backoff."""
        key = (record.topic, record.partition, record.offset)
        if isinstance(exc, self.poison):
            self.attempts[key] = (self.max_attempts, exc)
            return
        tries = self.attempts.get(key, (0, exc))[0] + 1
        self.attempts[key] = (tries, exc)
        EVENTS_FAILED.labels(self.name, record.topic).inc()
        log.warning("handler failed", extra={"error": repr(exc), "attempt": tries})
        if tries < self.max_attempts:
            raise _RetryBatch from exc

    def _preload(self, conn: psycopg.Connection, envelopes: list[Envelope]) -> None:
        if self.streams_for is not None:
            eventstore.preload(conn, (s for env in envelopes for s in self.streams_for(env)))

    def _claim(
        self, conn: psycopg.Connection, records: list[Any], envelopes: list[Envelope]
    ) -> set[str]:
        """Insert the batch's inbox rows in one statement; returns the ids that were new (the
        primary key decides, so two consumers racing for one event cannot both handle it)."""
        first = {
            env.id: record for record, env in reversed(list(zip(records, envelopes, strict=True)))
        }
        values = [
            v
            for event_id, record in first.items()
            for v in (self.name, event_id, record.topic, record.partition, record.offset)
        ]  # one row per event: a statement may not touch a row twice
        rows = conn.execute(
            CLAIM_INBOX + ", ".join([CLAIM_ROW] * len(first)) + CLAIM_RETURNING, values
        ).fetchall()
        return {row[0] for row in rows}

    def _process_careful(self, conn: psycopg.Connection, records: list[Any]) -> None:
        batch = _Batch(records)
        with conn.transaction():
            for record in records:
                self._process_record(conn, record, batch)
            self._publish_dead_letters(batch)

    def _process_record(self, conn: psycopg.Connection, record: Any, batch: _Batch) -> None:
        started = time.perf_counter()
        try:
            envelope = decode(record.headers, record.value)
        except MalformedEvent as exc:
            self._dead_letter(conn, record, batch, exc, _position_id(record))
            return
        exhausted = self.attempts.get((record.topic, record.partition, record.offset))
        if exhausted and exhausted[0] >= self.max_attempts:
            self._dead_letter(conn, record, batch, exhausted[1], envelope.id)
            return
        token = correlation_id.set(envelope.correlation_id)
        try:
            outcome = self._handle(conn, record, envelope)
        except self.poison as exc:
            self._dead_letter(conn, record, batch, exc, envelope.id)
            return
        except TRANSIENT:
            raise
        except Exception as exc:
            self._count_failure(conn, record, batch, exc, envelope.id)
            return
        finally:
            correlation_id.reset(token)
        EVENTS_CONSUMED.labels(self.name, record.topic, outcome).inc()
        HANDLER_SECONDS.labels(self.name, record.topic).observe(time.perf_counter() - started)

    def _handle(self, conn: psycopg.Connection, record: Any, envelope: Envelope) -> str:
        handler = self.handlers.get(envelope.type)
        if handler is None:
            raise MalformedEvent(f"consumer {self.name} has no handler for {envelope.type}")
        with conn.transaction():
            cur = self._record_inbox(conn, record, envelope.id, "handled", None)
            if cur.rowcount == 0:
                return "duplicate"
            handler(conn, envelope)
        return "handled"

    def _count_failure(
        self, conn: psycopg.Connection, record: Any, batch: _Batch, exc: Exception, event_id: str
    ) -> None:
        """An unexpected handler error: retry the whole batch, dead-letter after max_attempts."""
        key = (record.topic, record.partition, record.offset)
        tries = self.attempts.get(key, (0, exc))[0] + 1
        self.attempts[key] = (tries, exc)
        EVENTS_FAILED.labels(self.name, record.topic).inc()
        log.warning("handler failed", extra={"error": repr(exc), "attempt": tries})
        if tries >= self.max_attempts:
            self._dead_letter(conn, record, batch, exc, event_id)
            return
        raise _RetryBatch from exc

    def _dead_letter(
        self,
        conn: psycopg.Connection,
        record: Any,
        batch: _Batch,
        exc: BaseException,
        event_id: str,
    ) -> None:
        self._record_inbox(
            conn, record, _printable(event_id, 500), "dead_lettered", _printable(str(exc), 2000)
        )
        batch.dead_letters.append((record, exc))
        log.error("dead-lettered", extra={"topic": record.topic, "error": str(exc)[:500]})

    def _publish_dead_letters(self, batch: _Batch) -> None:
        """Sent before the database commit: a crash re-sends (at least once), never loses."""
        futures = [
            self.producer.send(
                f"{record.topic}.dlq",
                key=record.key,
                value=record.value,
                headers=_dlq_headers(record, exc, self.name),
            )
            for record, exc in batch.dead_letters
        ]
        if futures:
            self.producer.flush()
            for future in futures:
                future.get(timeout=30)
        for record, _exc in batch.dead_letters:
            EVENTS_DEAD_LETTERED.labels(self.name, record.topic).inc()

    def _commit_offsets(self, records: list[Any]) -> None:
        offsets: dict[TopicPartition, OffsetAndMetadata] = {}
        for record in records:
            tp = TopicPartition(record.topic, record.partition)
            offsets[tp] = OffsetAndMetadata(record.offset + 1, "", -1)
        try:
            self.kafka.commit(offsets)
        except CommitFailedError:
            log.warning("offset commit failed after rebalance; the inbox dedupes the re-delivery")

    def _forget_attempts(self, records: list[Any]) -> None:
        """Attempts count only until the batch holding the record commits (handled or dead)."""
        if self.attempts:
            for record in records:
                self.attempts.pop((record.topic, record.partition, record.offset), None)

    def _rewind(self, records: list[Any]) -> None:
        first: dict[TopicPartition, int] = {}
        for record in records:
            tp = TopicPartition(record.topic, record.partition)
            first[tp] = min(first.get(tp, record.offset), record.offset)
        assigned = self.kafka.assignment()
        for tp, offset in first.items():
            if tp in assigned:
                self.kafka.seek(tp, offset)

    def _reconnect(self, conn: psycopg.Connection) -> psycopg.Connection:
        with contextlib.suppress(psycopg.Error):
            conn.close()
        while True:
            try:
                return psycopg.connect(self.db_url)
            except psycopg.OperationalError:
                time.sleep(1.0)

    def _report_lag(self) -> None:
        """The lag gauge, at most every LAG_EVERY_SECONDS: a pass over every assigned partition
        costs ~0.17 ms of CPU each (19 ms for the staff app's 112), too much for every poll."""
        now = time.monotonic()
        if now - self.lag_reported < LAG_EVERY_SECONDS:
            return
        self.lag_reported = now
        for tp in self.kafka.assignment():
            high = self.kafka.highwater(tp)
            position = self.kafka.position(tp, timeout_ms=0) if high is not None else None
            if high is not None and position is not None:
                CONSUMER_LAG.labels(self.name, tp.topic, str(tp.partition)).set(high - position)


class _ForgetRevokedAttempts(ConsumerRebalanceListener):  # type: ignore[misc]
    """Retry counts belong to the partitions this consumer holds; another member takes over the
    rest (and counts afresh)."""

    def __init__(self, consumer: Consumer) -> None:
        self.consumer = consumer

    def on_partitions_revoked(self, revoked: Any) -> None:
        gone = {(tp.topic, tp.partition) for tp in revoked}
        for key in [k for k in self.consumer.attempts if k[:2] in gone]:
            del self.consumer.attempts[key]

    def on_partitions_assigned(self, assigned: Any) -> None:
        pass


class _HandlerFailed(Exception):
    """A handler raised on the fast path; which record, and what."""

    def __init__(self, record: Any, error: Exception) -> None:
        super().__init__(repr(error))
        self.record = record
        self.error = error


class _NeedsCare(Exception):
    """The fast path cannot take this batch."""


class _RetryBatch(Exception):
    """Roll the batch back and process it again after a backoff."""


def _position_id(record: Any) -> str:
    """The inbox id of a record whose own ce_id cannot be trusted (it could not be decoded)."""
    return f"{record.topic}/{record.partition}/{record.offset}"


def _printable(text: str, limit: int) -> str:
    """PostgreSQL text cannot hold NUL; errors quote whatever a bad message carried."""
    return text.replace("\x00", "\\x00")[:limit]


def _dlq_headers(record: Any, exc: BaseException, consumer: str) -> list[tuple[str, bytes]]:
    extra = {
        "dlq_error": str(exc)[:2000],
        "dlq_error_type": type(exc).__name__,
        "dlq_consumer": consumer,
        "dlq_original_topic": record.topic,
        "dlq_original_partition": str(record.partition),
        "dlq_original_offset": str(record.offset),
        "dlq_failed_at": datetime.now(UTC).isoformat(),
    }
    return list(record.headers or []) + [(k, v.encode()) for k, v in extra.items()]
