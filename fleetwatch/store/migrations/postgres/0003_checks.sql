-- Passive checks: hosts and services (one table, kind 'host' or 'service'; a host's
-- service_description is ''), their current state inline, every result, perfdata values as a
-- time series, acknowledgements and downtimes. Booleans are 0/1 integers on both backends.
-- fresh_due_at is when the freshness scheduler must mark the object stale (NULL: never); the
-- scheduler reads it through its index, never by a scan. Downtimes' next_at is likewise the
-- next start or end the scheduler must act on. version counts the changes of an object's row:
-- a state is saved only over the version it was computed from (optimistic concurrency), and
-- saved_by marks that save, so its result rows are written only if it was the one that won.

CREATE TABLE check_objects (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind text NOT NULL,
    host_id bigint REFERENCES check_objects (id) ON DELETE CASCADE,
    host_name text NOT NULL,
    service_description text NOT NULL DEFAULT '',
    check_freshness integer NOT NULL DEFAULT 0,
    freshness_threshold double precision NOT NULL DEFAULT 0,
    max_check_attempts integer NOT NULL DEFAULT 1,
    stale_state integer NOT NULL DEFAULT 2,
    stale_output text NOT NULL DEFAULT '',
    passive_checks_enabled integer NOT NULL DEFAULT 1,
    notes text NOT NULL DEFAULT '',
    created_at double precision NOT NULL,
    state integer NOT NULL DEFAULT 0,
    state_type text NOT NULL DEFAULT 'HARD',
    attempt integer NOT NULL DEFAULT 1,
    output text NOT NULL DEFAULT '',
    long_output text NOT NULL DEFAULT '',
    perfdata text NOT NULL DEFAULT '',
    has_been_checked integer NOT NULL DEFAULT 0,
    last_check double precision,
    last_state_change double precision NOT NULL DEFAULT 0,
    last_hard_state integer NOT NULL DEFAULT 0,
    last_hard_state_change double precision NOT NULL DEFAULT 0,
    acknowledged integer NOT NULL DEFAULT 0,
    ack_sticky integer NOT NULL DEFAULT 0,
    downtime_depth integer NOT NULL DEFAULT 0,
    is_stale integer NOT NULL DEFAULT 0,
    ttl double precision,
    fresh_due_at double precision,
    version integer NOT NULL DEFAULT 0,
    saved_by text NOT NULL DEFAULT '',
    UNIQUE (host_name, service_description)
);

CREATE INDEX check_objects_fresh_due ON check_objects (fresh_due_at) WHERE fresh_due_at IS NOT NULL;
CREATE INDEX check_objects_host ON check_objects (host_id);

CREATE TABLE check_results (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    object_id bigint NOT NULL REFERENCES check_objects (id) ON DELETE CASCADE,
    checked_at double precision NOT NULL,
    state integer NOT NULL,
    state_type text NOT NULL,
    attempt integer NOT NULL,
    output text NOT NULL,
    long_output text NOT NULL,
    perfdata text NOT NULL,
    source text NOT NULL,
    ttl double precision
);

CREATE INDEX check_results_object_at ON check_results (object_id, checked_at);

CREATE TABLE perf_values (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    object_id bigint NOT NULL REFERENCES check_objects (id) ON DELETE CASCADE,
    at double precision NOT NULL,
    label text NOT NULL,
    value double precision,
    uom text NOT NULL DEFAULT '',
    warn text NOT NULL DEFAULT '',
    crit text NOT NULL DEFAULT '',
    min_value double precision,
    max_value double precision
);

CREATE INDEX perf_values_object_label_at ON perf_values (object_id, label, at);

CREATE TABLE acknowledgements (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    object_id bigint NOT NULL REFERENCES check_objects (id) ON DELETE CASCADE,
    author text NOT NULL,
    comment text NOT NULL DEFAULT '',
    sticky integer NOT NULL DEFAULT 0,
    notify integer NOT NULL DEFAULT 0,
    persistent integer NOT NULL DEFAULT 0,
    created_at double precision NOT NULL,
    removed_at double precision
);

CREATE INDEX acknowledgements_object ON acknowledgements (object_id, removed_at);

CREATE TABLE downtimes (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    object_id bigint NOT NULL REFERENCES check_objects (id) ON DELETE CASCADE,
    author text NOT NULL,
    comment text NOT NULL DEFAULT '',
    start_time double precision NOT NULL,
    end_time double precision NOT NULL,
    fixed integer NOT NULL DEFAULT 1,
    duration double precision NOT NULL DEFAULT 0,
    created_at double precision NOT NULL,
    started_at double precision,
    ended_at double precision,
    next_at double precision
);

CREATE INDEX downtimes_next ON downtimes (next_at) WHERE next_at IS NOT NULL;
CREATE INDEX downtimes_object ON downtimes (object_id);
