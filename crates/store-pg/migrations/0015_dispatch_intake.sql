-- Lightspeed's Postgres schema, version 15: the operator's dispatch pause of a
-- universe, and the event deliveries `events/ingest` has seen (deduplicated across
-- gateways by the primary key, within a window kept in `received_at_ms`).
CREATE TABLE universe_dispatch (
    universe_id  uuid PRIMARY KEY REFERENCES universes (universe_id),
    paused_at_ms bigint NOT NULL CHECK (paused_at_ms >= 0)
);

CREATE TABLE event_deliveries (
    universe_id    uuid NOT NULL REFERENCES universes (universe_id),
    source         text NOT NULL CHECK (octet_length(source) BETWEEN 1 AND 128),
    dedupe_key     text NOT NULL CHECK (octet_length(dedupe_key) BETWEEN 1 AND 256),
    received_at_ms bigint NOT NULL CHECK (received_at_ms >= 0),
    -- What the delivery became, once it did (absent while it is being turned into
    -- a run, or when that failed and the claim was released).
    session_id     text,
    run_id         text,
    PRIMARY KEY (universe_id, source, dedupe_key)
);

-- Pruning deliveries older than the window scans only those.
CREATE INDEX event_deliveries_received ON event_deliveries (universe_id, received_at_ms);

-- Universes the operator created (`operator/universes/create`) or deleted: a row of
-- `universes` exists for every universe a store was opened for (`created_at_ms` is
-- when that first happened); these say which were made on purpose, and which are gone.
ALTER TABLE universes
    ADD COLUMN name                   text NOT NULL DEFAULT '' CHECK (octet_length(name) <= 128),
    ADD COLUMN operator_created_at_ms bigint CHECK (operator_created_at_ms >= 0),
    ADD COLUMN deleted_at_ms          bigint CHECK (deleted_at_ms >= 0);
