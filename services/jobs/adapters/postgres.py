"""PostgreSQL adapters of the jobs service."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from services.jobs.domain.model import (
    Address,
    Customer,
    CustomerType,
    Job,
    JobStatus,
    LaborEntry,
    LineItem,
    PaymentTerms,
    ServiceLocation,
)
from services.jobs.service_layer.unit_of_work import (
    CustomerRepository,
    JobRepository,
    ServiceLocationRepository,
    UnitOfWork,
)
from shared import eventstore
from shared.envelope import Envelope
from shared.eventstore import ConcurrencyConflict


class PostgresCustomers(CustomerRepository):
    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def add(self, customer: Customer) -> None:
        self.conn.execute(
            "INSERT INTO customers (customer_id, shop_id, name, email, phone, billing_address,"
            " payment_terms_days, tax_exempt, customer_type, payment_terms,"
            " tax_exemption_certificate) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                customer.customer_id,
                customer.shop_id,
                customer.name,
                customer.email,
                customer.phone,
                Jsonb(asdict(customer.billing_address)),
                customer.payment_terms_days,
                customer.tax_exempt,
                customer.customer_type.value,
                customer.payment_terms.value,
                customer.tax_exemption_certificate,
            ),
        )

    def get(self, shop_id: str, customer_id: str) -> Customer | None:
        row = self.conn.execute(
            "SELECT customer_id, shop_id, name, email, phone, billing_address,"
            " payment_terms_days, tax_exempt, customer_type, payment_terms,"
            " tax_exemption_certificate FROM customers"
            " WHERE shop_id = %s AND customer_id = %s",
            (shop_id, customer_id),
        ).fetchone()
        if row is None:
            return None
        return Customer(
            customer_id=row[0],
            shop_id=row[1],
            name=row[2],
            email=row[3],
            phone=row[4],
            billing_address=Address(**row[5]),
            payment_terms_days=row[6],
            tax_exempt=row[7],
            customer_type=CustomerType(row[8]),
            payment_terms=PaymentTerms(row[9]),
            tax_exemption_certificate=row[10],
        )


class PostgresServiceLocations(ServiceLocationRepository):
    COLUMNS = "location_id, shop_id, customer_id, name, address"

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def add(self, location: ServiceLocation) -> None:
        self.conn.execute(
            f"INSERT INTO service_locations ({self.COLUMNS}) VALUES (%s, %s, %s, %s, %s)",
            (
                location.location_id,
                location.shop_id,
                location.customer_id,
                location.name,
                Jsonb(asdict(location.address)),
            ),
        )

    def get(self, shop_id: str, location_id: str) -> ServiceLocation | None:
        row = self.conn.execute(
            f"SELECT {self.COLUMNS} FROM service_locations WHERE shop_id = %s AND location_id = %s",
            (shop_id, location_id),
        ).fetchone()
        return _location(row) if row else None

    def for_customer(self, shop_id: str, customer_id: str) -> list[ServiceLocation]:
        rows = self.conn.execute(
            f"SELECT {self.COLUMNS} FROM service_locations"
            " WHERE shop_id = %s AND customer_id = %s ORDER BY created_at, location_id",
            (shop_id, customer_id),
        ).fetchall()
        return [_location(row) for row in rows]


def _location(row: tuple[Any, ...]) -> ServiceLocation:
    return ServiceLocation(row[0], row[1], row[2], row[3], Address(**row[4]))


class PostgresJobs(JobRepository):
    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def add(self, job: Job) -> None:
        self.conn.execute(
            "INSERT INTO jobs (job_id, shop_id, customer_id, service_address, status, version,"
            " service_location_id) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (
                job.job_id,
                job.shop_id,
                job.customer_id,
                Jsonb(asdict(job.service_address)),
                job.status.value,
                job.version,
                job.service_location_id,
            ),
        )
        self._write_lines(job)

    def _write_lines(self, job: Job) -> None:
        """Insert the lines not stored yet (technicians add them in the field)."""
        with self.conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO job_line_items (job_id, line_id, position, description, quantity,"
                " unit_price_cents, taxable, tax_rate_percent, added_by, added_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                [
                    (
                        job.job_id,
                        i.line_id,
                        n,
                        i.description,
                        i.quantity,
                        i.unit_price_cents,
                        i.taxable,
                        i.tax_rate_percent,
                        i.added_by,
                        i.added_at,
                    )
                    for n, i in enumerate(job.line_items)
                ],
            )
            cur.executemany(
                "INSERT INTO job_labor (job_id, entry_id, position, technician, hours,"
                " hourly_rate_cents, taxable, tax_rate_percent, added_by, added_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                [
                    (
                        job.job_id,
                        e.entry_id,
                        n,
                        e.technician,
                        e.hours,
                        e.hourly_rate_cents,
                        e.taxable,
                        e.tax_rate_percent,
                        e.added_by,
                        e.added_at,
                    )
                    for n, e in enumerate(job.labor)
                ],
            )

    def get(self, shop_id: str, job_id: str) -> Job | None:
        row = self.conn.execute(
            "SELECT job_id, shop_id, customer_id, service_address, status, closed_at, version,"
            " service_location_id FROM jobs WHERE shop_id = %s AND job_id = %s",
            (shop_id, job_id),
        ).fetchone()
        if row is None:
            return None
        return Job(
            job_id=row[0],
            shop_id=row[1],
            customer_id=row[2],
            service_address=Address(**row[3]),
            status=JobStatus(row[4]),
            closed_at=row[5],
            version=row[6],
            service_location_id=row[7],
            line_items=self._line_items(job_id),
            labor=self._labor(job_id),
        )

    def save(self, job: Job) -> None:
        cur = self.conn.execute(
            "UPDATE jobs SET status = %s, closed_at = %s, version = %s"
            " WHERE job_id = %s AND version = %s",
            (job.status.value, job.closed_at, job.version, job.job_id, job.version - 1),
        )
        if cur.rowcount != 1:
            raise ConcurrencyConflict(job.job_id, job.version - 1)
        self._write_lines(job)

    def _line_items(self, job_id: str) -> list[LineItem]:
        rows = self.conn.execute(
            "SELECT line_id, description, quantity, unit_price_cents, taxable, tax_rate_percent,"
            " added_by, added_at FROM job_line_items WHERE job_id = %s ORDER BY position",
            (job_id,),
        ).fetchall()
        return [LineItem(*row) for row in rows]

    def _labor(self, job_id: str) -> list[LaborEntry]:
        rows = self.conn.execute(
            "SELECT entry_id, technician, hours, hourly_rate_cents, taxable, tax_rate_percent,"
            " added_by, added_at FROM job_labor WHERE job_id = %s ORDER BY position",
            (job_id,),
        ).fetchall()
        return [LaborEntry(*row) for row in rows]


class PostgresUnitOfWork(UnitOfWork):
    """Borrows a pooled connection for the length of one ``with`` block."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool
        self._conn: psycopg.Connection | None = None

    def __enter__(self) -> PostgresUnitOfWork:
        self._conn = self.pool.getconn()
        self.customers = PostgresCustomers(self._conn)
        self.locations = PostgresServiceLocations(self._conn)
        self.jobs = PostgresJobs(self._conn)
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

    def publish(self, aggregate_id: str, version: int, envelope: Envelope) -> None:
        eventstore.append(self.conn, aggregate_id, version - 1, [envelope])

    def commit(self) -> None:
        self.conn.commit()

    def rollback(self) -> None:
        self.conn.rollback()

    @property
    def conn(self) -> psycopg.Connection:
        assert self._conn is not None, "use the unit of work in a with block"
        return self._conn
