-- Downsampled history: per system, one row per closed bucket (60 s or 3600 s) holding every
-- numeric history item's [avg, min, max, count] as one JSON object. One row per bucket rather
-- than per item keeps the row count at 1,440 a day per system for minutes and 24 for hours, so a
-- 30-day chart reads 720 rows instead of every snapshot. The stats are only ever read whole, so
-- plain TEXT is enough. WITHOUT ROWID clusters the rows on the key a range read walks.

CREATE TABLE rollups (
    system_id INTEGER NOT NULL REFERENCES systems (id) ON DELETE CASCADE,
    resolution_seconds INTEGER NOT NULL,
    bucket_start REAL NOT NULL,
    samples INTEGER NOT NULL,
    stats TEXT NOT NULL,
    PRIMARY KEY (system_id, resolution_seconds, bucket_start)
) WITHOUT ROWID;

-- How far each resolution is rolled up, for all systems: buckets before done_until are final.
CREATE TABLE rollup_progress (
    resolution_seconds INTEGER PRIMARY KEY,
    done_until REAL NOT NULL
);
