-- summary.storage_percent has one definition everywhere (fleetwatch.model.summary): used over
-- used + free where a file system reports both (as psutil and /api/4/fs's percent count it:
-- blocks reserved for root are neither), else over its size. Snapshots stored before, by
-- migration 0004's or summary_of()'s old rule (used over size), are recomputed here.

UPDATE snapshots SET summary = json_set(summary, '$.storage_percent', (
    SELECT CASE WHEN total(capacity) > 0 THEN round(100.0 * total(used) / total(capacity), 1) END
    FROM (
        SELECT
            CASE WHEN json_type(f.value, '$.used') IN ('integer', 'real')
                THEN json_extract(f.value, '$.used') END AS used,
            CASE WHEN json_type(f.value, '$.used') IN ('integer', 'real')
                    AND json_type(f.value, '$.free') IN ('integer', 'real')
                THEN json_extract(f.value, '$.used') + json_extract(f.value, '$.free')
                WHEN json_type(f.value, '$.size') IN ('integer', 'real')
                THEN json_extract(f.value, '$.size') END AS capacity
        FROM json_each(json_extract(normalized, '$.fs')) AS f
        WHERE f.type = 'object'
    )
))
WHERE json_type(normalized, '$.fs') = 'array';
