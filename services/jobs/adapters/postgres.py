"""PostgreSQL adapters of the jobs service."""

from __future__ import annotations

from dataclasses import asdict, astuple, fields
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from pydantic import TypeAdapter

from services.jobs.domain.estimate import Estimate, EstimateStatus
from services.jobs.domain.model import (
    Address,
    Customer,
    CustomerType,
    Job,
    JobStatus,
    LaborEntry,
    LineItem,
    Note,
    PaymentTerms,
    ServiceLocation,
)
from services.jobs.domain.pricebook import PricebookItem, TaxRate
from services.jobs.service_layer.unit_of_work import (
    CustomerRepository,
    EstimateRepository,
    JobRepository,
    PricebookRepository,
    ServiceLocationRepository,
    TaxRateRepository,
    UnitOfWork,
)
from shared import eventstore
from shared.envelope import Envelope
from shared.eventstore import ConcurrencyConflict
from shared.unit_of_work import PooledTransaction


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


class PostgresTaxRates(TaxRateRepository):
    COLUMNS = "tax_rate_id, shop_id, name, percent, is_default"

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def add(self, rate: TaxRate) -> None:
        self.conn.execute(
            "INSERT INTO tax_rates (tax_rate_id, shop_id, name, percent) VALUES (%s, %s, %s, %s)",
            (rate.tax_rate_id, rate.shop_id, rate.name, rate.percent),
        )

    def for_shop(self, shop_id: str) -> list[TaxRate]:
        rows = self.conn.execute(
            f"SELECT {self.COLUMNS} FROM tax_rates WHERE shop_id = %s"
            " ORDER BY created_at, tax_rate_id",
            (shop_id,),
        ).fetchall()
        return [TaxRate(*row) for row in rows]

    def make_default(self, shop_id: str, tax_rate_id: str) -> None:
        """One change of a shop's default at a time (a transaction lock on the shop), so two
        offices changing it together queue instead of tripping the one-default index or
        deadlocking on each other's rows."""
        self.conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended('tax_rates:' || %s, 0))", (shop_id,)
        )
        self.conn.execute(
            "UPDATE tax_rates SET is_default = false WHERE shop_id = %s AND is_default", (shop_id,)
        )
        self.conn.execute(
            "UPDATE tax_rates SET is_default = true WHERE shop_id = %s AND tax_rate_id = %s",
            (shop_id, tax_rate_id),
        )


class PostgresPricebook(PricebookRepository):
    COLUMNS = (
        "item_id, shop_id, name, unit_price_cents, taxable, description, sku, tax_rate_id, active"
    )

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def add(self, item: PricebookItem) -> None:
        self.conn.execute(
            f"INSERT INTO pricebook_items ({self.COLUMNS})"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            astuple(item),
        )

    def get_many(self, shop_id: str, item_ids: set[str]) -> list[PricebookItem]:
        rows = self.conn.execute(
            f"SELECT {self.COLUMNS} FROM pricebook_items WHERE shop_id = %s AND item_id = ANY(%s)",
            (shop_id, list(item_ids)),
        ).fetchall()
        return [PricebookItem(*row) for row in rows]

    def save(self, item: PricebookItem) -> None:
        self.conn.execute(
            "UPDATE pricebook_items SET name = %s, unit_price_cents = %s, taxable = %s,"
            " description = %s, sku = %s, tax_rate_id = %s, active = %s"
            " WHERE shop_id = %s AND item_id = %s",
            (*astuple(item)[2:], item.shop_id, item.item_id),
        )


class PostgresJobs(JobRepository):
    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def add(self, job: Job) -> None:
        self.conn.execute(
            "INSERT INTO jobs (job_id, shop_id, customer_id, service_address, status, version,"
            " service_location_id, technicians) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (
                job.job_id,
                job.shop_id,
                job.customer_id,
                Jsonb(asdict(job.service_address)),
                job.status.value,
                job.version,
                job.service_location_id,
                job.technicians,
            ),
        )
        self._write_lines(job)

    def _write_lines(self, job: Job) -> None:
        """Insert the lines not stored yet (technicians add them in the field)."""
        with self.conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO job_line_items (job_id, position, {LINE_COLUMNS})"
                f" VALUES (%s, %s, {_placeholders(LINE_COLUMNS)}) ON CONFLICT DO NOTHING",
                [(job.job_id, n, *astuple(i)) for n, i in enumerate(job.line_items)],
            )
            cur.executemany(
                f"INSERT INTO job_labor (job_id, position, {LABOR_COLUMNS})"
                f" VALUES (%s, %s, {_placeholders(LABOR_COLUMNS)}) ON CONFLICT DO NOTHING",
                [(job.job_id, n, *astuple(e)) for n, e in enumerate(job.labor)],
            )
            cur.executemany(
                f"INSERT INTO job_notes (job_id, position, {NOTE_COLUMNS})"
                f" VALUES (%s, %s, {_placeholders(NOTE_COLUMNS)}) ON CONFLICT DO NOTHING",
                [(job.job_id, n, *astuple(note)) for n, note in enumerate(job.notes)],
            )

    def get(self, shop_id: str, job_id: str) -> Job | None:
        row = self.conn.execute(
            "SELECT job_id, shop_id, customer_id, service_address, status, closed_at, version,"
            " service_location_id, technicians, closings, invoice_sent"
            " FROM jobs WHERE shop_id = %s AND job_id = %s",
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
            technicians=row[8],
            closings=row[9],
            invoice_sent=row[10],
            line_items=[LineItem(*r) for r in self._rows("job_line_items", LINE_COLUMNS, job_id)],
            labor=[LaborEntry(*r) for r in self._rows("job_labor", LABOR_COLUMNS, job_id)],
            notes=[Note(*r) for r in self._rows("job_notes", NOTE_COLUMNS, job_id)],
        )

    def save(self, job: Job) -> None:
        cur = self.conn.execute(
            "UPDATE jobs SET status = %s, closed_at = %s, version = %s, technicians = %s,"
            " closings = %s, invoice_sent = %s WHERE job_id = %s AND version = %s",
            (
                job.status.value,
                job.closed_at,
                job.version,
                job.technicians,
                job.closings,
                job.invoice_sent,
                job.job_id,
                job.version - 1,
            ),
        )
        if cur.rowcount != 1:
            raise ConcurrencyConflict(job.job_id, job.version - 1)
        self._write_lines(job)

    def _rows(self, table: str, columns: str, job_id: str) -> list[tuple[Any, ...]]:
        return self.conn.execute(
            f"SELECT {columns} FROM {table} WHERE job_id = %s ORDER BY position", (job_id,)
        ).fetchall()


