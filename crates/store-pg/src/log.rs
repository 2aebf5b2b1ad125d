//! The session log in `sessions` (head) and `session_events` (entries).
//!
//! An append runs in one transaction: it upserts the session row with a row lock and
//! reads its head; only if the head is the expected one are the entries inserted and
//! the head moved. Concurrent appenders to one session therefore queue on that lock
//! and the loser sees the new head. The primary key `(universe, session, seq)` is the
//! backstop: should two inserts of one seq ever race, the second fails with a unique
//! violation and is resolved like any stale append.
//!
//! The same transaction moves the session's `runs_in_flight` by the kinds of the
//! entries it commits, so the count is exactly as durable as the log it summarises,
//! moves its `last_activity_at_ms` (what `session/list` orders by), adds what its
//! turns cost to `universes.cost_nanos` (only when they cost anything, saturating,
//! so no append ever fails on the sum), and queues the commit notification
//! (`commits`), which Postgres delivers only if it commits.

use engine::SessionId;
use engine::core::event::{WakeUpsMove, runs_in_flight_delta};
use engine::core::run::recorded_cost_nanos;
use engine::log::{LogEntry, Seq};
use engine::store::{AppendOutcome, StoreError, check_batch};

use crate::PgStore;
use crate::error::{from_bigint, is_unique_violation, query_failed, to_bigint};

pub(crate) async fn append(
    store: &PgStore,
    session: &SessionId,
    expected_head: Seq,
    entries: &[LogEntry],
) -> Result<AppendOutcome, StoreError> {
    check_batch(expected_head, entries)?;
    let rows = EventRows::encode(expected_head, entries)?;
    let expected = to_bigint("expected head", expected_head).map_err(StoreError::from)?;

    let mut tx = store
        .pool
        .begin()
        .await
        .map_err(query_failed("begin an append"))?;
    let head: i64 = sqlx::query_scalar(
        "INSERT INTO sessions (universe_id, session_id) VALUES ($1, $2) \
         ON CONFLICT (universe_id, session_id) DO UPDATE SET head = sessions.head \
         RETURNING head",
    )
    .bind(store.universe_id)
    .bind(session.as_str())
    .fetch_one(&mut *tx)
    .await
    .map_err(query_failed("lock the session head"))?;
    let head = from_bigint(&location(session), head)?;

    if head != expected_head {
        // Releases the row lock (and drops a session row created just now).
        tx.rollback()
            .await
            .map_err(query_failed("roll back a stale append"))?;
        return resolve_stale(store, session, expected_head, head, entries).await;
    }

    let new_head = expected + rows.seq.len() as i64;
    let inserted = sqlx::query(
        "INSERT INTO session_events \
           (universe_id, session_id, seq, observed_at_ms, joins, kind, version, payload, entry) \
         SELECT $1, $2, e.seq, e.observed_at_ms::numeric, e.joins::jsonb, e.kind, e.version, \
                e.payload::jsonb, e.entry \
         FROM UNNEST($3::bigint[], $4::text[], $5::text[], $6::text[], $7::bigint[], \
                     $8::text[], $9::bytea[]) \
           AS e(seq, observed_at_ms, joins, kind, version, payload, entry)",
    )
    .bind(store.universe_id)
    .bind(session.as_str())
    .bind(&rows.seq)
    .bind(&rows.observed_at_ms)
    .bind(&rows.joins)
    .bind(&rows.kind)
    .bind(&rows.version)
    .bind(&rows.payload)
    .bind(&rows.entry)
    .execute(&mut *tx)
    .await;
    match inserted {
        Ok(_) => {}
        Err(err) if is_unique_violation(&err) => {
            tx.rollback()
                .await
                .map_err(query_failed("roll back a racing append"))?;
            let head = head_of(store, session).await?;
            return resolve_stale(store, session, expected_head, head, entries).await;
        }
        Err(err) => return Err(query_failed("insert log entries")(err)),
    }
    // The notification is queued by this transaction and delivered when (and only
    // if) it commits, so a listener never hears of a commit that did not happen,
    // and never misses one while it is listening.
    let notice = crate::commits::payload(
        store.universe_id,
        session,
        expected_head + entries.len() as Seq,
    );
    // A data-modifying CTE runs whether or not the query reads it: the universe's
    // cost moves in this statement, the last before the commit, and only for a
    // batch that costs anything.
    sqlx::query(
        "WITH moved AS ( \
           UPDATE sessions SET head = $3, runs_in_flight = runs_in_flight + $4, \
             last_activity_at_ms = GREATEST(last_activity_at_ms, $5), \
             wake_ups_pending = GREATEST(0, \
               CASE WHEN $9 THEN 0 ELSE wake_ups_pending END + $10) \
           WHERE universe_id = $1 AND session_id = $2 \
           RETURNING head), \
         charged AS ( \
           UPDATE universes \
           SET cost_nanos = LEAST(cost_nanos, 9223372036854775807 - $8) + $8 \
           WHERE universe_id = $1 AND $8 > 0) \
         SELECT pg_notify($6, $7) FROM moved",
    )
    .bind(store.universe_id)
    .bind(session.as_str())
    .bind(new_head)
    .bind(rows.runs_in_flight)
    .bind(rows.last_observed_at_ms)
    .bind(crate::commits::COMMIT_CHANNEL)
    .bind(notice)
    .bind(rows.cost_nanos)
    .bind(rows.wake_ups.reset)
    .bind(rows.wake_ups.delta)
    .execute(&mut *tx)
    .await
    .map_err(query_failed("move the session head"))?;
    tx.commit()
        .await
        .map_err(query_failed("commit an append"))?;
    Ok(AppendOutcome::Appended {
        head: expected_head + entries.len() as Seq,
    })
}

