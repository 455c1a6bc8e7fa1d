-- A hub with 10,000 systems: the fleet's pages read each system's open events (their count,
-- and whether a STALE one is open) in an index probe that only reaches open events, however
-- many finished ones a system has kept.
CREATE INDEX events_open ON events (system_id, type) WHERE end_at < 0;
