"""The payments service's consumer process: InvoiceSent, corrections, replaced pay links and voids
→ the copy the pay page shows."""

from __future__ import annotations

import psycopg

from services.payments import bootstrap
from services.payments.adapters.postgres import ConsumerUnitOfWork
from services.payments.entrypoints.stripe_check import StripeCheck
from services.payments.service_layer import handlers
from shared.consumer import Consumer
from shared.contracts import InvoiceSent, InvoiceUpdated, InvoiceVoided, PayLinkReplaced
from shared.envelope import Envelope

GROUP = "payments"


def on_invoice_news(conn: psycopg.Connection, envelope: Envelope) -> None:
    handlers.when_invoicing_tells_keep_copy(envelope, ConsumerUnitOfWork(conn))


def build_consumer() -> Consumer:
    return bootstrap.wiring.consumer(
        GROUP,
        {
            InvoiceSent: on_invoice_news,
            InvoiceUpdated: on_invoice_news,
            InvoiceVoided: on_invoice_news,
            PayLinkReplaced: on_invoice_news,
        },
        poison=(handlers.TenantMismatch,),
    )


def main() -> None:
    check = StripeCheck(bootstrap.wiring.settings.payment_check_seconds)
    bootstrap.wiring.run_consumer(build_consumer, default_port=9105, extra=[check])


if __name__ == "__main__":
    main()
