-- Several hubs on one database (issue 18, part 3): what decides events lives here, not in one
-- hub's memory. Several hubs share these tables.

-- Each pushing system's rhythm and staleness. ``due_at`` is when the staleness job must look
-- at the row again: never later than the end of its window (a push sets last_seen + the
-- configured minimum, a lower bound of any window), at once when a stale system pushed again
-- (``returned_at``), and far away (1e18) while it stays stale. One indexed look-up of the rows
-- due is the whole idle tick, whatever the fleet's size. ``intervals``: the last 20 seconds
-- between submissions (JSON), NULL until read from the snapshots (rows made below).
CREATE TABLE system_rhythms (
    system_id bigint PRIMARY KEY REFERENCES systems (id) ON DELETE CASCADE,
    last_seen double precision NOT NULL,
    intervals jsonb DEFAULT '[]',
    due_at double precision NOT NULL,
    stale_event_id bigint,
    stale_since double precision,
    returned_at double precision
);

CREATE INDEX system_rhythms_due ON system_rhythms (due_at);
CREATE INDEX system_rhythms_stale ON system_rhythms (system_id) WHERE stale_since IS NOT NULL;

-- Counters every hub reads each second: 'stale' moves whenever a system goes stale or back.
CREATE TABLE hub_counters (
    name TEXT PRIMARY KEY,
    value bigint NOT NULL
);

INSERT INTO hub_counters (name, value) VALUES ('stale', 0);

-- A stale system removed is one fewer stale: every hub reads the set again.
CREATE FUNCTION fleetwatch_stale_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE hub_counters SET value = value + 1 WHERE name = 'stale';
    RETURN NULL;
END $$;

CREATE TRIGGER system_rhythms_stale_removed AFTER DELETE ON system_rhythms
FOR EACH ROW WHEN (OLD.stale_since IS NOT NULL) EXECUTE FUNCTION fleetwatch_stale_removed();

-- Failed logins (and the successes that clear them), read by every hub's limiter.
CREATE TABLE auth_failures (
    id bigserial PRIMARY KEY,
    credential TEXT NOT NULL,
    address TEXT NOT NULL,
    at double precision NOT NULL,
    succeeded boolean NOT NULL DEFAULT false
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

-- Every hub's live event streams and console hear of a new outbox row at once (LISTEN), not at
-- their next poll; one notice per statement, whatever its rows (NOTIFY folds equal payloads
-- within a transaction anyway).
CREATE FUNCTION fleetwatch_outbox_notice() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('fleetwatch_outbox', '');
    RETURN NULL;
END $$;

CREATE TRIGGER notify_outbox_notice AFTER INSERT ON notify_outbox
FOR EACH STATEMENT EXECUTE FUNCTION fleetwatch_outbox_notice();
