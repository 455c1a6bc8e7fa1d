-- The query API (statistics.list and the other list endpoints). Each snapshot gets its
-- hostname as a column and a summary of derived figures (fleetwatch.model.summary), both filled
-- here for snapshots stored before this migration, with the same rules as summary_of().
-- Indexes serve the common filters and sorts; the expression indexes repeat, character for
-- character, the expression the query translator writes for summary.<name>, or SQLite would not
-- match them.

ALTER TABLE snapshots ADD COLUMN hostname TEXT;
ALTER TABLE snapshots ADD COLUMN summary TEXT NOT NULL DEFAULT '{}';

UPDATE snapshots SET
    hostname = CASE
        WHEN json_type(document, '$.hostname') = 'text' THEN json_extract(document, '$.hostname')
        WHEN json_type(document, '$.system.hostname') = 'text'
            THEN json_extract(document, '$.system.hostname')
    END,
    summary = json_object(
        'cpu_percent', CASE WHEN json_type(normalized, '$.cpu.total') IN ('integer', 'real')
            THEN json_extract(normalized, '$.cpu.total') END,
        'mem_percent', CASE WHEN json_type(normalized, '$.mem.percent') IN ('integer', 'real')
            THEN json_extract(normalized, '$.mem.percent') END,
        'swap_percent', CASE WHEN json_type(normalized, '$.memswap.percent') IN ('integer', 'real')
            THEN json_extract(normalized, '$.memswap.percent') END,
        'storage_percent', (
            SELECT CASE WHEN total(json_extract(f.value, '$.size')) > 0 THEN round(
                100.0 * total(json_extract(f.value, '$.used'))
                / total(json_extract(f.value, '$.size')), 1) END
            FROM json_each(CASE WHEN json_type(normalized, '$.fs') = 'array'
                THEN json_extract(normalized, '$.fs') ELSE '[]' END) AS f
            WHERE f.type = 'object'),
        'load1', CASE WHEN json_type(normalized, '$.load.min1') IN ('integer', 'real')
            THEN json_extract(normalized, '$.load.min1') END,
        'cpu_num', CASE WHEN json_type(normalized, '$.percpu') = 'array'
            THEN nullif(json_array_length(normalized, '$.percpu'), 0) END,
        'memory_bytes', CASE WHEN json_type(normalized, '$.mem.total') IN ('integer', 'real')
            THEN json_extract(normalized, '$.mem.total') END
    );

CREATE INDEX snapshots_created ON snapshots (created_at);
CREATE INDEX snapshots_hostname_created ON snapshots (hostname, created_at);
CREATE INDEX snapshots_cpu_percent ON snapshots (json_extract(summary, '$."cpu_percent"'));
CREATE INDEX snapshots_mem_percent ON snapshots (json_extract(summary, '$."mem_percent"'));
CREATE INDEX snapshots_storage_percent ON snapshots (json_extract(summary, '$."storage_percent"'));
CREATE INDEX snapshots_load1 ON snapshots (json_extract(summary, '$."load1"'));

CREATE INDEX events_begin ON events (begin_at);
CREATE INDEX check_results_at ON check_results (checked_at);
