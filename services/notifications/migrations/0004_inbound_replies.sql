-- SMS replies acted on (STOP / START), by Twilio's MessageSid: a replayed signed webhook (Twilio's
-- signature has no timestamp) is answered but changes nothing, so an old STOP cannot undo a START.
CREATE TABLE IF NOT EXISTS inbound_replies (
    reply_id     TEXT PRIMARY KEY,
    received_at  TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
