//! The operator's dispatch pause of a universe (`universe_dispatch`), the sessions
//! it must reach (with runs in flight or wake-ups pending: partial indexes), and the
//! event deliveries `events/ingest` has seen (`event_deliveries`): one row per
//! `(source, dedupe key)`, so two gateways offered the same event race on the
//! primary key and exactly one claims it.

use engine::SessionId;
use engine::store::StoreError;

use crate::PgStore;
use crate::error::{from_bigint, query_failed, to_bigint};

/// An earlier delivery of the same event: when it was received, and the session
/// and run it became (absent while it is still becoming one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriorDelivery {
    pub received_at_ms: u64,
    pub session_id: Option<String>,
    pub run_id: Option<String>,
}

pub(crate) async fn sessions_in_flight(
    store: &PgStore,
    limit: usize,
) -> Result<Vec<SessionId>, StoreError> {
    session_ids(
        store,
        "SELECT session_id FROM sessions \
         WHERE universe_id = $1 AND runs_in_flight > 0 \
         ORDER BY session_id COLLATE \"C\" LIMIT $2",
        limit,
        "list sessions with runs in flight",
    )
    .await
}

/// Sessions with runs in flight or wake-ups that can still fire, in one read of
/// the row both counts move in (the partial indexes of migrations 3 and 16), so a
/// session moving from one to the other is never missed between two reads.
pub(crate) async fn sessions_to_hold(
    store: &PgStore,
    limit: usize,
) -> Result<Vec<SessionId>, StoreError> {
    session_ids(
        store,
        "SELECT session_id FROM sessions \
         WHERE universe_id = $1 AND (runs_in_flight > 0 OR wake_ups_pending > 0) \
         ORDER BY session_id COLLATE \"C\" LIMIT $2",
        limit,
        "list sessions with runs in flight or wake-ups pending",
    )
    .await
}

async fn session_ids(
    store: &PgStore,
    query: &'static str,
    limit: usize,
    what: &'static str,
) -> Result<Vec<SessionId>, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let ids: Vec<String> = sqlx::query_scalar(query)
        .bind(store.universe_id)
        .bind(limit)
        .fetch_all(&store.pool)
        .await
        .map_err(query_failed(what))?;
    ids.into_iter()
        .map(|id| {
            SessionId::new(id.clone()).map_err(|err| StoreError::Corrupt {
                location: format!("sessions row {id:?}"),
                reason: err.to_string(),
            })
        })
        .collect()
}

pub(crate) async fn dispatch_paused_since(store: &PgStore) -> Result<Option<u64>, StoreError> {
    let at: Option<i64> =
        sqlx::query_scalar("SELECT paused_at_ms FROM universe_dispatch WHERE universe_id = $1")
            .bind(store.universe_id)
            .fetch_optional(&store.pool)
            .await
            .map_err(query_failed("read the dispatch pause"))?;
    at.map(|at| from_bigint("universe_dispatch.paused_at_ms", at))
        .transpose()
}

pub(crate) async fn set_dispatch_paused(
    store: &PgStore,
    paused_at_ms: Option<u64>,
) -> Result<(), StoreError> {
    match paused_at_ms {
        // Pausing again keeps the first pause's time.
        Some(at_ms) => sqlx::query(
            "INSERT INTO universe_dispatch (universe_id, paused_at_ms) VALUES ($1, $2) \
             ON CONFLICT (universe_id) DO NOTHING",
        )
        .bind(store.universe_id)
        .bind(to_bigint("pause time", at_ms)?),
        None => sqlx::query("DELETE FROM universe_dispatch WHERE universe_id = $1")
            .bind(store.universe_id),
    }
    .execute(&store.pool)
    .await
    .map_err(query_failed("change the dispatch pause"))?;
    Ok(())
}

