"""Integration fixtures on top of tests/conftest.py: database-only fixtures (no broker to start,
for the tests that need only PostgreSQL), connections to look from outside, a producer."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest
from kafka import KafkaProducer

from shared.db import drop_database, ensure_database, migrate
from shared.devstack.infra import service_migrations
from shared.kafka import make_producer
from shared.settings import Settings
from tests.integration.helpers import ServiceDb


@pytest.fixture
def service_db(pg_server_url: str) -> Iterator[ServiceDb]:
    """``service_db("jobs")`` → the URL of a fresh, migrated database of that service."""
    settings = Settings(database_url=pg_server_url, database_prefix=f"i{uuid.uuid4().hex[:10]}_")
    created: list[str] = []

    def make(service: str) -> str:
        url = settings.database_url_for(service)
        ensure_database(settings.admin_database_url(), url)
        migrate(url, service_migrations(service))
        created.append(url)
        return url

    yield make
    for url in created:
        drop_database(settings.admin_database_url(), url)


@pytest.fixture
def jobs_db(service_db: ServiceDb) -> str:
    return service_db("jobs")


@pytest.fixture
def autocommit(request: pytest.FixtureRequest) -> Callable[[str], psycopg.Connection]:
    """Open autocommit connections (to look at what others committed) closed after the test."""

    def connect(url: str) -> psycopg.Connection:
        conn = psycopg.connect(url, autocommit=True)
        request.addfinalizer(conn.close)
        return conn

    return connect


@pytest.fixture
def producer(settings: Settings) -> Iterator[KafkaProducer]:
    prod = make_producer(settings.kafka_bootstrap_servers, client_id="integration-test")
    yield prod
    prod.close(timeout=5)
