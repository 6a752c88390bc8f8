"""Per-service wiring every service needs: settings, its own database, a pool, the clock, and the
relay process. A service's bootstrap.py is one ``ServiceWiring`` plus what is its own."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

from psycopg_pool import ConnectionPool

from shared.db import make_pool
from shared.kafka import make_producer
from shared.logs import configure_logging
from shared.relay import Relay
from shared.settings import Settings, load_settings
from shared.worker import run_worker


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
