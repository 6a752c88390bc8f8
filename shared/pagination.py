"""Keyset pagination for list endpoints: ``limit`` and an opaque ``after`` cursor holding the
(timestamp, id) of the last row of the previous page. Bad values are 422s naming the parameter."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from shared.http import FieldError
from shared.openapi import Query, whole_number

MAX_PAGE = 200
DEFAULT_PAGE = 50
MAX_LIMIT_DIGITS = 4
MAX_CURSOR_CHARS = 512
MAX_ID_CHARS = 200
Cursor = tuple[datetime, str]


def page_limit(text: str | None) -> int:
    if text is None:
        return DEFAULT_PAGE
    # isdigit() alone admits "²" (which int() refuses) and any number of digits (int() refuses more
    # than 4300): ASCII digits only, and few enough of them.
    digits = text.isascii() and text.isdigit() and len(text) <= MAX_LIMIT_DIGITS
    if not digits or not 1 <= int(text) <= MAX_PAGE:
        raise FieldError("limit", f"must be a whole number from 1 to {MAX_PAGE}")
    return int(text)


def requested_page(args: Mapping[str, str]) -> tuple[int, Cursor | None]:
    """``limit`` and ``after`` from a request's query string."""
    return page_limit(args.get("limit")), decode_cursor(args.get("after"))


def page_of(items: list[dict[str, Any]], limit: int, listing: Listing) -> dict[str, Any]:
    """The response body of a list endpoint: the items and the cursor of the next page."""
    return {"items": items, "next": next_cursor(items, limit, listing.order, listing.key)}


def encode_cursor(at: str, key: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([at, key]).encode()).decode()


def next_cursor(items: list[dict[str, str]], limit: int, at: str, key: str) -> str | None:
    """The cursor after a full page (None after the last one)."""
    if len(items) < limit:
        return None
    return encode_cursor(items[-1][at], items[-1][key])


def decode_cursor(text: str | None) -> Cursor | None:
    """What ``encode_cursor`` wrote; anything else is a 422 on ``after``."""
    if not text:
        return None
    problem = FieldError("after", "not a cursor this API returned")
    if len(text) > MAX_CURSOR_CHARS:
        raise problem
    try:
        decoded = json.loads(base64.urlsafe_b64decode(text.encode("ascii")))
    except (ValueError, RecursionError) as exc:  # binascii, Unicode and JSON errors are ValueErrors
        raise problem from exc
    if not (isinstance(decoded, list) and len(decoded) == 2):
        raise problem
    at, key = decoded
    if not (isinstance(at, str) and isinstance(key, str)):
        raise problem
    # fromisoformat() lets a trailing NUL through; PostgreSQL would refuse one in the id
    if not (at.isprintable() and key.isprintable()) or not 1 <= len(key) <= MAX_ID_CHARS:
        raise problem
    try:
        when = datetime.fromisoformat(at)
    except ValueError as exc:
        raise problem from exc
    if when.tzinfo is None:
        raise problem
    return when, key


PAGE_QUERY: dict[str, str | Query] = {
    "limit": whole_number(f"page size, 1-{MAX_PAGE} (default {DEFAULT_PAGE})", 1, MAX_PAGE),
    "after": "the `next` cursor of the previous page",
}
"""How list endpoints describe their paging parameters in OpenAPI."""


@dataclass(frozen=True)
class Listing:
    """A shop-scoped table read oldest first by (``order``, ``key``)."""

    table: str
    columns: tuple[str, ...]
    order: str
    key: str


def fetch_page(
    conn: psycopg.Connection,
    listing: Listing,
    shop_id: str,
    *,
    limit: int,
    after: Cursor | None,
    equal: dict[str, Any] | None = None,
    where: list[tuple[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """One page of rows as JSON-ready dicts. ``equal`` filters columns (None: no filter);
    ``where`` adds (clause, parameter) pairs. Table and column names come from code only."""
    clauses: list[str] = ["shop_id = %s"]
    params: list[Any] = [shop_id]
    for column, value in (equal or {}).items():
        if value is not None:
            clauses.append(f"{column} = %s")
            params.append(value)
    for clause, value in where or []:
        clauses.append(clause)
        params.append(value)
    if after:
        clauses.append(f"({listing.order}, {listing.key}) > (%s, %s)")
        params.extend(after)
    rows = conn.execute(
        f"SELECT {', '.join(listing.columns)} FROM {listing.table}"
        f" WHERE {' AND '.join(clauses)} ORDER BY {listing.order}, {listing.key} LIMIT %s",
        [*params, limit],
    ).fetchall()
    return [_jsonable(dict(zip(listing.columns, row, strict=True))) for row in rows]


def like_pattern(text: str) -> str:
    """``text`` anywhere, for ILIKE, with its own % and _ taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
    return f"%{escaped}%"


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}
