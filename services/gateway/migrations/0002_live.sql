-- What changed about a shop's invoices, for the pages open in the staff app (server-sent events).
-- Written by the gateway's consumer with a NOTIFY; the /live stream of each signed-in user reads
-- its shop's rows after the last one it sent. Rows older than a day are deleted by the consumer.
CREATE TABLE IF NOT EXISTS live_changes (
    position    BIGSERIAL PRIMARY KEY,
    shop_id     TEXT NOT NULL,
    invoice_id  TEXT NOT NULL,
    what        TEXT NOT NULL,
    at          TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS live_changes_of_shop ON live_changes (shop_id, position);
