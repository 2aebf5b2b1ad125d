-- Lightspeed's Postgres schema, version 8: the memory catalog (crates/memory-registry).
-- A universe's memory blocks, the sessions each is attached to, and its archival
-- passages searched with full-text search. Every row belongs to one universe and
-- every query names it. Creates that count against a bound first take a
-- transaction-scoped advisory lock on (kind, universe[, session]); a block's value
-- moves by compare-and-set on its revision under its row lock. Labels sort bytewise
-- (COLLATE "C"), as every other store orders them.

-- One row per block. The value never passes the block's limit (bytes of UTF-8).
CREATE TABLE memory_blocks (
    universe_id   uuid NOT NULL REFERENCES universes (universe_id),
    label         text COLLATE "C" NOT NULL CHECK (label ~ '^[a-z0-9_-]{1,64}$'),
    description   text NOT NULL CHECK (octet_length(description) <= 1024),
    value         text NOT NULL,
    limit_bytes   bigint NOT NULL CHECK (limit_bytes BETWEEN 1 AND 100000),
    read_only     boolean NOT NULL,
    revision      bigint NOT NULL CHECK (revision >= 1),
    created_at_ms bigint NOT NULL CHECK (created_at_ms >= 0),
    updated_at_ms bigint NOT NULL CHECK (updated_at_ms >= 0),
    PRIMARY KEY (universe_id, label),
    CHECK (octet_length(value) <= limit_bytes)
);

-- A block attached to a session. `session_id` does not reference `sessions`, as MCP
-- links do not; the block does: a link holds its block (a delete without force is
-- refused while any exist, a forced one takes them along).
CREATE TABLE memory_links (
    universe_id uuid NOT NULL,
    session_id  text NOT NULL CHECK (length(session_id) BETWEEN 1 AND 256),
    label       text COLLATE "C" NOT NULL,
    PRIMARY KEY (universe_id, session_id, label),
    FOREIGN KEY (universe_id, label) REFERENCES memory_blocks (universe_id, label)
        ON DELETE CASCADE
);
-- The sessions of a block (deletes).
CREATE INDEX memory_links_block ON memory_links (universe_id, label);

-- Archival passages. `seq` is the created order (increasing across universes, so
-- within each); `tsv` is what search matches, kept by Postgres.
CREATE TABLE memory_passages (
    universe_id   uuid NOT NULL REFERENCES universes (universe_id),
    passage_id    text COLLATE "C" NOT NULL CHECK (passage_id ~ '^[0-9a-f]{32}$'),
    seq           bigint GENERATED ALWAYS AS IDENTITY,
    text          text NOT NULL CHECK (octet_length(text) BETWEEN 1 AND 16384),
    tags          text[] NOT NULL CHECK (cardinality(tags) <= 16),
    created_at_ms bigint NOT NULL CHECK (created_at_ms >= 0),
    tsv           tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED,
    PRIMARY KEY (universe_id, passage_id)
);
CREATE INDEX memory_passages_search ON memory_passages USING gin (tsv);
