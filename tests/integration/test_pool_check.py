"""The services' connection pools on PostgreSQL: a connection the server ended (a restart, an
administrator, a crash) is never lent to a request — the pool replaces it — and a healthy idle
connection is lent without a round trip to the server."""

from __future__ import annotations

import time

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from shared import db
from shared.db import make_pool
from tests.integration.helpers import ServiceDb

pytestmark = pytest.mark.integration


def backend_of(pool: ConnectionPool) -> int:
    with pool.connection() as conn:
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
    assert row is not None
    return int(row[0])


def test_a_connection_the_server_ended_is_never_lent(
    service_db: ServiceDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = service_db("gateway")
    pool = make_pool(url, min_size=1, max_size=1)
    full_checks: list[int] = []
    real = ConnectionPool.check_connection

    def counted(conn: psycopg.Connection) -> None:
        full_checks.append(1)
        real(conn)

    monkeypatch.setattr(ConnectionPool, "check_connection", staticmethod(counted))
    try:
        first = backend_of(pool)
        assert backend_of(pool) == first and full_checks == []  # healthy: no round trip
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (first,))
        time.sleep(0.2)  # the server's goodbye reaches the idle connection's socket
        assert backend_of(pool) != first  # not an error: the pool lent a fresh connection
        assert full_checks == [1]
    finally:
        pool.close()


def test_a_closed_connection_fails_the_check(service_db: ServiceDb) -> None:
    conn = psycopg.connect(service_db("gateway"))
    conn.close()
    with pytest.raises(psycopg.OperationalError):
        db.check_connection(conn)
