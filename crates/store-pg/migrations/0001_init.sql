-- Lightspeed's Postgres schema, version 1. Every row belongs to one universe
-- (tenant); stores are scoped to one universe and never read across.
--
-- Times are Unix milliseconds (`*_at_ms`), taken from the database clock when the
-- row is written unless the caller supplies them.

CREATE TABLE universes (
    universe_id   uuid PRIMARY KEY,
    created_at_ms bigint NOT NULL
        DEFAULT (extract(epoch FROM clock_timestamp()) * 1000)::bigint
);

-- One row per session; `head` is the seq of the last committed entry. Appends lock
-- this row, so appenders to one session are serialised and the head check is exact.
CREATE TABLE sessions (
    universe_id   uuid NOT NULL REFERENCES universes (universe_id),
    session_id    text NOT NULL CHECK (length(session_id) BETWEEN 1 AND 256),
    head          bigint NOT NULL DEFAULT 0 CHECK (head >= 0),
    created_at_ms bigint NOT NULL
        DEFAULT (extract(epoch FROM clock_timestamp()) * 1000)::bigint,
    PRIMARY KEY (universe_id, session_id)
);

-- The session log. `entry` holds the canonical bytes of the `LogEntry` and is what
-- readers decode: jsonb normalises key order, whitespace and numbers, so it cannot
-- give back byte-identical entries. The other columns exist for querying.
-- `payload` is NULL when the payload holds a NUL character, which jsonb cannot store.
-- `observed_at_ms` is numeric because the engine's u64 exceeds bigint.
CREATE TABLE session_events (
    universe_id    uuid NOT NULL,
    session_id     text NOT NULL,
    seq            bigint NOT NULL CHECK (seq >= 1),
    observed_at_ms numeric(20, 0) NOT NULL,
    joins          jsonb NOT NULL,
    kind           text NOT NULL,
    version        bigint NOT NULL CHECK (version >= 0),
    payload        jsonb,
    entry          bytea NOT NULL,
    PRIMARY KEY (universe_id, session_id, seq),
    FOREIGN KEY (universe_id, session_id) REFERENCES sessions (universe_id, session_id)
);

CREATE INDEX session_events_kind ON session_events (universe_id, kind);

-- State checkpoints: canonical state bytes after entry `seq`. First write wins.
CREATE TABLE checkpoints (
    universe_id   uuid NOT NULL,
    session_id    text NOT NULL,
    seq           bigint NOT NULL CHECK (seq >= 0),
    state         bytea NOT NULL,
    created_at_ms bigint NOT NULL
        DEFAULT (extract(epoch FROM clock_timestamp()) * 1000)::bigint,
    PRIMARY KEY (universe_id, session_id, seq),
    FOREIGN KEY (universe_id, session_id) REFERENCES sessions (universe_id, session_id)
);

-- The content-addressed store's catalog. A blob is either inline (small) or in the
-- object store under `object_key`, never both. `digest` is the raw SHA-256.
CREATE TABLE blobs (
    universe_id   uuid NOT NULL REFERENCES universes (universe_id),
    digest        bytea NOT NULL CHECK (length(digest) = 32),
    size_bytes    bigint NOT NULL CHECK (size_bytes >= 0),
    inline_bytes  bytea,
    object_key    text,
    created_at_ms bigint NOT NULL
        DEFAULT (extract(epoch FROM clock_timestamp()) * 1000)::bigint,
    PRIMARY KEY (universe_id, digest),
    CHECK ((inline_bytes IS NULL) <> (object_key IS NULL))
);

-- Gateway API keys, stored as SHA-256 hex of the plaintext; never the key itself.
CREATE TABLE api_keys (
    key_id        text PRIMARY KEY,
    universe_id   uuid NOT NULL REFERENCES universes (universe_id),
    key_hash      text NOT NULL UNIQUE CHECK (key_hash ~ '^[0-9a-f]{64}$'),
    created_at_ms bigint NOT NULL
);
