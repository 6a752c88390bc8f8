"""Migrations: applied once, in name order, recorded, safe to run again and at the same time."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from shared.db import BACKBONE_MIGRATIONS, drop_database, ensure_database, migrate
from shared.devstack.infra import service_migrations
from shared.settings import SERVICES, Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def empty_db(pg_server_url: str) -> Iterator[Callable[[str], str]]:
    """Fresh, *unmigrated* databases."""
    settings = Settings(database_url=pg_server_url, database_prefix=f"m{uuid.uuid4().hex[:10]}_")
    created: list[str] = []

    def make(service: str) -> str:
        url = settings.database_url_for(service)
        ensure_database(settings.admin_database_url(), url)
        created.append(url)
        return url

    yield make
    for url in created:
        drop_database(settings.admin_database_url(), url)


def expected_names(service: str) -> list[str]:
    backbone = [f"sql/{p.name}" for p in sorted(BACKBONE_MIGRATIONS.glob("*.sql"))]
    own = [f"migrations/{p.name}" for p in sorted(service_migrations(service).glob("*.sql"))]
    return backbone + own


@pytest.mark.parametrize("service", ["jobs", "invoicing"])
def test_migrating_twice_applies_nothing_the_second_time(
    empty_db: Callable[[str], str], service: str
) -> None:
    url = empty_db(service)
    first = migrate(url, service_migrations(service))
    assert first == expected_names(service)
    assert len(first) >= 2  # the backbone and the service's own

    assert migrate(url, service_migrations(service)) == []

    with psycopg.connect(url) as conn:
        recorded = [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY 1")]
        tables = {
            r[0]
            for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        }
    assert sorted(recorded) == sorted(first)
    assert {"events", "inbox", "schema_migrations"} <= tables


def test_every_service_migrates_cleanly(empty_db: Callable[[str], str]) -> None:
    for service in SERVICES:
        url = empty_db(service)
        assert migrate(url, service_migrations(service)) == expected_names(service)
        assert migrate(url, service_migrations(service)) == []


def test_concurrent_migrations_apply_each_file_exactly_once(empty_db: Callable[[str], str]) -> None:
    url = empty_db("jobs")
    barrier = threading.Barrier(3, timeout=10)
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            results.append(migrate(url, service_migrations("jobs")))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    applied = [name for result in results for name in result]
    assert sorted(applied) == sorted(expected_names("jobs"))  # each once, none twice


def test_a_failing_migration_is_not_recorded(
    empty_db: Callable[[str], str], tmp_path: Path
) -> None:
    url = empty_db("jobs")
    own = tmp_path / "migrations"
    own.mkdir()
    (own / "0001_ok.sql").write_text("CREATE TABLE ok_table (id int);")
    (own / "0002_broken.sql").write_text("CREATE TABLE broken (id int); SELECT * FROM nowhere;")
    with pytest.raises(psycopg.errors.UndefinedTable):
        migrate(url, own)
    with psycopg.connect(url) as conn:
        recorded = {r[0] for r in conn.execute("SELECT name FROM schema_migrations")}
        broken = conn.execute("SELECT to_regclass('broken')").fetchone()
    assert "migrations/0001_ok.sql" in recorded
    assert "migrations/0002_broken.sql" not in recorded
    assert broken == (None,)  # its statements rolled back with it

    (own / "0002_broken.sql").write_text("CREATE TABLE broken (id int);")
    assert migrate(url, own) == ["migrations/0002_broken.sql"]
