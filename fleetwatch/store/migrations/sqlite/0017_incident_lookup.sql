-- The dispatcher saves an incident by its subject and opening time: without an index on them
-- each save scanned every incident ever kept (the partial index of open ones cannot serve a
-- condition that does not say ended_at IS NULL). 10,000 systems ending their STALE events at
-- once kept the notification worker's transaction, and the one SQLite write lock, busy for
-- seconds, and the hub refused pushes 503 meanwhile.
CREATE INDEX notify_incidents_subject_opened ON notify_incidents (subject, opened_at);
