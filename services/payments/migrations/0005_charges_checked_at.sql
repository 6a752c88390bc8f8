-- When StripeCheck last asked Stripe about a charge it has not settled: the pass asks those asked
-- longest ago (or never) first, so charges that never settle (a card left at 3-D Secure) cannot
-- keep the others from their turn.
ALTER TABLE charges ADD COLUMN IF NOT EXISTS checked_at TIMESTAMPTZ;
CREATE INDEX IF NOT EXISTS charges_unsettled ON charges (checked_at NULLS FIRST, created_at)
    WHERE status IN ('created', 'processing');
