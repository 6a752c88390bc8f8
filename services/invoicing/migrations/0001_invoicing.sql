-- Projection of the invoice stream for the office's queue and lookups (the events table is the truth).
CREATE TABLE IF NOT EXISTS invoices (
    invoice_id     TEXT PRIMARY KEY,
    shop_id        TEXT NOT NULL,
    status         TEXT NOT NULL,
    source         TEXT NOT NULL,
    job_id         TEXT,
    customer_id    TEXT NOT NULL,
    customer_name  TEXT NOT NULL,
    currency       TEXT NOT NULL,
    total_cents    BIGINT NOT NULL,
    drafted_at     TIMESTAMPTZ NOT NULL,
    document       JSONB NOT NULL,
    version        INTEGER NOT NULL,
    projected_at   TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS invoices_queue ON invoices (shop_id, status, drafted_at, invoice_id);
CREATE UNIQUE INDEX IF NOT EXISTS invoices_one_per_job ON invoices (shop_id, job_id)
    WHERE job_id IS NOT NULL;
