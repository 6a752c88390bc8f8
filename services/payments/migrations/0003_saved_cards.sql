-- Cards a customer chose to save on the pay page ("for future jobs"): Stripe keeps the card,
-- we keep which PaymentMethod it is and how to show it.
CREATE TABLE IF NOT EXISTS saved_cards (
    shop_id         TEXT NOT NULL,
    customer_id     TEXT NOT NULL,
    payment_method  TEXT NOT NULL,
    brand           TEXT NOT NULL,
    last4           TEXT NOT NULL,
    saved_at        TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (shop_id, customer_id, payment_method)
);
