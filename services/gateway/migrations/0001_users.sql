-- Staff users of the web app. An email signs in to one shop (unique across shops); the password
-- is stored only as an argon2id hash.
CREATE TABLE IF NOT EXISTS users (
    user_id        TEXT PRIMARY KEY,
    shop_id        TEXT NOT NULL,
    email          TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('owner', 'office', 'technician')),
    password_hash  TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS users_of_shop ON users (shop_id);
