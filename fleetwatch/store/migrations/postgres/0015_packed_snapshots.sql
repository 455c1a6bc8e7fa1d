-- Snapshots a sixth of the size (issue 18): the document, its normal form and its summary are
-- kept as zstd frames compressed with the hub's trained dictionary (fleetwatch.store.packing),
-- the normal form empty where it is derivable from the document (empty, not NULL: a row without
-- NULLs has no null bitmap, and its header is 8 bytes shorter). PostgreSQL cannot unpack them,
-- so the hub reads and filters them (fleetwatch.store.pg_snapshots); what SQL still filters
-- and sorts on is in plain columns: the hostname, and the summary figures that had expression
-- indexes (cpu_percent, mem_percent, storage_percent, load1), indexed on a coarse key (below).
-- The 8-byte columns come first: no alignment padding between them.
-- The rows are converted by the hub in this migration's transaction (the step named below),
-- keeping their ids; the identity goes on where the old one stood.

CREATE TABLE zstd_dictionaries (
    id integer PRIMARY KEY,
    dictionary bytea NOT NULL
);

CREATE TABLE snapshots_packed (
    id bigint GENERATED ALWAYS AS IDENTITY,
    system_id bigint NOT NULL,
    created_at double precision NOT NULL,
    cpu_percent double precision,
    mem_percent double precision,
    storage_percent double precision,
    load1 double precision,
    source text NOT NULL,
    hostname text,
    document_z bytea NOT NULL,
    normalized_z bytea NOT NULL,
    summary_z bytea NOT NULL
);

-- fleetwatch-step: pack_snapshots

DROP TABLE snapshots;
ALTER TABLE snapshots_packed RENAME TO snapshots;
ALTER SEQUENCE snapshots_packed_id_seq RENAME TO snapshots_id_seq;
ALTER TABLE snapshots ADD CONSTRAINT snapshots_pkey PRIMARY KEY (id);
ALTER TABLE snapshots ADD CONSTRAINT snapshots_system_id_fkey FOREIGN KEY (system_id)
    REFERENCES systems (id) ON DELETE CASCADE;
-- No id in the ordered indexes: an ORDER BY created_at, id takes them with an incremental sort
-- of the rows that share a created_at (8 bytes a row less in each).
CREATE INDEX snapshots_system_created ON snapshots (system_id, created_at);
CREATE INDEX snapshots_created ON snapshots (created_at);
CREATE INDEX snapshots_hostname_created ON snapshots (hostname, created_at);
-- The figures' indexes hold a coarse key (a tenth of a unit, an int4, clamped: COARSE_SQL in
-- pg_snapshots.py): many rows share one, so the btree deduplicates them (~9 bytes a row; a
-- float8 btree cannot). A filter on a figure adds the key's condition that it implies.
CREATE INDEX snapshots_cpu_percent ON snapshots
    (((least(greatest(cpu_percent * 10, '-2e9'::float8), '2e9'::float8))::int4));
CREATE INDEX snapshots_mem_percent ON snapshots
    (((least(greatest(mem_percent * 10, '-2e9'::float8), '2e9'::float8))::int4));
CREATE INDEX snapshots_storage_percent ON snapshots
    (((least(greatest(storage_percent * 10, '-2e9'::float8), '2e9'::float8))::int4));
CREATE INDEX snapshots_load1 ON snapshots
    (((least(greatest(load1 * 10, '-2e9'::float8), '2e9'::float8))::int4));
