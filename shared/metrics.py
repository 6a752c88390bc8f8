"""Prometheus metrics of the backbone, one registry per process (each process is scraped)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar, cast

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from psycopg_pool import ConnectionPool

EVENTS_PUBLISHED = Counter(
    "events_published_total",
    "Events the relay published and the broker acknowledged",
    ["service", "topic"],
)
EVENTS_CONSUMED = Counter(
    "events_consumed_total",
    "Events a consumer finished, by outcome (handled, duplicate)",
    ["consumer", "topic", "outcome"],
)
EVENTS_FAILED = Counter(
    "events_failed_total",
    "Handler attempts that failed and will be retried",
    ["consumer", "topic"],
)
EVENTS_DEAD_LETTERED = Counter(
    "events_dead_lettered_total",
    "Events sent to <topic>.dlq",
    ["consumer", "topic"],
)
OUTBOX_BACKLOG = Gauge("outbox_backlog", "Outbox events not yet published", ["service"])
OUTBOX_OLDEST_AGE = Gauge(
    "outbox_oldest_age_seconds",
    "Age of the oldest unpublished outbox event",
    ["service"],
)
CONSUMER_LAG = Gauge(
    "consumer_lag",
    "Messages behind the partition's high watermark",
    ["consumer", "topic", "partition"],
)
HANDLER_SECONDS = Histogram(
    "event_handler_seconds",
    "Time to handle one event inside its batch transaction",
    ["consumer", "topic"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
BATCH_SECONDS = Histogram(
    "consumer_batch_seconds",
    "Time to process one polled batch, database commit included",
    ["consumer"],
)
RELAY_BATCH_SECONDS = Histogram(
    "relay_batch_seconds",
    "Time to publish one outbox batch and mark it",
    ["service"],
)
HTTP_REQUESTS = Counter(
    "http_requests_total",
    "HTTP requests served",
    ["service", "method", "route", "status"],
)
HTTP_SECONDS = Histogram(
    "http_request_seconds",
    "HTTP request latency",
    ["service", "method", "route"],
)
REMINDERS_QUEUED = Counter(
    "reminders_queued_total",
    "Reminder messages the scheduler queued (each step of an invoice once)",
)
REMINDERS_SKIPPED = Counter(
    "reminders_skipped_total",
    "Invoices the scheduler could not work out a reminder for in a pass (logged, skipped; the"
    " others went on)",
)
SCHEDULER_LAST_TICK = Gauge(
    "reminder_scheduler_last_tick_timestamp_seconds",
    "When the reminder scheduler last finished a pass (alert when it stalls)",
)
PROVIDER_CALLS = Counter(
    "provider_calls_total",
    "Calls to Stripe, Twilio and SendGrid by outcome (ok, or the error's class)",
    ["provider", "operation", "outcome"],
)
PROVIDER_SECONDS = Histogram(
    "provider_call_seconds",
    "Latency of calls to Stripe, Twilio and SendGrid",
    ["provider", "operation"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
WEBHOOKS_REFUSED = Counter(
    "webhook_verification_failures_total",
    "Webhooks refused because their signature did not verify (or was replayed)",
    ["provider"],
)
WEBHOOKS_DISBELIEVED = Counter(
    "webhook_disbelieved_total",
    "Signed webhooks refused because they disagree with the provider's own record or with what"
    " we started (unknown object, other amount, shop, invoice or account, a state moving back)",
    ["provider", "field"],
)
MONEY_GIVEN_BACK = Counter(
    "payments_given_back_cents_total",
    "Money refunded automatically because nothing was owed for it (void: the invoice was void"
    " when the payment landed; overpaid: it landed beyond the balance)",
    ["cause"],
)
SEND_TO_PAID_SECONDS = Histogram(
    "invoice_send_to_paid_seconds",
    "From an invoice's sending to its being paid in full",
    buckets=tuple(h * 3600 for h in (1, 6, 24, 72, 168, 336, 720, 1440, 2160)),
)

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger(__name__)


def provider_call(provider: str, operation: str) -> Callable[[F], F]:
    """Count and time a provider call; the outcome is "ok" or the class of what it raised."""

    def wrap(call: F) -> F:
        @wraps(call)
        def measured(*args: Any, **kwargs: Any) -> Any:
            started, outcome = time.perf_counter(), "ok"
            try:
                return call(*args, **kwargs)
            except Exception as exc:
                outcome = type(exc).__name__
                raise
            finally:
                PROVIDER_SECONDS.labels(provider, operation).observe(time.perf_counter() - started)
                PROVIDER_CALLS.labels(provider, operation, outcome).inc()

        return cast(F, measured)

    return wrap


@dataclass(frozen=True)
class Figure:
    """A business figure read from a service's own tables at scrape time: ``sql`` returns rows
    of the label values followed by the value."""

    name: str
    help: str
    labels: tuple[str, ...]
    sql: str


class Figures(Collector):
    """Gauges computed from the read models when Prometheus scrapes: exact (never counted twice
    by a retried handler), and cheap (each query reads an index-sized summary)."""

    def __init__(self, pool: Callable[[], ConnectionPool | None], figures: list[Figure]) -> None:
        self.pool, self.figures = pool, figures

    def collect(self) -> Iterator[GaugeMetricFamily]:
        pool = self.pool()
        if pool is None:  # not opened yet: a scrape never waits for the database to be reached
            return
        try:
            with pool.connection(timeout=2) as conn:
                for figure in self.figures:
                    family = GaugeMetricFamily(figure.name, figure.help, labels=figure.labels)
                    for row in conn.execute(figure.sql).fetchall():
                        family.add_metric([str(v) for v in row[:-1]], float(row[-1] or 0))
                    yield family
        except Exception:  # a scrape never fails on the database: the figures are missing
            log.warning("business figures unavailable", exc_info=True)

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())


def register_figures(pool: Callable[[], ConnectionPool | None], figures: list[Figure]) -> None:
    """Once per process (the web process of the service that owns the tables)."""
    names = frozenset(f.name for f in figures)
    if names not in _registered:
        REGISTRY.register(Figures(pool, figures))
        _registered.add(names)


_registered: set[frozenset[str]] = set()
