-- Migration 0011 packs SQLite's snapshots (fleetwatch.store.packing). PostgreSQL keeps its
-- jsonb columns for now: its queries and roll-ups walk them in the server, which cannot unpack a
-- zstd frame, and its TOAST compression neither starts below ~2 KB nor, forced by a lower
-- toast_tuple_target, gains on jsonb (measured: values moved out of line, uncompressed). The
-- version is kept so both backends share one numbering.
SELECT 1;
