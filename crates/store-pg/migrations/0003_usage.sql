-- Lightspeed's Postgres schema, version 3: what the per-universe quotas count, kept
-- where it is written, so checking a quota is one small query rather than a replay
-- of every session or a scan of every blob.

-- Runs requested and not yet finished (queued or active) in each session. Every
-- append moves it in the transaction that already holds the session row's lock, by
-- the kinds of the entries it commits (`engine::core::event::runs_in_flight_delta`:
-- +1 per run request, -1 per run end), so it never contends beyond that session. A
-- universe's runs in flight are the sum over the sessions that have any, which the
-- partial index finds without visiting idle sessions; appends that leave the count
-- alone (most of them) touch no indexed column and stay HOT updates.
ALTER TABLE sessions ADD COLUMN runs_in_flight bigint NOT NULL DEFAULT 0;

UPDATE sessions AS s
SET runs_in_flight = counted.in_flight
FROM (
    SELECT universe_id, session_id,
           count(*) FILTER (WHERE kind = 'lightspeed.core.run.requested')
             - count(*) FILTER (WHERE kind = 'lightspeed.core.run.finished') AS in_flight
    FROM session_events
    WHERE kind IN ('lightspeed.core.run.requested', 'lightspeed.core.run.finished')
    GROUP BY universe_id, session_id
) AS counted
WHERE s.universe_id = counted.universe_id
  AND s.session_id = counted.session_id
  AND counted.in_flight <> 0;

CREATE INDEX sessions_runs_in_flight ON sessions (universe_id) INCLUDE (runs_in_flight)
    WHERE runs_in_flight > 0;

-- Bytes of the universe's blobs, `blobs.size_bytes` summed. The statement that
-- catalogs a blob moves it, only when it adds a row (or repairs one to another size),
-- so re-storing what is there costs nothing and the sum stays exact. Nothing deletes
-- blobs yet; whatever does must move it back in the same statement.
ALTER TABLE universes ADD COLUMN stored_bytes bigint NOT NULL DEFAULT 0
    CHECK (stored_bytes >= 0);

UPDATE universes AS u
SET stored_bytes = totals.total
FROM (
    SELECT universe_id, sum(size_bytes)::bigint AS total
    FROM blobs
    GROUP BY universe_id
) AS totals
WHERE u.universe_id = totals.universe_id;
