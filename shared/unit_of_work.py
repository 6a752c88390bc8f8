"""The unit of work every service uses: one database transaction around a use case, and the
pooled-connection adapter that gives it one. A service's port adds its repositories; its
adapter binds them to the connection."""

from __future__ import annotations

import abc
from types import TracebackType
from typing import Any, Self

import psycopg
from psycopg_pool import ConnectionPool


class UnitOfWork(abc.ABC):
    """One transaction: what the use case writes commits together or not at all. Leaving the
    ``with`` block without ``commit`` rolls back."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.rollback()

    @abc.abstractmethod
    def commit(self) -> None: ...

    @abc.abstractmethod
    def rollback(self) -> None: ...


class PooledTransaction(abc.ABC):
    """Adapter half of a unit of work: borrows a pooled connection for one ``with`` block, binds
    the service's repositories to it (``bind``) and gives it back clean."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool
        self._conn: psycopg.Connection | None = None

    def __enter__(self) -> Self:
        self._conn = self.pool.getconn()
        self.bind(self._conn)
        return self

    def __exit__(self, *exc: Any) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.rollback()
        except psycopg.Error:
            pass  # a broken connection: the pool discards it below
        finally:
            self.pool.putconn(conn)

    @abc.abstractmethod
    def bind(self, conn: psycopg.Connection) -> None:
        """Make the repositories for this connection."""

    @property
    def conn(self) -> psycopg.Connection:
        assert self._conn is not None, "use the unit of work in a with block"
        return self._conn

    def commit(self) -> None:
        self.conn.commit()

    def rollback(self) -> None:
        if self._conn is not None:
            self._conn.rollback()
