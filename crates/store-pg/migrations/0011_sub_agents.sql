-- Lightspeed's Postgres schema, version 11: which sessions are sub-agents, so a
-- universe's sub-agents with runs in flight are counted in one indexed query (the
-- per-universe limit on them is checked before each spawn and message).
--
-- Set by the API service when it spawns a child, before the child's first run is
-- requested; never cleared (a sub-agent stays one).
ALTER TABLE sessions ADD COLUMN parent_session_id text
    CHECK (parent_session_id IS NULL OR length(parent_session_id) BETWEEN 1 AND 256);

CREATE INDEX sessions_children_in_flight ON sessions (universe_id)
    WHERE parent_session_id IS NOT NULL AND runs_in_flight > 0;
