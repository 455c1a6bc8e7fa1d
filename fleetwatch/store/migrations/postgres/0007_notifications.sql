-- Notifications: an outbox filled by triggers on events (so a notification is written in the
-- same statement, hence the same commit, as the event that causes it, whoever writes it),
-- channels and rules, the problems being followed (incidents), the deliveries to send and
-- every attempt to send them. manage-notifications joins the admin group.

CREATE TABLE notify_outbox (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id bigint NOT NULL,  -- no foreign key: an event cleared meanwhile is still notified
    system_id bigint NOT NULL,
    transition text NOT NULL,  -- open, change, end, or instant (inserted already ended)
    created_at double precision NOT NULL,
    state text NOT NULL,
    previous_state text,
    type text NOT NULL,
    description text NOT NULL,
    value_max double precision NOT NULL,
    begin_at double precision NOT NULL,
    end_at double precision NOT NULL,
    data jsonb NOT NULL,
    dispatched integer NOT NULL DEFAULT 0
);

CREATE INDEX notify_outbox_pending ON notify_outbox (id) WHERE dispatched = 0;

CREATE FUNCTION notify_outbox_from_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO notify_outbox (event_id, system_id, transition, created_at, state,
        previous_state, type, description, value_max, begin_at, end_at, data)
    VALUES (NEW.id, NEW.system_id,
        CASE WHEN TG_OP = 'INSERT' AND NEW.end_at >= 0 THEN 'instant'
             WHEN TG_OP = 'INSERT' THEN 'open'
             WHEN OLD.end_at < 0 AND NEW.end_at >= 0 THEN 'end'
             ELSE 'change' END,
        extract(epoch FROM clock_timestamp())::double precision, NEW.state,
        CASE WHEN TG_OP = 'UPDATE' THEN OLD.state END, NEW.type, NEW.description,
        NEW.value_max, NEW.begin_at, NEW.end_at, NEW.data);
    RETURN NULL;
END
$$;

CREATE TRIGGER events_notify_insert AFTER INSERT ON events
FOR EACH ROW EXECUTE FUNCTION notify_outbox_from_event();

CREATE TRIGGER events_notify_update AFTER UPDATE ON events
FOR EACH ROW WHEN (NEW.state IS DISTINCT FROM OLD.state OR (OLD.end_at < 0 AND NEW.end_at >= 0))
EXECUTE FUNCTION notify_outbox_from_event();

CREATE TABLE notify_channels (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL UNIQUE,
    url text NOT NULL,
    secret text NOT NULL DEFAULT '',
    origin text NOT NULL DEFAULT 'api',
    created_at double precision NOT NULL
);

CREATE TABLE notify_rules (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL UNIQUE,
    spec text NOT NULL,
    origin text NOT NULL DEFAULT 'api',
    created_at double precision NOT NULL
);

CREATE TABLE notify_incidents (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subject text NOT NULL,
    opened_at double precision NOT NULL,
    ended_at double precision,
    acknowledged integer NOT NULL DEFAULT 0,
    event text NOT NULL,
    progress text NOT NULL DEFAULT '{}'
);

CREATE UNIQUE INDEX notify_incidents_open ON notify_incidents (subject) WHERE ended_at IS NULL;

CREATE TABLE notify_deliveries (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    idempotency_key text NOT NULL UNIQUE,
    channel_id bigint NOT NULL REFERENCES notify_channels (id) ON DELETE CASCADE,
    rule_name text NOT NULL,
    phase text NOT NULL,
    created_at double precision NOT NULL,
    due_at double precision NOT NULL,
    status text NOT NULL DEFAULT 'pending',
    attempts integer NOT NULL DEFAULT 0,
    claimed_by text NOT NULL DEFAULT '',
    title text NOT NULL,
    body text NOT NULL,
    payload text NOT NULL,
    last_error text NOT NULL DEFAULT '',
    finished_at double precision
);

CREATE INDEX notify_deliveries_due ON notify_deliveries (due_at) WHERE status IN ('pending', 'sending');
CREATE INDEX notify_deliveries_created ON notify_deliveries (created_at);
CREATE INDEX notify_deliveries_claimed ON notify_deliveries (claimed_by) WHERE status = 'sending';

-- The dispatcher reads which objects are in a downtime once a cycle, not per event.
CREATE INDEX check_objects_in_downtime ON check_objects (id) WHERE downtime_depth > 0;

CREATE TABLE notify_attempts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id bigint NOT NULL REFERENCES notify_deliveries (id) ON DELETE CASCADE,
    at double precision NOT NULL,
    outcome text NOT NULL,
    status_code integer,
    detail text NOT NULL DEFAULT '',
    seconds double precision NOT NULL
);

CREATE INDEX notify_attempts_delivery ON notify_attempts (delivery_id);

INSERT INTO group_permissions (group_id, permission)
SELECT id, 'manage-notifications' FROM groups WHERE name = 'admin';
