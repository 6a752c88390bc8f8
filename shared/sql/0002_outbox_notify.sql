-- Wake the relay when events to publish land. Delivered at commit; PostgreSQL folds identical
-- notifications of one transaction into one.
CREATE OR REPLACE FUNCTION notify_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('outbox', '');
    RETURN NULL;
END;
$$;
DROP TRIGGER IF EXISTS events_notify_outbox ON events;
CREATE TRIGGER events_notify_outbox AFTER INSERT ON events
    FOR EACH ROW WHEN (NEW.topic IS NOT NULL) EXECUTE FUNCTION notify_outbox();