def _columns(cls: type) -> str:
    """A dataclass's fields as column names, in field order (rows map back positionally)."""
    return ", ".join(f.name for f in fields(cls))


def _placeholders(columns: str) -> str:
    return ", ".join(["%s"] * len(columns.split(",")))


LINE_COLUMNS = _columns(LineItem)
LABOR_COLUMNS = _columns(LaborEntry)
NOTE_COLUMNS = _columns(Note)


class PostgresEstimates(EstimateRepository):
    COLUMNS = (
        "estimate_id, shop_id, customer_id, service_address, service_location_id, line_items,"
        " labor, notes, status, version, sent_at, decided_at, approved_by, decline_reason"
    )

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def add(self, estimate: Estimate) -> None:
        self.conn.execute(
            f"INSERT INTO estimates ({self.COLUMNS}) VALUES ({_placeholders(self.COLUMNS)})",
            _estimate_row(estimate),
        )

    def get(self, shop_id: str, estimate_id: str) -> Estimate | None:
        row = self.conn.execute(
            f"SELECT {self.COLUMNS} FROM estimates WHERE shop_id = %s AND estimate_id = %s",
            (shop_id, estimate_id),
        ).fetchone()
        if row is None:
            return None
        return Estimate(
            estimate_id=row[0],
            shop_id=row[1],
            customer_id=row[2],
            service_address=Address(**row[3]),
            service_location_id=row[4],
            line_items=LINES.validate_python(row[5]),
            labor=LABOR.validate_python(row[6]),
            notes=row[7],
            status=EstimateStatus(row[8]),
            version=row[9],
            sent_at=row[10],
            decided_at=row[11],
            approved_by=row[12],
            decline_reason=row[13],
        )

    def save(self, estimate: Estimate) -> None:
        cur = self.conn.execute(
            "UPDATE estimates SET line_items = %s, labor = %s, notes = %s, status = %s,"
            " version = %s, sent_at = %s, decided_at = %s, approved_by = %s, decline_reason = %s"
            " WHERE estimate_id = %s AND version = %s",
            (*_estimate_row(estimate)[5:], estimate.estimate_id, estimate.version - 1),
        )
        if cur.rowcount != 1:
            raise ConcurrencyConflict(estimate.estimate_id, estimate.version - 1)


LINES = TypeAdapter(list[LineItem])
LABOR = TypeAdapter(list[LaborEntry])


def _estimate_row(e: Estimate) -> tuple[Any, ...]:
    """Columns in COLUMNS order; ``[5:]`` are the ones that can change."""
    return (
        e.estimate_id,
        e.shop_id,
        e.customer_id,
        Jsonb(asdict(e.service_address)),
        e.service_location_id,
        Jsonb(LINES.dump_python(e.line_items, mode="json")),
        Jsonb(LABOR.dump_python(e.labor, mode="json")),
        e.notes,
        e.status.value,
        e.version,
        e.sent_at,
        e.decided_at,
        e.approved_by,
        e.decline_reason,
    )


class PostgresUnitOfWork(PooledTransaction, UnitOfWork):
    """Borrows a pooled connection for the length of one ``with`` block."""

    def bind(self, conn: psycopg.Connection) -> None:
        self.customers = PostgresCustomers(conn)
        self.locations = PostgresServiceLocations(conn)
        self.tax_rates = PostgresTaxRates(conn)
        self.pricebook = PostgresPricebook(conn)
        self.jobs = PostgresJobs(conn)
        self.estimates = PostgresEstimates(conn)

    def publish(self, aggregate_id: str, version: int, envelope: Envelope) -> None:
        eventstore.append(self.conn, aggregate_id, version - 1, [envelope])