/// Claims delivery `(source, dedupe_key)` at `at_ms`: `None` when this call claimed
/// it (no row, or the row is older than `window_ms` and was taken over), else the
/// earlier delivery. One statement, so concurrent claims across processes serialize
/// on the primary key.
pub(crate) async fn claim_delivery(
    store: &PgStore,
    source: &str,
    dedupe_key: &str,
    at_ms: u64,
    window_ms: u64,
) -> Result<Option<PriorDelivery>, StoreError> {
    let at = to_bigint("delivery time", at_ms)?;
    let cutoff = to_bigint("delivery window", at_ms.saturating_sub(window_ms))?;
    let claimed: Option<i64> = sqlx::query_scalar(
        "INSERT INTO event_deliveries (universe_id, source, dedupe_key, received_at_ms) \
         VALUES ($1, $2, $3, $4) \
         ON CONFLICT (universe_id, source, dedupe_key) DO UPDATE \
         SET received_at_ms = EXCLUDED.received_at_ms, session_id = NULL, run_id = NULL \
         WHERE event_deliveries.received_at_ms < $5 \
         RETURNING received_at_ms",
    )
    .bind(store.universe_id)
    .bind(source)
    .bind(dedupe_key)
    .bind(at)
    .bind(cutoff)
    .fetch_optional(&store.pool)
    .await
    .map_err(query_failed("claim an event delivery"))?;
    if claimed.is_some() {
        return Ok(None);
    }
    let row: Option<(i64, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT received_at_ms, session_id, run_id FROM event_deliveries \
         WHERE universe_id = $1 AND source = $2 AND dedupe_key = $3",
    )
    .bind(store.universe_id)
    .bind(source)
    .bind(dedupe_key)
    .fetch_optional(&store.pool)
    .await
    .map_err(query_failed("read an event delivery"))?;
    match row {
        Some((received_at_ms, session_id, run_id)) => Ok(Some(PriorDelivery {
            received_at_ms: from_bigint("event_deliveries.received_at_ms", received_at_ms)?,
            session_id,
            run_id,
        })),
        // Released between the two statements: the earlier delivery failed, and a
        // retry of this one will claim it.
        None => Ok(Some(PriorDelivery {
            received_at_ms: at_ms,
            session_id: None,
            run_id: None,
        })),
    }
}

/// Records what a claimed delivery became.
pub(crate) async fn settle_delivery(
    store: &PgStore,
    source: &str,
    dedupe_key: &str,
    session_id: &str,
    run_id: Option<&str>,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE event_deliveries SET session_id = $4, run_id = $5 \
         WHERE universe_id = $1 AND source = $2 AND dedupe_key = $3",
    )
    .bind(store.universe_id)
    .bind(source)
    .bind(dedupe_key)
    .bind(session_id)
    .bind(run_id)
    .execute(&store.pool)
    .await
    .map_err(query_failed("settle an event delivery"))?;
    Ok(())
}

/// Gives a claimed delivery up (turning it into a run failed), so a redelivery is
/// taken as new.
pub(crate) async fn release_delivery(
    store: &PgStore,
    source: &str,
    dedupe_key: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "DELETE FROM event_deliveries \
         WHERE universe_id = $1 AND source = $2 AND dedupe_key = $3 AND session_id IS NULL",
    )
    .bind(store.universe_id)
    .bind(source)
    .bind(dedupe_key)
    .execute(&store.pool)
    .await
    .map_err(query_failed("release an event delivery"))?;
    Ok(())
}

/// Forgets deliveries received before `before_ms` (outside every window since).
pub(crate) async fn prune_deliveries(store: &PgStore, before_ms: u64) -> Result<u64, StoreError> {
    let done =
        sqlx::query("DELETE FROM event_deliveries WHERE universe_id = $1 AND received_at_ms < $2")
            .bind(store.universe_id)
            .bind(to_bigint("prune time", before_ms)?)
            .execute(&store.pool)
            .await
            .map_err(query_failed("prune event deliveries"))?;
    Ok(done.rows_affected())
}
