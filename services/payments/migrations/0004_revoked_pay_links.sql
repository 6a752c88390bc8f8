-- Pay links staff revoked (PayLinkReplaced), by the SHA-256 of the token (never the token): the old
-- link answers "no longer valid" (410) instead of "not found", and no payment starts from it.
CREATE TABLE IF NOT EXISTS revoked_pay_links (
    token_sha256  TEXT PRIMARY KEY,
    invoice_id    TEXT NOT NULL,
    shop_id       TEXT NOT NULL,
    revoked_at    TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
