-- The shop's largest invoice: above it an amount is a typo, not a job ($1,000,000 by default).
ALTER TABLE shop_settings ADD COLUMN IF NOT EXISTS max_invoice_cents BIGINT NOT NULL
    DEFAULT 100000000 CHECK (max_invoice_cents > 0);
