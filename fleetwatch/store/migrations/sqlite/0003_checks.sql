-- Passive checks: hosts and services (one table, kind 'host' or 'service'; a host's
-- service_description is ''), their current state inline, every result, perfdata values as a
-- time series, acknowledgements and downtimes. Booleans are 0/1 integers on both backends.
-- fresh_due_at is when the freshness scheduler must mark the object stale (NULL: never); the
-- scheduler reads it through its index, never by a scan. Downtimes' next_at is likewise the
-- next start or end the scheduler must act on. version counts the changes of an object's row:
-- a state is saved only over the version it was computed from (optimistic concurrency), and
-- saved_by marks that save, so its result rows are written only if it was the one that won.

CREATE TABLE check_objects (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    host_id INTEGER REFERENCES check_objects (id) ON DELETE CASCADE,
    host_name TEXT NOT NULL,
    service_description TEXT NOT NULL DEFAULT '',
    check_freshness INTEGER NOT NULL DEFAULT 0,
    freshness_threshold REAL NOT NULL DEFAULT 0,
    max_check_attempts INTEGER NOT NULL DEFAULT 1,
    stale_state INTEGER NOT NULL DEFAULT 2,
    stale_output TEXT NOT NULL DEFAULT '',
    passive_checks_enabled INTEGER NOT NULL DEFAULT 1,
    notes TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    state INTEGER NOT NULL DEFAULT 0,
    state_type TEXT NOT NULL DEFAULT 'HARD',
    attempt INTEGER NOT NULL DEFAULT 1,
    output TEXT NOT NULL DEFAULT '',
    long_output TEXT NOT NULL DEFAULT '',
    perfdata TEXT NOT NULL DEFAULT '',
    has_been_checked INTEGER NOT NULL DEFAULT 0,
    last_check REAL,
    last_state_change REAL NOT NULL DEFAULT 0,
    last_hard_state INTEGER NOT NULL DEFAULT 0,
    last_hard_state_change REAL NOT NULL DEFAULT 0,
    acknowledged INTEGER NOT NULL DEFAULT 0,
    ack_sticky INTEGER NOT NULL DEFAULT 0,
    downtime_depth INTEGER NOT NULL DEFAULT 0,
    is_stale INTEGER NOT NULL DEFAULT 0,
    ttl REAL,
    fresh_due_at REAL,
    version INTEGER NOT NULL DEFAULT 0,
    saved_by TEXT NOT NULL DEFAULT '',
    UNIQUE (host_name, service_description)
);

CREATE INDEX check_objects_fresh_due ON check_objects (fresh_due_at) WHERE fresh_due_at IS NOT NULL;
CREATE INDEX check_objects_host ON check_objects (host_id);

CREATE TABLE check_results (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    object_id INTEGER NOT NULL REFERENCES check_objects (id) ON DELETE CASCADE,
    checked_at REAL NOT NULL,
    state INTEGER NOT NULL,
    state_type TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    output TEXT NOT NULL,
    long_output TEXT NOT NULL,
    perfdata TEXT NOT NULL,
    source TEXT NOT NULL,
    ttl REAL
);

CREATE INDEX check_results_object_at ON check_results (object_id, checked_at);

CREATE TABLE perf_values (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    object_id INTEGER NOT NULL REFERENCES check_objects (id) ON DELETE CASCADE,
    at REAL NOT NULL,
    label TEXT NOT NULL,
    value REAL,
    uom TEXT NOT NULL DEFAULT '',
    warn TEXT NOT NULL DEFAULT '',
    crit TEXT NOT NULL DEFAULT '',
    min_value REAL,
    max_value REAL
);

CREATE INDEX perf_values_object_label_at ON perf_values (object_id, label, at);

CREATE TABLE acknowledgements (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    object_id INTEGER NOT NULL REFERENCES check_objects (id) ON DELETE CASCADE,
    author TEXT NOT NULL,
    comment TEXT NOT NULL DEFAULT '',
    sticky INTEGER NOT NULL DEFAULT 0,
    notify INTEGER NOT NULL DEFAULT 0,
    persistent INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    removed_at REAL
);

CREATE INDEX acknowledgements_object ON acknowledgements (object_id, removed_at);

CREATE TABLE downtimes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    object_id INTEGER NOT NULL REFERENCES check_objects (id) ON DELETE CASCADE,
    author TEXT NOT NULL,
    comment TEXT NOT NULL DEFAULT '',
    start_time REAL NOT NULL,
    end_time REAL NOT NULL,
    fixed INTEGER NOT NULL DEFAULT 1,
    duration REAL NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    started_at REAL,
    ended_at REAL,
    next_at REAL
);

CREATE INDEX downtimes_next ON downtimes (next_at) WHERE next_at IS NOT NULL;
CREATE INDEX downtimes_object ON downtimes (object_id);
