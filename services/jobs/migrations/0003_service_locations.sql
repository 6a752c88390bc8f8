CREATE TABLE IF NOT EXISTS service_locations (
    location_id  TEXT PRIMARY KEY,
    shop_id      TEXT NOT NULL,
    customer_id  TEXT NOT NULL REFERENCES customers (customer_id),
    name         TEXT NOT NULL,
    address      JSONB NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS service_locations_by_customer
    ON service_locations (shop_id, customer_id, created_at);

ALTER TABLE jobs ADD COLUMN IF NOT EXISTS service_location_id TEXT
    REFERENCES service_locations (location_id);
