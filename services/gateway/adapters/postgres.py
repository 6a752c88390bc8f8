"""PostgreSQL adapter of the staff app's users."""

from __future__ import annotations

from psycopg_pool import ConnectionPool

from services.gateway.domain.access import StaffUser
from services.gateway.service_layer.ports import Users


class PooledUsers(Users):
    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def by_email(self, email: str) -> tuple[StaffUser, str] | None:
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT user_id, shop_id, email, name, role, password_hash FROM users"
                " WHERE email = %s",
                (email,),
            ).fetchone()
        return (StaffUser(row[0], row[1], row[2], row[3], row[4]), row[5]) if row else None

    def add(self, user: StaffUser, password_hash: str) -> None:
        with self.pool.connection() as conn:
            conn.execute(
                "INSERT INTO users (user_id, shop_id, email, name, role, password_hash)"
                " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (email) DO UPDATE SET"
                " shop_id = excluded.shop_id, name = excluded.name, role = excluded.role,"
                " password_hash = excluded.password_hash",
                (user.user_id, user.shop_id, user.email, user.name, user.role, password_hash),
            )
