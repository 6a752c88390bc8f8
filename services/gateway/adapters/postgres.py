"""PostgreSQL adapter of the staff app's users."""

from __future__ import annotations

import psycopg
from psycopg_pool import ConnectionPool

from services.gateway.domain.access import StaffUser
from services.gateway.service_layer.ports import LastOwner, NameTaken, Users

COLUMNS = "user_id, shop_id, email, name, role"


class PooledUsers(Users):
    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def by_email(self, email: str) -> tuple[StaffUser, str] | None:
        with self.pool.connection() as conn:
            row = conn.execute(
                f"SELECT {COLUMNS}, password_hash FROM users WHERE email = %s", (email,)
            ).fetchone()
        return (StaffUser(*row[:5]), row[5]) if row else None

    def add(self, user: StaffUser, password_hash: str) -> None:
        """A new user, or (same email) a reset one: every earlier session of theirs ends."""
        with self.pool.connection() as conn:
            conn.execute(
                "INSERT INTO users (user_id, shop_id, email, name, role, password_hash)"
                " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (email) DO UPDATE SET"
                " shop_id = excluded.shop_id, name = excluded.name, role = excluded.role,"
                " password_hash = excluded.password_hash,"
                " session_version = users.session_version + 1",
                (user.user_id, user.shop_id, user.email, user.name, user.role, password_hash),
            )

    def create(self, user: StaffUser, password_hash: str) -> bool:
        try:
            with self.pool.connection() as conn:
                made = conn.execute(
                    "INSERT INTO users (user_id, shop_id, email, name, role, password_hash)"
                    " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (email) DO NOTHING",
                    (user.user_id, user.shop_id, user.email, user.name, user.role, password_hash),
                ).rowcount
        except psycopg.errors.UniqueViolation as exc:  # the other unique rule: the name
            raise NameTaken(user.name) from exc
        return bool(made)

    def of_shop(self, shop_id: str) -> list[StaffUser]:
        with self.pool.connection() as conn:
            rows = conn.execute(
                f"SELECT {COLUMNS} FROM users WHERE shop_id = %s ORDER BY name, email", (shop_id,)
            ).fetchall()
        return [StaffUser(*row) for row in rows]

    def current(self, user_id: str, version: int) -> StaffUser | None:
        with self.pool.connection() as conn:
            row = conn.execute(
                f"SELECT {COLUMNS} FROM users WHERE user_id = %s AND session_version = %s",
                (user_id, version),
            ).fetchone()
        return StaffUser(*row) if row else None

    def version(self, user_id: str) -> int:
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT session_version FROM users WHERE user_id = %s", (user_id,)
            ).fetchone()
        return int(row[0]) if row else 0

    def end_sessions(self, user_id: str) -> None:
        with self.pool.connection() as conn:
            conn.execute(
                "UPDATE users SET session_version = session_version + 1 WHERE user_id = %s",
                (user_id,),
            )

    def change_role(self, shop_id: str, user_id: str, role: str) -> bool:
        with self.pool.connection() as conn:
            if not _owners_stay(conn, shop_id, user_id, role):
                raise LastOwner(shop_id)
            found = conn.execute(
                "UPDATE users SET role = %s,"
                " session_version = session_version + (role <> %s)::int"
                " WHERE shop_id = %s AND user_id = %s",
                (role, role, shop_id, user_id),
            ).rowcount
        return bool(found)

    def remove(self, shop_id: str, user_id: str) -> bool:
        with self.pool.connection() as conn:
            if not _owners_stay(conn, shop_id, user_id, None):
                raise LastOwner(shop_id)
            gone = conn.execute(
                "DELETE FROM users WHERE shop_id = %s AND user_id = %s", (shop_id, user_id)
            ).rowcount
        return bool(gone)


def _owners_stay(conn: psycopg.Connection, shop_id: str, user_id: str, role: str | None) -> bool:
    """Whether the shop keeps an owner after the user becomes ``role`` (None: leaves). The
    shop's owners are locked until the change commits, so two owners demoting each other at
    once cannot both succeed."""
    owners = {
        row[0]
        for row in conn.execute(
            "SELECT user_id FROM users WHERE shop_id = %s AND role = 'owner'"
            " ORDER BY user_id FOR UPDATE",
            (shop_id,),
        )
    }
    return role == "owner" or user_id not in owners or bool(owners - {user_id})
