"""Keyset pagination for list endpoints: ``limit`` and an opaque ``after`` cursor holding the
(timestamp, id) of the last row of the previous page. Bad values are 422s naming the parameter."""

from __future__ import annotations

import base64
import json
from datetime import datetime

from shared.http import FieldError

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
