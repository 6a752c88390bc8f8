"""Prometheus metrics of the backbone, one registry per process (each process is scraped)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

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
SCHEDULER_LAST_TICK = Gauge(
    "reminder_scheduler_last_tick_timestamp_seconds",
    "When the reminder scheduler last finished a pass (alert when it stalls)",
)
