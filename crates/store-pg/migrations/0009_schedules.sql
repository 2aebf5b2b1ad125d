-- Lightspeed's Postgres schema, version 9: the schedule catalog (crates/schedule-registry).
-- One row per schedule of a universe: the record as jsonb (decoded by the registry's
-- types, which check it), its revision beside it. Creates of a universe queue on a
-- transaction-scoped advisory lock, so the cap on schedules holds; every other change
-- (update, a firing's claim, its outcome) locks the row, decides in the registry's
-- shared code and writes the row back. Ids sort bytewise (COLLATE "C"), as every
-- other store orders them.
CREATE TABLE schedules (
    universe_id uuid NOT NULL REFERENCES universes (universe_id),
    schedule_id text COLLATE "C" NOT NULL CHECK (schedule_id ~ '^[a-z0-9_-]{1,64}$'),
    revision    bigint NOT NULL CHECK (revision >= 1),
    record      jsonb NOT NULL,
    PRIMARY KEY (universe_id, schedule_id)
);
