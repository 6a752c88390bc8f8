"""PostgreSQL plumbing: per-service databases, connection pools and SQL migrations."""

from __future__ import annotations

import contextlib
import select
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

BACKBONE_MIGRATIONS = Path(__file__).parent / "sql"
MIGRATION_LOCK = 7_734_001


def ensure_database(admin_url: str, url: str) -> None:
    """Create the database named in ``url`` on the server behind ``admin_url`` if it is missing."""
    name = str(conninfo_to_dict(url)["dbname"])
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(admin_url: str, url: str) -> None:
    name = str(conninfo_to_dict(url)["dbname"])
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def migrate(url: str, service_migrations: Path) -> list[str]:
    """Apply the backbone's and the service's *.sql files not yet applied, in name order.

    Serialised by an advisory lock, so several processes may call it at once. Returns what ran."""
    applied: list[str] = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            done = {r[0] for r in conn.execute("SELECT name FROM schema_migrations")}
            for path in _migration_files(service_migrations):
                name = f"{path.parent.name}/{path.name}"
                if name in done:
                    continue
                with conn.transaction():
                    conn.execute(path.read_text())
                    conn.execute("INSERT INTO schema_migrations (name) VALUES (%s)", (name,))
                applied.append(name)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
    return applied


def _migration_files(service_migrations: Path) -> list[Path]:
    backbone = sorted(BACKBONE_MIGRATIONS.glob("*.sql"))
    own = sorted(service_migrations.glob("*.sql")) if service_migrations.exists() else []
    return backbone + own


def check_connection(conn: psycopg.Connection) -> None:
    """The pool's check before it lends a connection, without a round trip while nothing is
    wrong: an idle connection has nothing to read unless the server wrote to it — a restarted
    or stopped PostgreSQL ends each backend with an error and closes the socket (a killed one
    leaves it closed). Only then the full check runs: it fails, and the pool discards the
    connection and lends another (a fresh one once the server is back)."""
    if conn.closed:
        raise psycopg.OperationalError("the connection is closed")
    waiting = select.poll()
    waiting.register(conn.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
    if waiting.poll(0):
        ConnectionPool.check_connection(conn)


def make_pool(url: str, *, min_size: int = 1, max_size: int = 10, name: str = "") -> ConnectionPool:
    pool = ConnectionPool(
        url,
        check=check_connection,
        min_size=min_size,
        max_size=max_size,
        name=name or None,
        open=False,
        kwargs={"autocommit": False},
    )
    pool.open(wait=True, timeout=30)
    return pool
