-- Sessions end when the user changes: a session names the user and the version it was signed in
-- with; a new role, a new password or leaving the shop moves the version on, and every earlier
-- session of that user stops working at its next request.
ALTER TABLE users ADD COLUMN IF NOT EXISTS session_version INTEGER NOT NULL DEFAULT 1;
