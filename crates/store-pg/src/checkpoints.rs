//! State checkpoints (`checkpoints`): the first one stored for a seq wins.

use engine::store::{Checkpoint, StoreError};
use engine::{Seq, SessionId};

use crate::PgStore;
use crate::error::{from_bigint, query_failed, to_bigint};

pub(crate) async fn put(
    store: &PgStore,
    session: &SessionId,
    checkpoint: &Checkpoint,
) -> Result<(), StoreError> {
    let seq = to_bigint("checkpoint seq", checkpoint.seq).map_err(StoreError::from)?;
    // The session row may not exist yet (a checkpoint before any append); the CTE
    // creates it in the same statement, before the foreign key is checked.
    sqlx::query(
        "WITH session AS ( \
           INSERT INTO sessions (universe_id, session_id) VALUES ($1, $2) \
           ON CONFLICT DO NOTHING) \
         INSERT INTO checkpoints (universe_id, session_id, seq, state) \
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(store.universe_id)
    .bind(session.as_str())
    .bind(seq)
    .bind(checkpoint.state.as_slice())
    .execute(&store.pool)
    .await
    .map_err(query_failed("store a checkpoint"))?;
    Ok(())
}

pub(crate) async fn at_or_before(
    store: &PgStore,
    session: &SessionId,
    through: Seq,
) -> Result<Option<Checkpoint>, StoreError> {
    // Sequence numbers are stored as bigint: nothing is above i64::MAX.
    let through = i64::try_from(through).unwrap_or(i64::MAX);
    let row: Option<(i64, Vec<u8>)> = sqlx::query_as(
        "SELECT seq, state FROM checkpoints WHERE universe_id = $1 AND session_id = $2 \
         AND seq <= $3 ORDER BY seq DESC LIMIT 1",
    )
    .bind(store.universe_id)
    .bind(session.as_str())
    .bind(through)
    .fetch_optional(&store.pool)
    .await
    .map_err(query_failed("read the latest checkpoint"))?;
    row.map(|(seq, state)| {
        Ok(Checkpoint {
            seq: from_bigint(&format!("checkpoints of session {session}"), seq)?,
            state,
        })
    })
    .transpose()
}

pub(crate) async fn prune(
    store: &PgStore,
    session: &SessionId,
    below: Seq,
) -> Result<(), StoreError> {
    let below = i64::try_from(below).unwrap_or(i64::MAX);
    sqlx::query("DELETE FROM checkpoints WHERE universe_id = $1 AND session_id = $2 AND seq < $3")
        .bind(store.universe_id)
        .bind(session.as_str())
        .bind(below)
        .execute(&store.pool)
        .await
        .map_err(query_failed("prune checkpoints"))?;
    Ok(())
}