/// The head is not `expected_head`: a retry of committed entries, or a conflict.
async fn resolve_stale(
    store: &PgStore,
    session: &SessionId,
    expected_head: Seq,
    head: Seq,
    entries: &[LogEntry],
) -> Result<AppendOutcome, StoreError> {
    let conflict = StoreError::HeadConflict {
        expected: expected_head,
        actual: head,
    };
    if head < expected_head + entries.len() as Seq {
        return Err(conflict);
    }
    let committed = read(store, session, expected_head + 1, entries.len()).await?;
    if committed == entries {
        Ok(AppendOutcome::AlreadyCommitted { head })
    } else {
        Err(conflict)
    }
}

pub(crate) async fn read(
    store: &PgStore,
    session: &SessionId,
    from_seq: Seq,
    limit_entries: usize,
) -> Result<Vec<LogEntry>, StoreError> {
    let first_seq = from_seq.max(1);
    // Nothing is stored past bigint; a limit past bigint is no limit.
    let Ok(from) = i64::try_from(first_seq) else {
        return Ok(Vec::new());
    };
    let limit = i64::try_from(limit_entries).unwrap_or(i64::MAX);
    if limit == 0 {
        return Ok(Vec::new());
    }
    let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(
        "SELECT seq, entry FROM session_events \
         WHERE universe_id = $1 AND session_id = $2 AND seq >= $3 \
         ORDER BY seq LIMIT $4",
    )
    .bind(store.universe_id)
    .bind(session.as_str())
    .bind(from)
    .bind(limit)
    .fetch_all(&store.pool)
    .await
    .map_err(query_failed("read log entries"))?;

    let mut entries = Vec::with_capacity(rows.len());
    for (offset, (seq, bytes)) in rows.into_iter().enumerate() {
        let want = first_seq + offset as Seq;
        let corrupt = |reason: String| StoreError::Corrupt {
            location: format!("{} seq {seq}", location(session)),
            reason,
        };
        if from_bigint(&location(session), seq)? != want {
            return Err(corrupt(format!("gap in the log: seq {want} is missing")));
        }
        let entry = LogEntry::from_canonical_bytes(&bytes)
            .map_err(|err| corrupt(format!("undecodable entry: {err}")))?;
        if entry.seq != want {
            return Err(corrupt(format!("the entry says seq {}", entry.seq)));
        }
        entries.push(entry);
    }
    Ok(entries)
}

pub(crate) async fn head(store: &PgStore, session: &SessionId) -> Result<Seq, StoreError> {
    head_of(store, session).await
}

async fn head_of(store: &PgStore, session: &SessionId) -> Result<Seq, StoreError> {
    let head: Option<i64> =
        sqlx::query_scalar("SELECT head FROM sessions WHERE universe_id = $1 AND session_id = $2")
            .bind(store.universe_id)
            .bind(session.as_str())
            .fetch_optional(&store.pool)
            .await
            .map_err(query_failed("read the session head"))?;
    head.map_or(Ok(0), |head| from_bigint(&location(session), head))
}

fn location(session: &SessionId) -> String {
    format!("session_events of session {session}")
}

