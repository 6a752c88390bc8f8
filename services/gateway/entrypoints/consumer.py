"""The staff app's consumer process: every fact about an invoice (drafted, edited, sent, viewed,
paid, refunded, voided, a pay link replaced) becomes a row of live_changes and a NOTIFY, so the
pages open in the shop's browsers refresh without a reload (the /live stream)."""

from __future__ import annotations

import psycopg

from services.gateway import bootstrap
from shared.consumer import Consumer
from shared.contracts import (
    Event,
    InvoiceDrafted,
    InvoiceDraftWithdrawn,
    InvoiceSent,
    InvoiceUpdated,
    InvoiceViewed,
    InvoiceVoided,
    MessageDelivered,
    MessageFailed,
    PayLinkReplaced,
    PaymentFailed,
    PaymentInitiated,
    PaymentReceived,
    RefundIssued,
    ReminderSent,
)
from shared.envelope import Envelope

GROUP = "gateway"
LIVE: tuple[type[Event], ...] = (
    InvoiceDrafted,
    InvoiceDraftWithdrawn,
    InvoiceUpdated,
    InvoiceSent,
    InvoiceViewed,
    InvoiceVoided,
    PayLinkReplaced,
    PaymentInitiated,
    PaymentReceived,
    PaymentFailed,
    RefundIssued,
    ReminderSent,
    MessageDelivered,
    MessageFailed,
)
CHANNEL = "live_changes"


class TenantMismatch(Exception):
    pass


def on_change(conn: psycopg.Connection, envelope: Envelope) -> None:
    shop = getattr(envelope.event, "shop_id", "")
    if shop != envelope.tenant:
        raise TenantMismatch(f"{envelope.type} for {shop} came as {envelope.tenant}")
    # One writer per shop at a time, so positions commit in order and a stream reading "after
    # position p" never skips a row committed late.
    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (shop,))
    conn.execute(
        "INSERT INTO live_changes (shop_id, invoice_id, what) VALUES (%s, %s, %s)",
        (shop, envelope.subject, envelope.type),
    )
    conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, shop))
    conn.execute("DELETE FROM live_changes WHERE at < clock_timestamp() - interval '1 day'")


def build_consumer() -> Consumer:
    return bootstrap.wiring.consumer(
        GROUP, {event: on_change for event in LIVE}, poison=(TenantMismatch,)
    )


def main() -> None:
    bootstrap.wiring.run_consumer(build_consumer, default_port=9111)


if __name__ == "__main__":
    main()
