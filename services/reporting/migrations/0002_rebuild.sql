-- Scratch space of the rebuild command (services/reporting/entrypoints/rebuild.py): each of its
-- worker processes writes its partial sums and customer names here; the command then adds them
-- up into ar_changes, ar_due, ar_customer_due and ar_customers and empties these.
CREATE UNLOGGED TABLE IF NOT EXISTS ar_rebuild_sums (
    kind         SMALLINT NOT NULL,  -- 0: per due date and day, 1: per due date, 2: per customer
    shop_id      TEXT NOT NULL,
    customer_id  TEXT NOT NULL,
    due_date     DATE NOT NULL,
    day          DATE,
    cents        BIGINT NOT NULL,
    count        INTEGER NOT NULL
);
CREATE UNLOGGED TABLE IF NOT EXISTS ar_rebuild_names (
    shop_id      TEXT NOT NULL,
    customer_id  TEXT NOT NULL,
    name         TEXT NOT NULL,
    time_zone    TEXT NOT NULL
);
