-- The query API (statistics.list and the other list endpoints). Each snapshot gets its
-- hostname as a column and a summary of derived figures (fleetwatch.model.summary), both filled
-- here for snapshots stored before this migration, with the same rules as summary_of().
-- Indexes serve the common filters and sorts; the expression indexes are on the expression the
-- query translator writes for summary.<name>. Every ORDER BY ends with the id, so the ordered
-- indexes carry it too.

ALTER TABLE snapshots ADD COLUMN hostname text;
ALTER TABLE snapshots ADD COLUMN summary jsonb NOT NULL DEFAULT '{}';

UPDATE snapshots SET
    hostname = CASE
        WHEN jsonb_typeof(document -> 'hostname') = 'string' THEN document ->> 'hostname'
        WHEN jsonb_typeof(document #> '{system,hostname}') = 'string'
            THEN document #>> '{system,hostname}'
    END,
    summary = jsonb_build_object(
        'cpu_percent', CASE WHEN jsonb_typeof(normalized #> '{cpu,total}') = 'number' THEN normalized #> '{cpu,total}' END,
        'mem_percent', CASE WHEN jsonb_typeof(normalized #> '{mem,percent}') = 'number' THEN normalized #> '{mem,percent}' END,
        'swap_percent', CASE WHEN jsonb_typeof(normalized #> '{memswap,percent}') = 'number' THEN normalized #> '{memswap,percent}' END,
        'storage_percent', (
            SELECT CASE WHEN sum((f ->> 'size')::float8) > 0 THEN round((
                100.0 * sum(coalesce((f ->> 'used')::float8, 0))
                / sum((f ->> 'size')::float8))::numeric, 1) END
            FROM jsonb_array_elements(CASE WHEN jsonb_typeof(normalized -> 'fs') = 'array'
                THEN normalized -> 'fs' ELSE '[]'::jsonb END) AS f
            WHERE jsonb_typeof(f) = 'object' AND jsonb_typeof(f -> 'size') = 'number'
                AND coalesce(jsonb_typeof(f -> 'used'), 'number') = 'number'),
        'load1', CASE WHEN jsonb_typeof(normalized #> '{load,min1}') = 'number' THEN normalized #> '{load,min1}' END,
        'cpu_num', CASE WHEN jsonb_typeof(normalized -> 'percpu') = 'array'
            THEN nullif(jsonb_array_length(normalized -> 'percpu'), 0) END,
        'memory_bytes', CASE WHEN jsonb_typeof(normalized #> '{mem,total}') = 'number' THEN normalized #> '{mem,total}' END
    );

DROP INDEX snapshots_system_created;
CREATE INDEX snapshots_system_created ON snapshots (system_id, created_at, id);
CREATE INDEX snapshots_created ON snapshots (created_at, id);
CREATE INDEX snapshots_hostname_created ON snapshots (hostname, created_at, id);
CREATE INDEX snapshots_cpu_percent ON snapshots ((summary #> '{cpu_percent}'));
CREATE INDEX snapshots_mem_percent ON snapshots ((summary #> '{mem_percent}'));
CREATE INDEX snapshots_storage_percent ON snapshots ((summary #> '{storage_percent}'));
CREATE INDEX snapshots_load1 ON snapshots ((summary #> '{load1}'));

CREATE INDEX events_begin ON events (begin_at, id);
CREATE INDEX check_results_at ON check_results (checked_at, id);
