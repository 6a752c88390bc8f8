"""The reporting service's consumer process: every fact that changes what an invoice owes (sent,
corrected, voided, paid, returned, refunded) → the AR aging read model."""

from __future__ import annotations

import psycopg

from services.reporting import bootstrap
from services.reporting.adapters.postgres import AgingOnConnection
from services.reporting.domain.ledger import FACTS, TenantMismatch
from services.reporting.service_layer import handlers
from shared.consumer import Consumer
from shared.envelope import Envelope

GROUP = "reporting"


def on_fact(conn: psycopg.Connection, envelope: Envelope) -> None:
    handlers.when_invoice_changes_age_it(envelope, AgingOnConnection(conn))


def build_consumer() -> Consumer:
    return bootstrap.wiring.consumer(
        GROUP,
        {fact: on_fact for fact in FACTS},
        poison=(TenantMismatch,),
    )


def main() -> None:
    bootstrap.wiring.run_consumer(build_consumer, default_port=9110)


if __name__ == "__main__":
    main()
