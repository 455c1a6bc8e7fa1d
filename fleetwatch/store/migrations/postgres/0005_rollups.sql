-- Downsampled history: per system, one row per closed bucket (60 s or 3600 s) holding every
-- numeric history item's [avg, min, max, count] as one JSON object. One row per bucket rather
-- than per item keeps the row count at 1,440 a day per system for minutes and 24 for hours, so a
-- 30-day chart reads 720 rows instead of every snapshot. The stats are only ever read whole, so
-- they are text (no jsonb parsing on write or read).

CREATE TABLE rollups (
    system_id bigint NOT NULL REFERENCES systems (id) ON DELETE CASCADE,
    resolution_seconds integer NOT NULL,
    bucket_start double precision NOT NULL,
    samples integer NOT NULL,
    stats text NOT NULL,
    PRIMARY KEY (system_id, resolution_seconds, bucket_start)
);

-- How far each resolution is rolled up, for all systems: buckets before done_until are final.
CREATE TABLE rollup_progress (
    resolution_seconds integer PRIMARY KEY,
    done_until double precision NOT NULL
);
