"""Read-side queries of the jobs service: the office's lists, keyset-paginated."""

from __future__ import annotations

from typing import Any

import psycopg

from shared.pagination import Cursor, Listing, fetch_page, like_pattern

CUSTOMERS = Listing(
    "customers",
    (
        "customer_id",
        "name",
        "customer_type",
        "email",
        "phone",
        "payment_terms",
        "tax_exempt",
        "created_at",
    ),
    order="created_at",
    key="customer_id",
)
JOBS = Listing(
    "jobs",
    (
        "job_id",
        "customer_id",
        "service_location_id",
        "technicians",
        "status",
        "created_at",
        "closed_at",
    ),
    order="created_at",
    key="job_id",
)

PRICEBOOK = Listing(
    "pricebook_items",
    (
        "item_id",
        "name",
        "description",
        "sku",
        "unit_price_cents",
        "taxable",
        "tax_rate_id",
        "active",
        "created_at",
    ),
    order="created_at",
    key="item_id",
)

ESTIMATES = Listing(
    "estimates",
    (
        "estimate_id",
        "customer_id",
        "service_location_id",
        "status",
        "created_at",
        "sent_at",
        "decided_at",
    ),
    order="created_at",
    key="estimate_id",
)


def list_customers(
    conn: psycopg.Connection,
    shop_id: str,
    *,
    limit: int,
    after: Cursor | None,
    name: str | None = None,
    customer_type: str | None = None,
    ids: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Oldest first; ``name`` matches anywhere in the name, ignoring case; ``ids``: only these
    customers (one query for the names on a page of jobs or estimates)."""
    where: list[tuple[str, Any]] = [("name ILIKE %s", like_pattern(name))] if name else []
    if ids:
        where.append(("customer_id = ANY(%s)", ids))
    return fetch_page(
        conn,
        CUSTOMERS,
        shop_id,
        limit=limit,
        after=after,
        equal={"customer_type": customer_type},
        where=where,
    )


def list_jobs(
    conn: psycopg.Connection,
    shop_id: str,
    *,
    limit: int,
    after: Cursor | None,
    status: str | None = None,
    customer_id: str | None = None,
    technician: str | None = None,
) -> list[dict[str, Any]]:
    """``technician``: only the jobs they are assigned to (a technician's own list)."""
    where = [("technicians @> ARRAY[%s]", technician)] if technician else []
    return fetch_page(
        conn,
        JOBS,
        shop_id,
        limit=limit,
        after=after,
        equal={"status": status, "customer_id": customer_id},
        where=where,
    )


def list_pricebook(
    conn: psycopg.Connection,
    shop_id: str,
    *,
    limit: int,
    after: Cursor | None,
    search: str | None = None,
    active: bool | None = None,
) -> list[dict[str, Any]]:
    """``search`` matches the name or the SKU anywhere, ignoring case."""
    where = [("name || ' ' || coalesce(sku, '') ILIKE %s", like_pattern(search))] if search else []
    return fetch_page(
        conn, PRICEBOOK, shop_id, limit=limit, after=after, equal={"active": active}, where=where
    )


def list_estimates(
    conn: psycopg.Connection,
    shop_id: str,
    *,
    limit: int,
    after: Cursor | None,
    status: str | None = None,
    customer_id: str | None = None,
) -> list[dict[str, Any]]:
    return fetch_page(
        conn,
        ESTIMATES,
        shop_id,
        limit=limit,
        after=after,
        equal={"status": status, "customer_id": customer_id},
    )
