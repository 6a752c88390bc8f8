-- Payments' own copy of each invoice a customer can pay (from InvoiceSent, corrections, voids).
CREATE TABLE IF NOT EXISTS payable_invoices (
    invoice_id       TEXT PRIMARY KEY,
    shop_id          TEXT NOT NULL,
    pay_token        TEXT UNIQUE,
    copy             JSONB NOT NULL,
    opens            INTEGER NOT NULL DEFAULT 0,
    first_viewed_at  TIMESTAMPTZ,
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
