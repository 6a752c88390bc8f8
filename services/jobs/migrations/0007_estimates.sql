-- Estimates keep their lines as JSON: they are read and written whole, and never queried by line.
CREATE TABLE IF NOT EXISTS estimates (
    estimate_id          TEXT PRIMARY KEY,
    shop_id              TEXT NOT NULL,
    customer_id          TEXT NOT NULL REFERENCES customers (customer_id),
    service_address      JSONB NOT NULL,
    service_location_id  TEXT REFERENCES service_locations (location_id),
    line_items           JSONB NOT NULL,
    labor                JSONB NOT NULL,
    notes                TEXT NOT NULL DEFAULT '',
    status               TEXT NOT NULL CHECK (status IN ('draft', 'sent', 'approved', 'declined')),
    version              INTEGER NOT NULL,
    sent_at              TIMESTAMPTZ,
    decided_at           TIMESTAMPTZ,
    approved_by          TEXT,
    decline_reason       TEXT,
    created_at           TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS estimates_by_shop ON estimates (shop_id, created_at, estimate_id);
