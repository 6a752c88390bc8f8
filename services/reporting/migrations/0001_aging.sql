-- The AR aging read model, fed only by events. Each invoice's facts (with their own times) are
-- kept; from them, what the invoice adds to its shop's sums on each day its state changed
-- (ar_contributions: its old due date / balance leave, its new one arrives). Summing those up to
-- a day D, by due date, is what was owed on D and how long past due: ar_changes holds the sums per
-- shop, due date and day (for any past day), ar_due and ar_customer_due the sums so far (today).
CREATE TABLE IF NOT EXISTS ar_invoices (
    invoice_id     TEXT PRIMARY KEY,
    shop_id        TEXT NOT NULL,
    number         TEXT NOT NULL DEFAULT '',
    customer_id    TEXT NOT NULL DEFAULT '',
    facts          JSONB NOT NULL
);

CREATE TABLE IF NOT EXISTS ar_contributions (
    invoice_id   TEXT NOT NULL,
    shop_id      TEXT NOT NULL,
    customer_id  TEXT NOT NULL,
    due_date     DATE NOT NULL,
    day          DATE NOT NULL,
    cents        BIGINT NOT NULL,
    count        INTEGER NOT NULL,
    PRIMARY KEY (invoice_id, customer_id, due_date, day)
);
CREATE INDEX IF NOT EXISTS ar_contributions_by_due ON ar_contributions (shop_id, due_date);
CREATE INDEX IF NOT EXISTS ar_contributions_by_customer ON ar_contributions (shop_id, customer_id);

CREATE TABLE IF NOT EXISTS ar_changes (
    shop_id   TEXT NOT NULL,
    due_date  DATE NOT NULL,
    day       DATE NOT NULL,
    cents     BIGINT NOT NULL,
    count     INTEGER NOT NULL,
    PRIMARY KEY (shop_id, due_date, day)
);

CREATE TABLE IF NOT EXISTS ar_due (
    shop_id   TEXT NOT NULL,
    due_date  DATE NOT NULL,
    cents     BIGINT NOT NULL,
    count     INTEGER NOT NULL,
    PRIMARY KEY (shop_id, due_date)
);

CREATE TABLE IF NOT EXISTS ar_customer_due (
    shop_id      TEXT NOT NULL,
    customer_id  TEXT NOT NULL,
    due_date     DATE NOT NULL,
    cents        BIGINT NOT NULL,
    count        INTEGER NOT NULL,
    PRIMARY KEY (shop_id, customer_id, due_date)
);

CREATE TABLE IF NOT EXISTS ar_customers (
    shop_id      TEXT NOT NULL,
    customer_id  TEXT NOT NULL,
    name         TEXT NOT NULL,
    PRIMARY KEY (shop_id, customer_id)
);

-- Per shop: its time zone (from its invoices) and its bucket edges (Settings).
CREATE TABLE IF NOT EXISTS ar_shops (
    shop_id    TEXT PRIMARY KEY,
    time_zone  TEXT NOT NULL DEFAULT 'America/Los_Angeles',
    edges      INTEGER[] NOT NULL DEFAULT '{30,60,90}'
);
