"""The shop's change stream for server-sent events: LISTEN for the consumer's NOTIFY, then read
the shop's rows after the last one sent (so a missed notification loses nothing, and a browser
that reconnects with Last-Event-ID gets what it missed)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import psycopg

CHANNEL = "live_changes"
KEEPALIVE_SECONDS = 15.0


def live_changes(url: str, shop_id: str, after: int | None) -> Iterator[str]:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"LISTEN {CHANNEL}")
        if after is None:
            row = conn.execute(
                "SELECT coalesce(max(position), 0) FROM live_changes WHERE shop_id = %s",
                (shop_id,),
            ).fetchone()
            after = int(row[0]) if row else 0
        yield "retry: 2000\n\n"
        while True:
            rows = conn.execute(
                "SELECT position, invoice_id, what FROM live_changes"
                " WHERE shop_id = %s AND position > %s ORDER BY position LIMIT 200",
                (shop_id, after),
            ).fetchall()
            for position, invoice_id, what in rows:
                after = position
                data = json.dumps({"invoice_id": invoice_id, "what": what})
                yield f"id: {position}\nevent: invoice\ndata: {data}\n\n"
            if rows:
                continue
            mine = [n for n in conn.notifies(timeout=KEEPALIVE_SECONDS, stop_after=1)]
            if not mine:
                yield ": still here\n\n"
