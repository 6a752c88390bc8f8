-- Payment attempts (one PaymentIntent each), refunds, Stripe customers, Stripe events seen.
CREATE TABLE IF NOT EXISTS charges (
    charge_id       TEXT PRIMARY KEY,
    invoice_id      TEXT NOT NULL REFERENCES payable_invoices (invoice_id),
    shop_id         TEXT NOT NULL,
    amount_cents    BIGINT NOT NULL CHECK (amount_cents > 0),
    method          TEXT NOT NULL CHECK (method IN ('card', 'ach')),
    status          TEXT NOT NULL CHECK (status IN ('created', 'processing', 'succeeded', 'failed')),
    intent_id       TEXT UNIQUE,
    refunded_cents  BIGINT NOT NULL DEFAULT 0 CHECK (refunded_cents >= 0),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    CHECK (refunded_cents <= amount_cents)
);
CREATE INDEX IF NOT EXISTS charges_by_invoice ON charges (invoice_id, created_at);

CREATE TABLE IF NOT EXISTS refunds (
    refund_id       TEXT PRIMARY KEY,
    charge_id       TEXT NOT NULL REFERENCES charges (charge_id),
    amount_cents    BIGINT NOT NULL CHECK (amount_cents > 0),
    reason          TEXT NOT NULL DEFAULT '',
    refunded_by     TEXT NOT NULL,
    stripe_refund_id TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE IF NOT EXISTS stripe_customers (
    shop_id             TEXT NOT NULL,
    customer_id         TEXT NOT NULL,
    stripe_customer_id  TEXT NOT NULL,
    PRIMARY KEY (shop_id, customer_id)
);

CREATE TABLE IF NOT EXISTS stripe_events (
    event_id     TEXT PRIMARY KEY,
    event_type   TEXT NOT NULL,
    received_at  TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
