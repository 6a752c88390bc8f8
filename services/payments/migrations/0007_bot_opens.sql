-- Fetches of a pay link by link unfurlers, mail scanners, Office's existence checks and HTTP
-- libraries: recorded as opens by a bot, never as Viewed.
ALTER TABLE payable_invoices ADD COLUMN IF NOT EXISTS bot_opens INTEGER NOT NULL DEFAULT 0;
