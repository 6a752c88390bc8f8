-- The event store doubles as the transactional outbox: events with a topic are published by the
-- relay in position order; published_at is set only after the broker acknowledged them.
CREATE TABLE IF NOT EXISTS events (
    position      BIGSERIAL UNIQUE,
    aggregate_id  TEXT        NOT NULL,
    version       INTEGER     NOT NULL CHECK (version > 0),
    event_id      UUID        NOT NULL UNIQUE,
    tenant        TEXT        NOT NULL,
    event_type    TEXT        NOT NULL,
    topic         TEXT,
    key           TEXT        NOT NULL,
    value         TEXT        NOT NULL,
    headers       JSONB       NOT NULL,
    recorded_at   TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    published_at  TIMESTAMPTZ,
    PRIMARY KEY (aggregate_id, version)
);
CREATE INDEX IF NOT EXISTS events_unpublished
    ON events (position) WHERE published_at IS NULL AND topic IS NOT NULL;

-- Idempotent consumers: one row per (consumer, event id), written in the handler's transaction.
CREATE TABLE IF NOT EXISTS inbox (
    consumer      TEXT        NOT NULL,
    event_id      TEXT        NOT NULL,
    topic         TEXT        NOT NULL,
    kafka_partition INTEGER   NOT NULL,
    kafka_offset  BIGINT      NOT NULL,
    outcome       TEXT        NOT NULL CHECK (outcome IN ('handled', 'dead_lettered')),
    error         TEXT,
    handled_at    TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (consumer, event_id)
);
