-- Lightspeed's Postgres schema, version 12: what deleting sessions and collecting
-- unreferenced blobs need.

-- When a put last stored or found the blob. A put of bytes already stored moves it
-- (`blobs::put`), and collection deletes only rows it finds older than its grace
-- cutoff in the deleting statement itself, so a blob put again while a collection
-- runs is never deleted under the writer that is about to reference it. Rows from
-- before this version count as touched now: they become collectable only after a
-- grace period from the upgrade.
ALTER TABLE blobs ADD COLUMN touched_at_ms bigint NOT NULL
    DEFAULT (extract(epoch FROM clock_timestamp()) * 1000)::bigint;

