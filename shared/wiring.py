"""Per-service wiring every service needs: settings, its own database, a pool, the clock, and the
relay process. A service's bootstrap.py is one ``ServiceWiring`` plus what is its own."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

from psycopg_pool import ConnectionPool

from shared.consumer import Consumer, Handler
from shared.contracts import Event
from shared.db import make_pool
from shared.envelope import Envelope
from shared.kafka import FETCH_MAX_WAIT_MS, make_consumer, make_producer
from shared.logs import configure_logging
from shared.relay import Relay
from shared.settings import Settings, load_settings
from shared.worker import Loop, run_worker


def utc_now() -> datetime:
    return datetime.now(UTC)


class ServiceWiring:
    def __init__(self, service: str, migrations: Path) -> None:
        self.service = service
        self.migrations = migrations

    @cached_property
    def settings(self) -> Settings:
        return load_settings()

    @property
    def database_url(self) -> str:
        return self.settings.database_url_for(self.service)

    @cached_property
    def pool(self) -> ConnectionPool:
        return make_pool(self.database_url, name=self.service, max_size=16)

    def opened_pool(self) -> ConnectionPool | None:
        """The pool once a request or the readiness probe opened it, else None: opening waits
        up to 30 s for a database that is away, longer than any scrape may take."""
        pool: ConnectionPool | None = self.__dict__.get("pool")
        return pool

    def ready(self) -> bool:
        with self.pool.connection() as conn:
            conn.execute("SELECT 1")
        return True

    def run_relay(self, default_port: int) -> None:
        """The service's outbox relay process (entrypoint)."""
        name = f"{self.service}-relay"
        configure_logging(name, self.settings.log_level)
        producer = make_producer(self.settings.kafka_bootstrap_servers, client_id=name)
        relay = Relay(self.service, self.database_url, producer, self.settings.relay_batch_size)
        code = run_worker(name, [relay], int(os.environ.get("PORT", default_port)))
        producer.close()
        sys.exit(code)

    def consumer(
        self,
        group: str,
        handlers: Mapping[type[Event], Handler],
        *,
        poison: tuple[type[BaseException], ...] = (),
        streams_for: Callable[[Envelope], Iterable[str]] | None = None,
        fetch_max_wait_ms: int = FETCH_MAX_WAIT_MS,
    ) -> Consumer:
        """A consumer in ``group`` of the topics ``handlers`` handle, on the service's database,
        dead-lettering through its own producer."""
        settings = self.settings
        kafka = make_consumer(
            settings.kafka_bootstrap_servers,
            group,
            [event.topic for event in handlers],
            session_timeout_ms=settings.consumer_session_timeout_ms,
            heartbeat_interval_ms=settings.consumer_heartbeat_interval_ms,
            max_poll_records=settings.consumer_batch_size,
            fetch_max_wait_ms=fetch_max_wait_ms,
        )
        producer = make_producer(settings.kafka_bootstrap_servers, client_id=f"{group}-dlq")
        return Consumer(
            group,
            self.database_url,
            kafka,
            producer,
            handlers,
            max_attempts=settings.consumer_max_attempts,
            poison=poison,
            streams_for=streams_for,
        )

    def run_consumer(
        self, build: Callable[[], Consumer], default_port: int, extra: Iterable[Loop] = ()
    ) -> None:
        """The service's consumer process (entrypoint), with any ``extra`` loops beside it."""
        name = f"{self.service}-consumer"
        configure_logging(name, self.settings.log_level)
        loops: list[Loop] = [build(), *extra]
        sys.exit(run_worker(name, loops, int(os.environ.get("PORT", default_port))))
