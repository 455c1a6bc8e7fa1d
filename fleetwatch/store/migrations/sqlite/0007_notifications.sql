-- Notifications: an outbox filled by triggers on events (so a notification is written in the
-- same statement, hence the same commit, as the event that causes it, whoever writes it),
-- channels and rules, the problems being followed (incidents), the deliveries to send and
-- every attempt to send them. manage-notifications joins the admin group.

CREATE TABLE notify_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id INTEGER NOT NULL,  -- no foreign key: an event cleared meanwhile is still notified
    system_id INTEGER NOT NULL,
    transition TEXT NOT NULL,   -- open, change, end, or instant (inserted already ended)
    created_at REAL NOT NULL,
    state TEXT NOT NULL,
    previous_state TEXT,
    type TEXT NOT NULL,
    description TEXT NOT NULL,
    value_max REAL NOT NULL,
    begin_at REAL NOT NULL,
    end_at REAL NOT NULL,
    data TEXT NOT NULL,
    dispatched INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX notify_outbox_pending ON notify_outbox (id) WHERE dispatched = 0;

CREATE TRIGGER events_notify_insert AFTER INSERT ON events BEGIN
    INSERT INTO notify_outbox (event_id, system_id, transition, created_at, state, type,
        description, value_max, begin_at, end_at, data)
    VALUES (NEW.id, NEW.system_id, CASE WHEN NEW.end_at >= 0 THEN 'instant' ELSE 'open' END,
        (julianday('now') - 2440587.5) * 86400.0, NEW.state, NEW.type, NEW.description,
        NEW.value_max, NEW.begin_at, NEW.end_at, NEW.data);
END;

CREATE TRIGGER events_notify_update AFTER UPDATE ON events
WHEN NEW.state IS NOT OLD.state OR (OLD.end_at < 0 AND NEW.end_at >= 0) BEGIN
    INSERT INTO notify_outbox (event_id, system_id, transition, created_at, state,
        previous_state, type, description, value_max, begin_at, end_at, data)
    VALUES (NEW.id, NEW.system_id,
        CASE WHEN OLD.end_at < 0 AND NEW.end_at >= 0 THEN 'end' ELSE 'change' END,
        (julianday('now') - 2440587.5) * 86400.0, NEW.state, OLD.state, NEW.type, NEW.description,
        NEW.value_max, NEW.begin_at, NEW.end_at, NEW.data);
END;

CREATE TABLE notify_channels (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    url TEXT NOT NULL,            -- secret: never shown again, see notify/secrets.py
    secret TEXT NOT NULL DEFAULT '',  -- the webhook's signing key
    origin TEXT NOT NULL DEFAULT 'api',  -- api (CLI and API) or config (the TOML file)
    created_at REAL NOT NULL
);

CREATE TABLE notify_rules (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    spec TEXT NOT NULL,           -- the rule as JSON (notify/rules.py)
    origin TEXT NOT NULL DEFAULT 'api',
    created_at REAL NOT NULL
);

-- A problem followed from its start to its end: an open event, or a host or service in a
-- hard problem state. progress holds, per rule, what was sent (first, repeats, escalation).
CREATE TABLE notify_incidents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    subject TEXT NOT NULL,
    opened_at REAL NOT NULL,
    ended_at REAL,
    acknowledged INTEGER NOT NULL DEFAULT 0,
    event TEXT NOT NULL,          -- the latest event fields, for repeats and escalations
    progress TEXT NOT NULL DEFAULT '{}'
);

CREATE UNIQUE INDEX notify_incidents_open ON notify_incidents (subject) WHERE ended_at IS NULL;

CREATE TABLE notify_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT NOT NULL UNIQUE,
    channel_id INTEGER NOT NULL REFERENCES notify_channels (id) ON DELETE CASCADE,
    rule_name TEXT NOT NULL,
    phase TEXT NOT NULL,
    created_at REAL NOT NULL,
    due_at REAL NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',  -- pending, sending, sent, failed
    attempts INTEGER NOT NULL DEFAULT 0,
    claimed_by TEXT NOT NULL DEFAULT '',
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    payload TEXT NOT NULL,
    last_error TEXT NOT NULL DEFAULT '',
    finished_at REAL
);

CREATE INDEX notify_deliveries_due ON notify_deliveries (due_at) WHERE status IN ('pending', 'sending');
CREATE INDEX notify_deliveries_created ON notify_deliveries (created_at);
CREATE INDEX notify_deliveries_claimed ON notify_deliveries (claimed_by) WHERE status = 'sending';

-- The dispatcher reads which objects are in a downtime once a cycle, not per event.
CREATE INDEX check_objects_in_downtime ON check_objects (id) WHERE downtime_depth > 0;

CREATE TABLE notify_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id INTEGER NOT NULL REFERENCES notify_deliveries (id) ON DELETE CASCADE,
    at REAL NOT NULL,
    outcome TEXT NOT NULL,        -- sent or error
    status_code INTEGER,
    detail TEXT NOT NULL DEFAULT '',
    seconds REAL NOT NULL
);

CREATE INDEX notify_attempts_delivery ON notify_attempts (delivery_id);

INSERT INTO group_permissions (group_id, permission)
SELECT id, 'manage-notifications' FROM groups WHERE name = 'admin';
