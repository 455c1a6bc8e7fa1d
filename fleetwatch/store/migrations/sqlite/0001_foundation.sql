-- Systems, their snapshots and their events. Times are epoch seconds (REAL); JSON columns are
-- TEXT holding JSON so that JSON1 can query them. AUTOINCREMENT keeps ids from ever being
-- reused after a delete: a removed system's token must never resolve to a newer system.

CREATE TABLE systems (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    hostname TEXT,
    source TEXT NOT NULL,
    created_at REAL NOT NULL,
    last_seen REAL
);

CREATE TABLE snapshots (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    system_id INTEGER NOT NULL REFERENCES systems (id) ON DELETE CASCADE,
    created_at REAL NOT NULL,
    source TEXT NOT NULL,
    document TEXT NOT NULL,
    normalized TEXT NOT NULL
);

CREATE INDEX snapshots_system_created ON snapshots (system_id, created_at);

-- begin/end/desc/sort are SQL keywords, hence begin_at, end_at, description, sort_key.
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    system_id INTEGER NOT NULL REFERENCES systems (id) ON DELETE CASCADE,
    begin_at REAL NOT NULL,
    end_at REAL NOT NULL DEFAULT -1,
    state TEXT NOT NULL,
    type TEXT NOT NULL,
    value_max REAL NOT NULL,
    value_avg REAL NOT NULL,
    value_min REAL NOT NULL,
    value_sum REAL NOT NULL,
    count INTEGER NOT NULL,
    top TEXT NOT NULL DEFAULT '[]',
    description TEXT NOT NULL DEFAULT '',
    sort_key TEXT NOT NULL DEFAULT '',
    global_msg TEXT NOT NULL DEFAULT '',
    data TEXT NOT NULL DEFAULT '{}'
);

CREATE INDEX events_system_begin ON events (system_id, begin_at);
