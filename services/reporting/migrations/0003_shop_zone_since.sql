-- A shop's time zone is the one on its most recently sent invoice (not the last one processed:
-- a late event about an old invoice must not bring back an old zone).
ALTER TABLE ar_shops ADD COLUMN IF NOT EXISTS zone_since TIMESTAMPTZ;
ALTER TABLE ar_rebuild_names ADD COLUMN IF NOT EXISTS zone_since TIMESTAMPTZ;