/// An append batch as column arrays for one `INSERT ... SELECT FROM UNNEST`.
struct EventRows {
    seq: Vec<i64>,
    /// Text, cast to numeric in SQL: the engine's u64 can exceed bigint.
    observed_at_ms: Vec<String>,
    joins: Vec<String>,
    kind: Vec<String>,
    version: Vec<i64>,
    /// `None` when the payload holds a NUL character, which jsonb refuses.
    payload: Vec<Option<String>>,
    /// The canonical bytes: what readers decode.
    entry: Vec<Vec<u8>>,
    /// How the batch moves the session's runs in flight (`sessions.runs_in_flight`).
    runs_in_flight: i64,
    /// How the batch moves the session's pending wake-ups
    /// (`sessions.wake_ups_pending`).
    wake_ups: WakeUpsMove,
    /// What the batch's turns cost (`universes.cost_nanos`), in nano-USD; sums past
    /// bigint are kept as its maximum.
    cost_nanos: i64,
    /// The batch's newest `observed_at_ms` (`sessions.last_activity_at_ms`); times
    /// past bigint are kept as its maximum.
    last_observed_at_ms: i64,
}

impl EventRows {
    fn encode(expected_head: Seq, entries: &[LogEntry]) -> Result<Self, StoreError> {
        let too_large = |what: &str, value: u64| StoreError::InvalidBatch {
            expected_head,
            reason: format!("{what} {value} exceeds what Postgres can store"),
        };
        let mut rows = Self {
            seq: Vec::with_capacity(entries.len()),
            observed_at_ms: Vec::with_capacity(entries.len()),
            joins: Vec::with_capacity(entries.len()),
            kind: Vec::with_capacity(entries.len()),
            version: Vec::with_capacity(entries.len()),
            payload: Vec::with_capacity(entries.len()),
            entry: Vec::with_capacity(entries.len()),
            runs_in_flight: 0,
            wake_ups: WakeUpsMove::default(),
            cost_nanos: 0,
            last_observed_at_ms: 0,
        };
        for entry in entries {
            let seq = i64::try_from(entry.seq).map_err(|_| too_large("seq", entry.seq))?;
            let joins = serde_json::to_string(&entry.joins).map_err(StoreError::permanent)?;
            let payload =
                serde_json::to_string(&entry.event.payload).map_err(StoreError::permanent)?;
            rows.seq.push(seq);
            rows.observed_at_ms.push(entry.observed_at_ms.to_string());
            rows.joins.push(joins);
            rows.kind.push(entry.event.kind.clone());
            rows.version.push(i64::from(entry.event.version));
            rows.payload.push(jsonb_storable(payload));
            rows.entry.push(entry.to_canonical_bytes());
            rows.runs_in_flight += runs_in_flight_delta(&entry.event.kind);
            rows.wake_ups.record(&entry.event.kind);
            let cost = i64::try_from(recorded_cost_nanos(&entry.event)).unwrap_or(i64::MAX);
            rows.cost_nanos = rows.cost_nanos.saturating_add(cost);
            rows.last_observed_at_ms = rows
                .last_observed_at_ms
                .max(i64::try_from(entry.observed_at_ms).unwrap_or(i64::MAX));
        }
        Ok(rows)
    }
}

/// `json` unless it contains an escaped NUL (`\u0000`), which jsonb cannot hold. A
/// literal backslash followed by `u0000` also matches; that only costs the query
/// column, never the entry.
fn jsonb_storable(json: String) -> Option<String> {
    (!json.contains("\\u0000")).then_some(json)
}

pub(crate) async fn session_count(store: &PgStore) -> Result<u64, StoreError> {
    let count: i64 =
        sqlx::query_scalar("SELECT count(*) FROM sessions WHERE universe_id = $1 AND head > 0")
            .bind(store.universe_id)
            .fetch_one(&store.pool)
            .await
            .map_err(query_failed("count sessions"))?;
    Ok(u64::try_from(count).unwrap_or(0))
}

/// The universe's runs in flight: the sum over its sessions that have any, through
/// the partial index `sessions_runs_in_flight` (see `migrations/0003_usage.sql`).
pub(crate) async fn runs_in_flight(store: &PgStore) -> Result<u64, StoreError> {
    let total: i64 = sqlx::query_scalar(
        "SELECT coalesce(sum(runs_in_flight), 0)::bigint FROM sessions \
         WHERE universe_id = $1 AND runs_in_flight > 0",
    )
    .bind(store.universe_id)
    .fetch_one(&store.pool)
    .await
    .map_err(query_failed("count runs in flight"))?;
    Ok(u64::try_from(total).unwrap_or(0))
}

