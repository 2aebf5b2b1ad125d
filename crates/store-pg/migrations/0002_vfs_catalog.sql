-- Lightspeed's Postgres schema, version 2: the VFS catalog, the few mutable records
-- of the virtual filesystem (snapshots and file contents are rows of `blobs`).
-- Like every table, both belong to one universe and are read only within it.

-- A workspace head. `revision` starts at 1 and moves up by one per compare-and-set;
-- writers lock the row, compare the revision they read, then move it, so the check
-- is exact. `snapshot` is the manifest's blob ref; like the other stores, the catalog
-- stores what callers validated and does not reference `blobs`.
CREATE TABLE vfs_workspaces (
    universe_id   uuid NOT NULL REFERENCES universes (universe_id),
    workspace_id  text NOT NULL CHECK (length(workspace_id) BETWEEN 1 AND 128),
    revision      bigint NOT NULL CHECK (revision >= 1),
    snapshot      text NOT NULL CHECK (snapshot ~ '^sha256:[0-9a-f]{64}$'),
    created_at_ms bigint NOT NULL
        DEFAULT (extract(epoch FROM clock_timestamp()) * 1000)::bigint,
    PRIMARY KEY (universe_id, workspace_id)
);

-- A session's mount table, one row per session: a jsonb array of mounts
-- (`{"path", "source": {"type", …}, "mode"}`) in byte order of path. One row rather
-- than one per mount because the table is changed as a whole under this row's lock
-- (so `session_mounts_max` holds against concurrent puts), and because a mount path
-- may be longer than a btree key can be. A table with no mounts has no row.
-- `session_id` does not reference `sessions`: mounts may precede the session's first
-- event. Mounts may name workspaces that were deleted since, as in every catalog.
CREATE TABLE vfs_mounts (
    universe_id   uuid NOT NULL REFERENCES universes (universe_id),
    session_id    text NOT NULL CHECK (length(session_id) BETWEEN 1 AND 256),
    mounts        jsonb NOT NULL CHECK (jsonb_typeof(mounts) = 'array'),
    created_at_ms bigint NOT NULL
        DEFAULT (extract(epoch FROM clock_timestamp()) * 1000)::bigint,
    PRIMARY KEY (universe_id, session_id)
);
