-- Messages are written when queued (the words on record, the same words on a retry); claimed_at
-- lets a restarted sender find messages a crash left half-sent; outcome is the delivery report.
ALTER TABLE messages ADD COLUMN IF NOT EXISTS subject TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN IF NOT EXISTS body TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN IF NOT EXISTS balance_cents BIGINT;
ALTER TABLE messages ADD COLUMN IF NOT EXISTS step TEXT;
ALTER TABLE messages ADD COLUMN IF NOT EXISTS claimed_at TIMESTAMPTZ;
ALTER TABLE messages ADD COLUMN IF NOT EXISTS outcome TEXT;
CREATE INDEX IF NOT EXISTS messages_being_sent ON messages (claimed_at) WHERE status = 'sending';
CREATE INDEX IF NOT EXISTS messages_of_invoice ON messages (invoice_id);
CREATE INDEX IF NOT EXISTS messages_by_provider_id ON messages (provider_id);

-- What happened to a sent invoice since, in any order: the latest correction, a void, payments.
CREATE TABLE IF NOT EXISTS corrections (
    invoice_id  TEXT PRIMARY KEY,
    shop_id     TEXT NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    event       JSONB NOT NULL
);
CREATE TABLE IF NOT EXISTS voided_invoices (
    invoice_id  TEXT PRIMARY KEY,
    shop_id     TEXT NOT NULL,
    voided_at   TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS invoice_payments (
    payment_id    TEXT PRIMARY KEY,
    invoice_id    TEXT NOT NULL,
    shop_id       TEXT NOT NULL,
    amount_cents  BIGINT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('clearing', 'received', 'failed')),
    rank          SMALLINT NOT NULL
);
CREATE INDEX IF NOT EXISTS invoice_payments_of_invoice ON invoice_payments (invoice_id);

-- Numbers that replied STOP (texts to them are not sent until they reply START).
CREATE TABLE IF NOT EXISTS opted_out (
    phone         TEXT PRIMARY KEY,
    opted_out_at  TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);

-- Settings → Automations, per shop (absent: the defaults).
CREATE TABLE IF NOT EXISTS automations (
    shop_id     TEXT PRIMARY KEY,
    settings    JSONB NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    updated_by  TEXT NOT NULL
);
