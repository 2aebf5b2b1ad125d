-- Lightspeed's Postgres schema, version 10: what a universe's generations cost.

-- Nano-USD (10^-9 USD) that the universe's turns recorded (`usage.cost_nanos` of
-- `lightspeed.core.turn.completed`, `engine::core::run::recorded_cost_nanos`). The
-- append transaction that commits such turns moves it, as its last statement, so
-- the universe's row is locked only while that transaction commits, and the total
-- is exactly as durable as the turns it sums. Logs written before costs were
-- recorded hold none, so there is nothing to backfill.
ALTER TABLE universes ADD COLUMN cost_nanos bigint NOT NULL DEFAULT 0
    CHECK (cost_nanos >= 0);
