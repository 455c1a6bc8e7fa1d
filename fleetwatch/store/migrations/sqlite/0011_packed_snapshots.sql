-- Snapshots a tenth of the size (fleetwatch.store.packing): the document and the summary are
-- kept as zstd frames compressed with a trained dictionary, the normal form only where it
-- cannot be derived from the document (NULL otherwise). document, normalized, summary and
-- hostname (the document's, as 0004 filled it) stay
-- as VIRTUAL generated columns of the same JSON text, so queries, the expression indexes and the
-- roll-up statement read what they read before (a generated column cannot be indexed-in-place
-- by ALTER TABLE, hence the new table).
-- Every connection must have the packing functions (SQLiteStore registers them).

CREATE TABLE zstd_dictionaries (
    id INTEGER PRIMARY KEY,
    dictionary BLOB NOT NULL
);

CREATE TABLE snapshots_packed (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    system_id INTEGER NOT NULL REFERENCES systems (id) ON DELETE CASCADE,
    created_at REAL NOT NULL,
    source TEXT NOT NULL,
    document_z BLOB NOT NULL,
    normalized_z BLOB,
    summary_z BLOB NOT NULL,
    hostname TEXT GENERATED ALWAYS AS (fw_hostname(document_z)) VIRTUAL,
    document TEXT GENERATED ALWAYS AS (fw_unpack(document_z)) VIRTUAL,
    normalized TEXT GENERATED ALWAYS AS (fw_normalized(source, document_z, normalized_z)) VIRTUAL,
    summary TEXT GENERATED ALWAYS AS (fw_unpack(summary_z)) VIRTUAL
);

INSERT INTO snapshots_packed (id, system_id, created_at, source, document_z, normalized_z,
    summary_z)
SELECT id, system_id, created_at, source, fw_pack(document),
    fw_pack_normalized(source, document, normalized), fw_pack(summary)
FROM snapshots ORDER BY id;

-- AUTOINCREMENT: ids of deleted snapshots are never given again, so the counter carries over.
INSERT INTO sqlite_sequence (name, seq)
SELECT 'snapshots_packed', seq FROM sqlite_sequence WHERE name = 'snapshots'
    AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'snapshots_packed');
UPDATE sqlite_sequence SET seq = max(seq, (SELECT seq FROM sqlite_sequence WHERE name = 'snapshots'))
WHERE name = 'snapshots_packed' AND EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'snapshots');

DROP TABLE snapshots;
ALTER TABLE snapshots_packed RENAME TO snapshots;

CREATE INDEX snapshots_system_created ON snapshots (system_id, created_at);
CREATE INDEX snapshots_created ON snapshots (created_at);
CREATE INDEX snapshots_hostname_created ON snapshots (hostname, created_at);
CREATE INDEX snapshots_cpu_percent ON snapshots (json_extract(summary, '$."cpu_percent"'));
CREATE INDEX snapshots_mem_percent ON snapshots (json_extract(summary, '$."mem_percent"'));
CREATE INDEX snapshots_storage_percent ON snapshots (json_extract(summary, '$."storage_percent"'));
CREATE INDEX snapshots_load1 ON snapshots (json_extract(summary, '$."load1"'));
