-- Several hubs on one database (issue 18, part 3): what decides events lives here, not in one
-- hub's memory. SQLite keeps one hub per file, but runs the same code.

-- Each pushing system's rhythm and staleness. ``due_at`` is when the staleness job must look
-- at the row again: never later than the end of its window (a push sets last_seen + the
-- configured minimum, a lower bound of any window), at once when a stale system pushed again
-- (``returned_at``), and far away (1e18) while it stays stale. One indexed look-up of the rows
-- due is the whole idle tick, whatever the fleet's size. ``intervals``: the last 20 seconds
-- between submissions (JSON), NULL until read from the snapshots (rows made below).
CREATE TABLE system_rhythms (
    system_id INTEGER PRIMARY KEY REFERENCES systems (id) ON DELETE CASCADE,
    last_seen REAL NOT NULL,
    intervals TEXT DEFAULT '[]',
    due_at REAL NOT NULL,
    stale_event_id INTEGER,
    stale_since REAL,
    returned_at REAL
);

CREATE INDEX system_rhythms_due ON system_rhythms (due_at);
CREATE INDEX system_rhythms_stale ON system_rhythms (system_id) WHERE stale_since IS NOT NULL;

-- Counters every hub reads each second: 'stale' moves whenever a system goes stale or back.
CREATE TABLE hub_counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);

INSERT INTO hub_counters (name, value) VALUES ('stale', 0);

-- A stale system removed is one fewer stale: every hub reads the set again.
CREATE TRIGGER system_rhythms_stale_removed AFTER DELETE ON system_rhythms
WHEN OLD.stale_since IS NOT NULL
BEGIN
    UPDATE hub_counters SET value = value + 1 WHERE name = 'stale';
END;

-- Failed logins (and the successes that clear them), read by every hub's limiter.
CREATE TABLE auth_failures (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    credential TEXT NOT NULL,
    address TEXT NOT NULL,
    at REAL NOT NULL,
    succeeded INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX auth_failures_at ON auth_failures (at);

-- Systems that pushed before: due at once, their intervals read from their snapshots by the
-- staleness job (a few hundred a second, after start rather than before it), their open STALE
-- event kept.
INSERT INTO system_rhythms (system_id, last_seen, intervals, due_at, stale_event_id, stale_since)
SELECT s.id, s.last_seen, NULL, CASE WHEN e.id IS NULL THEN 0 ELSE 1e18 END, e.id, e.begin_at
FROM systems s
LEFT JOIN events e ON e.id = (
    SELECT max(o.id) FROM events o WHERE o.system_id = s.id AND o.type = 'STALE' AND o.end_at < 0
)
WHERE s.source NOT IN ('local', 'checks') AND s.last_seen IS NOT NULL;
