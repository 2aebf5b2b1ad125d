-- Lightspeed's Postgres schema, version 13: blobs a universe keeps whether or not any
-- record names them (`blob/pin`). Collection reads this table's refs as roots, like
-- every table that may name a blob (`retention::TABLES_WITH_REFS`).
CREATE TABLE blob_pins (
    universe_id  uuid NOT NULL REFERENCES universes (universe_id),
    blob_ref     text NOT NULL CHECK (blob_ref ~ '^sha256:[0-9a-f]{64}$'),
    pinned_at_ms bigint NOT NULL CHECK (pinned_at_ms >= 0),
    PRIMARY KEY (universe_id, blob_ref)
);
