CREATE TABLE IF NOT EXISTS tax_rates (
    tax_rate_id  TEXT PRIMARY KEY,
    shop_id      TEXT NOT NULL,
    name         TEXT NOT NULL,
    percent      NUMERIC(7, 4) NOT NULL CHECK (percent >= 0 AND percent <= 100),
    is_default   BOOLEAN NOT NULL DEFAULT false,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS tax_rates_by_shop ON tax_rates (shop_id, created_at);
CREATE UNIQUE INDEX IF NOT EXISTS one_default_tax_rate_per_shop ON tax_rates (shop_id)
    WHERE is_default;

CREATE TABLE IF NOT EXISTS pricebook_items (
    item_id           TEXT PRIMARY KEY,
    shop_id           TEXT NOT NULL,
    name              TEXT NOT NULL,
    description       TEXT NOT NULL DEFAULT '',
    sku               TEXT,
    unit_price_cents  BIGINT NOT NULL CHECK (unit_price_cents >= 0),
    taxable           BOOLEAN NOT NULL,
    tax_rate_id       TEXT REFERENCES tax_rates (tax_rate_id),
    active            BOOLEAN NOT NULL DEFAULT true,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS pricebook_by_shop ON pricebook_items (shop_id, created_at);

ALTER TABLE job_line_items
    ADD COLUMN IF NOT EXISTS pricebook_item_id TEXT,
    ADD COLUMN IF NOT EXISTS tax_rate_id TEXT,
    ADD COLUMN IF NOT EXISTS tax_rate_name TEXT;
ALTER TABLE job_labor
    ADD COLUMN IF NOT EXISTS flat_amount_cents BIGINT CHECK (flat_amount_cents >= 0),
    ADD COLUMN IF NOT EXISTS tax_rate_id TEXT,
    ADD COLUMN IF NOT EXISTS tax_rate_name TEXT;

ALTER TABLE jobs
    ADD COLUMN IF NOT EXISTS technicians TEXT[] NOT NULL DEFAULT '{}',
    ADD COLUMN IF NOT EXISTS closings INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS invoice_sent BOOLEAN NOT NULL DEFAULT false;
UPDATE jobs SET closings = 1 WHERE status = 'closed' AND closings = 0;
CREATE INDEX IF NOT EXISTS jobs_by_technician ON jobs USING gin (technicians);

CREATE TABLE IF NOT EXISTS job_notes (
    job_id    TEXT NOT NULL REFERENCES jobs (job_id),
    note_id   TEXT NOT NULL,
    position  INTEGER NOT NULL,
    author    TEXT NOT NULL,
    text      TEXT NOT NULL,
    added_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (job_id, note_id)
);
