-- Invoices on which money is kept that nothing is owed for (a payment that landed on a void
-- invoice, or beyond the balance), queued in the transaction that learnt it and given back by
-- the payments worker (each invoice in isolation, by Stripe refunds with idempotency keys).
CREATE TABLE IF NOT EXISTS give_backs (
    invoice_id  TEXT PRIMARY KEY,
    shop_id     TEXT NOT NULL,
    queued_at   TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
