-- The invoice lifecycle: numbering, shop settings, estimate copies, and a wider projection.
CREATE TABLE IF NOT EXISTS shop_settings (
    shop_id         TEXT PRIMARY KEY,
    name            TEXT NOT NULL DEFAULT '',
    number_prefix   TEXT NOT NULL,
    card_max_cents  BIGINT NOT NULL CHECK (card_max_cents >= 0),
    logo_url        TEXT,
    color           TEXT NOT NULL,
    time_zone       TEXT NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);

-- One row per shop; taking a number locks it until commit (gapless, never twice).
CREATE TABLE IF NOT EXISTS invoice_numbers (
    shop_id  TEXT PRIMARY KEY,
    last     BIGINT NOT NULL CHECK (last >= 0)
);

CREATE TABLE IF NOT EXISTS approved_estimates (
    shop_id      TEXT NOT NULL,
    estimate_id  TEXT NOT NULL,
    event        JSONB NOT NULL,
    received_at  TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (shop_id, estimate_id)
);

ALTER TABLE invoices
    ADD COLUMN IF NOT EXISTS estimate_id     TEXT,
    ADD COLUMN IF NOT EXISTS invoice_number  TEXT,
    ADD COLUMN IF NOT EXISTS sent_at         TIMESTAMPTZ,
    ADD COLUMN IF NOT EXISTS due_date        DATE,
    ADD COLUMN IF NOT EXISTS paid_cents      BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS refunded_cents  BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS pending_cents   BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS balance_cents   BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS viewed_at       TIMESTAMPTZ;
UPDATE invoices SET balance_cents = total_cents WHERE balance_cents = 0 AND total_cents <> 0;
CREATE UNIQUE INDEX IF NOT EXISTS invoices_number_per_shop ON invoices (shop_id, invoice_number)
    WHERE invoice_number IS NOT NULL;
CREATE INDEX IF NOT EXISTS invoices_by_due_date ON invoices (shop_id, status, due_date);
