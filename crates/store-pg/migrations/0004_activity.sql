-- Lightspeed's Postgres schema, version 4: `session/list` as one indexed query.

-- A session's last activity: the newest `observed_at_ms` among its entries, by the
-- rule of the control state's `last_observed_at_ms` (the maximum: hosts' clocks
-- need not be monotonic), so the order listed is the order of the `updatedAtMs`
-- clients see. Every append moves it (`GREATEST`) in the statement that moves the
-- head, under the session row's lock. Times past bigint are kept as its maximum.
--
-- Cost: the column is indexed and most appends move it, so appends no longer
-- update `sessions` rows in place (HOT); each writes one entry into this index too.
ALTER TABLE sessions ADD COLUMN last_activity_at_ms bigint NOT NULL DEFAULT 0;

UPDATE sessions AS s
SET last_activity_at_ms = latest.at_ms
FROM (
    SELECT universe_id, session_id,
           LEAST(max(observed_at_ms), 9223372036854775807)::bigint AS at_ms
    FROM session_events
    GROUP BY universe_id, session_id
) AS latest
WHERE s.universe_id = latest.universe_id
  AND s.session_id = latest.session_id;

-- `session/list`'s order: newest first, ties by id in byte order (the "C"
-- collation, whatever the database's default), over sessions with a log. A page
-- is one range scan from the cursor `(last_activity_at_ms, session_id)`.
CREATE INDEX sessions_activity
    ON sessions (universe_id, last_activity_at_ms DESC, session_id COLLATE "C")
    WHERE head > 0;
