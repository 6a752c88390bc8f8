-- What notifications sends, one row per message (the key makes a redelivered event a no-op),
-- and its copy of each InvoiceSent (for the email's PDF).
CREATE TABLE IF NOT EXISTS sent_invoices (
    invoice_id  TEXT PRIMARY KEY,
    shop_id     TEXT NOT NULL,
    event       JSONB NOT NULL
);

CREATE TABLE IF NOT EXISTS messages (
    message_id    TEXT PRIMARY KEY,
    invoice_id    TEXT NOT NULL REFERENCES sent_invoices (invoice_id),
    shop_id       TEXT NOT NULL,
    kind          TEXT NOT NULL,
    channel       TEXT NOT NULL CHECK (channel IN ('sms', 'email')),
    recipient     TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'unknown')),
    provider_id   TEXT,
    error         TEXT,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    sent_at       TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS messages_to_send ON messages (created_at) WHERE status = 'pending';
