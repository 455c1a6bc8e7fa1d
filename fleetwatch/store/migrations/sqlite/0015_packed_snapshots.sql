-- PostgreSQL packs its snapshots in migration 0015 (SQLite did in 0011); the version is kept so
-- both backends share one numbering.
SELECT 1;
