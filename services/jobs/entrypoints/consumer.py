"""The jobs service's consumer process: InvoiceSent → the job can no longer be reopened."""

from __future__ import annotations

import psycopg

from services.jobs import bootstrap
from services.jobs.adapters.postgres import PostgresJobs
from services.jobs.service_layer import handlers
from services.jobs.service_layer.unit_of_work import UnitOfWork
from shared.consumer import Consumer
from shared.contracts import InvoiceSent
from shared.envelope import Envelope

GROUP = "jobs"


class ConsumerUnitOfWork(UnitOfWork):
    """The consumer's transaction belongs to the Consumer (inbox, offsets): handlers only get
    the repositories they need on its connection, and never commit themselves."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.jobs = PostgresJobs(conn)

    def publish(self, aggregate_id: str, version: int, envelope: Envelope) -> None:
        raise NotImplementedError("the jobs consumer publishes nothing")

    def commit(self) -> None:
        """The Consumer commits the batch."""

    def rollback(self) -> None:
        """The Consumer rolls the batch back."""


def on_invoice_sent(conn: psycopg.Connection, envelope: Envelope) -> None:
    handlers.when_invoice_is_sent_stop_reopening(envelope, ConsumerUnitOfWork(conn))


def build_consumer() -> Consumer:
    return bootstrap.wiring.consumer(GROUP, {InvoiceSent: on_invoice_sent})


def main() -> None:
    bootstrap.wiring.run_consumer(build_consumer, default_port=9102)


if __name__ == "__main__":
    main()
