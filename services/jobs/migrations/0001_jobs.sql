CREATE TABLE IF NOT EXISTS customers (
    customer_id        TEXT PRIMARY KEY,
    shop_id            TEXT NOT NULL,
    name               TEXT NOT NULL,
    email              TEXT,
    phone              TEXT,
    billing_address    JSONB NOT NULL,
    payment_terms_days INTEGER NOT NULL CHECK (payment_terms_days >= 0),
    tax_exempt         BOOLEAN NOT NULL DEFAULT false,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS customers_by_shop ON customers (shop_id, name);

CREATE TABLE IF NOT EXISTS jobs (
    job_id           TEXT PRIMARY KEY,
    shop_id          TEXT NOT NULL,
    customer_id      TEXT NOT NULL REFERENCES customers (customer_id),
    service_address  JSONB NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('open', 'closed')),
    closed_at        TIMESTAMPTZ,
    version          INTEGER NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS jobs_by_shop ON jobs (shop_id, created_at);

CREATE TABLE IF NOT EXISTS job_line_items (
    job_id            TEXT NOT NULL REFERENCES jobs (job_id),
    line_id           TEXT NOT NULL,
    position          INTEGER NOT NULL,
    description       TEXT NOT NULL,
    quantity          NUMERIC(12, 3) NOT NULL CHECK (quantity > 0),
    unit_price_cents  BIGINT NOT NULL CHECK (unit_price_cents >= 0),
    taxable           BOOLEAN NOT NULL,
    tax_rate_percent  NUMERIC(7, 4) NOT NULL,
    PRIMARY KEY (job_id, line_id)
);

CREATE TABLE IF NOT EXISTS job_labor (
    job_id             TEXT NOT NULL REFERENCES jobs (job_id),
    entry_id           TEXT NOT NULL,
    position           INTEGER NOT NULL,
    technician         TEXT NOT NULL,
    hours              NUMERIC(8, 2) NOT NULL CHECK (hours > 0),
    hourly_rate_cents  BIGINT NOT NULL CHECK (hourly_rate_cents >= 0),
    taxable            BOOLEAN NOT NULL,
    tax_rate_percent   NUMERIC(7, 4) NOT NULL,
    PRIMARY KEY (job_id, entry_id)
);
