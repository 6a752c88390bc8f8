-- A technician's jobs are the jobs that name them, so two users of a shop never share a name
-- (any case): a second "Luis Ortega" would see the first one's jobs.
CREATE UNIQUE INDEX IF NOT EXISTS users_name_in_shop ON users (shop_id, lower(name));
