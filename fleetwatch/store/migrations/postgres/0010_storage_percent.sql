-- summary.storage_percent has one definition everywhere (fleetwatch.model.summary): used over
-- used + free where a file system reports both (as psutil and /api/4/fs's percent count it:
-- blocks reserved for root are neither), else over its size. Snapshots stored before, by
-- migration 0004's or summary_of()'s old rule (used over size), are recomputed here.

UPDATE snapshots SET summary = jsonb_set(summary, '{storage_percent}', coalesce(to_jsonb((
    SELECT CASE WHEN sum(capacity) > 0 THEN round((100.0 * sum(coalesce(used, 0))
        / sum(capacity))::numeric, 1) END
    FROM (
        SELECT
            CASE WHEN jsonb_typeof(f -> 'used') = 'number' THEN (f ->> 'used')::float8 END AS used,
            CASE WHEN jsonb_typeof(f -> 'used') = 'number' AND jsonb_typeof(f -> 'free') = 'number'
                THEN (f ->> 'used')::float8 + (f ->> 'free')::float8
                WHEN jsonb_typeof(f -> 'size') = 'number' THEN (f ->> 'size')::float8 END AS capacity
        FROM jsonb_array_elements(normalized -> 'fs') AS f
        WHERE jsonb_typeof(f) = 'object'
    ) AS parts
)), 'null'::jsonb))
WHERE jsonb_typeof(normalized -> 'fs') = 'array';
