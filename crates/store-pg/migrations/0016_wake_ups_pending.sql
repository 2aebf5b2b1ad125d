-- Lightspeed's Postgres schema, version 16: wake-ups (`wake_me_at`) each session
-- holds that can still fire. A session with one requests a run by itself when it
-- falls due, so an operator's dispatch pause must reach it although it has no run
-- in flight; the partial index finds those sessions without visiting the others.
-- Every append moves the count in the statement that moves `runs_in_flight`, by
-- event kind (`engine::core::event::wake_ups_pending_delta`; a close resets it).
ALTER TABLE sessions ADD COLUMN wake_ups_pending bigint NOT NULL DEFAULT 0
    CHECK (wake_ups_pending >= 0);

UPDATE sessions AS s
SET wake_ups_pending = counted.pending
FROM (
    SELECT universe_id, session_id,
           count(*) FILTER (WHERE kind = 'lightspeed.core.session.wake_up_scheduled')
             - count(*) FILTER (WHERE kind = 'lightspeed.core.session.wake_up_ended')
             AS pending
    FROM session_events
    WHERE kind IN ('lightspeed.core.session.wake_up_scheduled',
                   'lightspeed.core.session.wake_up_ended')
    GROUP BY universe_id, session_id
) AS counted
WHERE s.universe_id = counted.universe_id
  AND s.session_id = counted.session_id
  AND counted.pending > 0
  AND NOT EXISTS (
      SELECT 1 FROM session_events AS closed
      WHERE closed.universe_id = s.universe_id
        AND closed.session_id = s.session_id
        AND closed.kind = 'lightspeed.core.session.closed');

CREATE INDEX sessions_wake_ups_pending ON sessions (universe_id)
    WHERE wake_ups_pending > 0;
