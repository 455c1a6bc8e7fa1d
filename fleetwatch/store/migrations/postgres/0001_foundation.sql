-- Systems, their snapshots and their events. Times are epoch seconds (double precision);
-- JSON columns are jsonb so that queries can filter and index inside documents.

CREATE TABLE systems (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL UNIQUE,
    hostname text,
    source text NOT NULL,
    created_at double precision NOT NULL,
    last_seen double precision
);

CREATE TABLE snapshots (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    system_id bigint NOT NULL REFERENCES systems (id) ON DELETE CASCADE,
    created_at double precision NOT NULL,
    source text NOT NULL,
    document jsonb NOT NULL,
    normalized jsonb NOT NULL
);

CREATE INDEX snapshots_system_created ON snapshots (system_id, created_at);

-- begin/end/desc/sort are SQL keywords, hence begin_at, end_at, description, sort_key.
CREATE TABLE events (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    system_id bigint NOT NULL REFERENCES systems (id) ON DELETE CASCADE,
    begin_at double precision NOT NULL,
    end_at double precision NOT NULL DEFAULT -1,
    state text NOT NULL,
    type text NOT NULL,
    value_max double precision NOT NULL,
    value_avg double precision NOT NULL,
    value_min double precision NOT NULL,
    value_sum double precision NOT NULL,
    count bigint NOT NULL,
    top jsonb NOT NULL DEFAULT '[]',
    description text NOT NULL DEFAULT '',
    sort_key text NOT NULL DEFAULT '',
    global_msg text NOT NULL DEFAULT '',
    data jsonb NOT NULL DEFAULT '{}'
);

CREATE INDEX events_system_begin ON events (system_id, begin_at);