/// Up to `limit` sessions with a log, newest activity first, ties by id in byte
/// order; only those after `after` in that order. One range scan of the partial
/// index `sessions_activity` (`migrations/0004_activity.sql`).
pub(crate) async fn sessions_by_activity(
    store: &PgStore,
    after: Option<(u64, &SessionId)>,
    limit: usize,
) -> Result<Vec<(SessionId, u64)>, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    // Two statements rather than one with `$2 IS NULL OR ...`, so each has a plan
    // that starts its scan where the page starts.
    let rows: Vec<(String, i64)> = match after {
        None => {
            sqlx::query_as(
                "SELECT session_id, last_activity_at_ms FROM sessions \
                 WHERE universe_id = $1 AND head > 0 \
                 ORDER BY last_activity_at_ms DESC, session_id COLLATE \"C\" \
                 LIMIT $2",
            )
            .bind(store.universe_id)
            .bind(limit)
            .fetch_all(&store.pool)
            .await
        }
        Some((at_ms, session)) => {
            sqlx::query_as(
                "SELECT session_id, last_activity_at_ms FROM sessions \
                 WHERE universe_id = $1 AND head > 0 AND last_activity_at_ms <= $2 \
                   AND (last_activity_at_ms < $2 OR session_id COLLATE \"C\" > $3) \
                 ORDER BY last_activity_at_ms DESC, session_id COLLATE \"C\" \
                 LIMIT $4",
            )
            .bind(store.universe_id)
            .bind(i64::try_from(at_ms).unwrap_or(i64::MAX))
            .bind(session.as_str())
            .bind(limit)
            .fetch_all(&store.pool)
            .await
        }
    }
    .map_err(query_failed("list sessions by activity"))?;
    rows.into_iter()
        .map(|(raw, at_ms)| {
            let session = session_of_row(&raw)?;
            Ok((session, u64::try_from(at_ms).unwrap_or(0)))
        })
        .collect()
}

fn session_of_row(raw: &str) -> Result<SessionId, StoreError> {
    SessionId::new(raw).map_err(|err| StoreError::Corrupt {
        location: format!("sessions row {raw:?}"),
        reason: err.to_string(),
    })
}

pub(crate) async fn session_ids(store: &PgStore) -> Result<Vec<SessionId>, StoreError> {
    let rows: Vec<String> = sqlx::query_scalar(
        "SELECT session_id FROM sessions WHERE universe_id = $1 AND head > 0 ORDER BY session_id",
    )
    .bind(store.universe_id)
    .fetch_all(&store.pool)
    .await
    .map_err(query_failed("list sessions"))?;
    rows.iter().map(|raw| session_of_row(raw)).collect()
}

/// What the universe's turns cost, in nano-USD: one row (`universes.cost_nanos`,
/// see `migrations/0010_cost.sql`).
pub(crate) async fn cost_nanos(store: &PgStore) -> Result<u64, StoreError> {
    let total: Option<i64> =
        sqlx::query_scalar("SELECT cost_nanos FROM universes WHERE universe_id = $1")
            .bind(store.universe_id)
            .fetch_optional(&store.pool)
            .await
            .map_err(query_failed("read the universe's cost"))?;
    Ok(total.map_or(0, |total| u64::try_from(total).unwrap_or(0)))
}

/// Marks `session` a sub-agent of `parent`, creating its row if its log has none yet.
pub(crate) async fn mark_child(
    store: &PgStore,
    session: &SessionId,
    parent: &SessionId,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO sessions (universe_id, session_id, parent_session_id) VALUES ($1, $2, $3) \
         ON CONFLICT (universe_id, session_id) DO UPDATE SET parent_session_id = $3",
    )
    .bind(store.universe_id)
    .bind(session.as_str())
    .bind(parent.as_str())
    .execute(&store.pool)
    .await
    .map_err(query_failed("mark a sub-agent"))?;
    Ok(())
}

/// Sub-agents of the universe with runs in flight (see `migrations/0011_sub_agents.sql`).
pub(crate) async fn children_in_flight(store: &PgStore) -> Result<u64, StoreError> {
    let count: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sessions \
         WHERE universe_id = $1 AND parent_session_id IS NOT NULL AND runs_in_flight > 0",
    )
    .bind(store.universe_id)
    .fetch_one(&store.pool)
    .await
    .map_err(query_failed("count sub-agents in flight"))?;
    Ok(u64::try_from(count).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_payloads_skip_the_jsonb_column() {
        let with_nul = serde_json::to_string(&serde_json::json!({"a": "x\u{0}y"}));
        assert_eq!(with_nul.ok().and_then(jsonb_storable), None);
        assert_eq!(
            jsonb_storable(r#"{"a":"b"}"#.to_owned()).as_deref(),
            Some(r#"{"a":"b"}"#)
        );
    }
}
