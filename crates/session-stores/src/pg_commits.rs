//! The Postgres commit listener of one process: one `LISTEN` connection for every
//! universe and session, fanned out to the [`CommitHub`]'s per-session channels.
//!
//! Nothing is missed: a session is registered in the hub before its reader reads
//! the head, and every time listening (re)starts, the heads of all watched sessions
//! are re-read in one query and published. So a commit made while the listener was
//! not listening (before it first connected, while it reconnected) is found by
//! that re-read, and every later one is heard.
//!
//! Costs: no store query while nothing commits. The listener's own connection
//! carries one `SELECT 1` after [`IDLE_PING_AFTER`] without a notification: a
//! connection that died without a word (a half-open TCP connection never errors)
//! would otherwise leave every reader asleep; a failed ping starts over.

use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use engine::SessionId;
use store_pg::{CommitEvent, CommitListener, PgDatabase};
use uuid::Uuid;

use crate::commits::CommitHub;

/// Quiet time on the listening connection before it is pinged.
pub const IDLE_PING_AFTER: Duration = Duration::from_secs(60);
/// How long a ping may take before the connection counts as dead.
const PING_WAIT: Duration = Duration::from_secs(10);
/// Pause before listening again after a failure.
const RETRY_PAUSE: Duration = Duration::from_secs(1);

/// Listens until dropped (or the pool is closed), feeding `hub`; `backend` is set
/// to the server process of the listening connection (0 while there is none).
pub(crate) async fn follow_commits(db: PgDatabase, hub: Arc<CommitHub>, backend: Arc<AtomicI32>) {
    loop {
        match db.listen_commits().await {
            Ok(listener) => follow(&db, &hub, listener, &backend).await,
            Err(err) => tracing::warn!(error = %err, "listening for commits failed"),
        }
        backend.store(0, Ordering::Relaxed);
        if db.pool().is_closed() {
            return;
        }
        tokio::time::sleep(RETRY_PAUSE).await;
    }
}

/// Publishes what `listener` hears; returns when it must be replaced.
async fn follow(
    db: &PgDatabase,
    hub: &CommitHub,
    mut listener: CommitListener,
    backend: &AtomicI32,
) {
    // Listening from here on (on a new connection, each time this loops): what
    // committed before is in the heads read now.
    loop {
        match tokio::time::timeout(PING_WAIT, listener.ping()).await {
            Ok(Ok(pid)) => backend.store(pid, Ordering::Relaxed),
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "the commit listener's new connection failed");
                return;
            }
            Err(_) => {
                tracing::warn!("the commit listener's new connection does not answer");
                return;
            }
        }
        if !resynchronise(db, hub).await {
            return;
        }
        if !publish_until_resumed(hub, &mut listener).await {
            return;
        }
        tracing::info!("commit listener reconnected; re-reading watched heads");
    }
}

/// Publishes commits until the listener resumes on a new connection (true) or
/// fails (false).
async fn publish_until_resumed(hub: &CommitHub, listener: &mut CommitListener) -> bool {
    loop {
        match tokio::time::timeout(IDLE_PING_AFTER, listener.next()).await {
            Ok(Ok(CommitEvent::Committed(notice))) => hub.publish(
                &notice.universe_id.to_string(),
                &notice.session_id,
                notice.head,
            ),
            Ok(Ok(CommitEvent::Resumed)) => return true,
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "commit listener failed; listening again");
                return false;
            }
            Err(_quiet) => match tokio::time::timeout(PING_WAIT, listener.ping()).await {
                Ok(Ok(_)) => {}
                Ok(Err(err)) => {
                    tracing::warn!(error = %err, "commit listener's connection failed; listening again");
                    return false;
                }
                Err(_) => {
                    tracing::warn!(
                        "commit listener's connection stopped answering; listening again"
                    );
                    return false;
                }
            },
        }
    }
}

/// Re-reads and publishes the heads of every watched session; false if the read
/// failed (the caller listens anew and tries again).
async fn resynchronise(db: &PgDatabase, hub: &CommitHub) -> bool {
    let watched: Vec<(Uuid, SessionId)> = hub
        .watched()
        .into_iter()
        // Hub keys of Postgres universes are UUIDs in canonical form.
        .filter_map(|(universe, session)| Some((Uuid::parse_str(&universe).ok()?, session)))
        .collect();
    if watched.is_empty() {
        return true;
    }
    match db.session_heads(&watched).await {
        Ok(heads) => {
            for notice in heads {
                hub.publish(
                    &notice.universe_id.to_string(),
                    &notice.session_id,
                    notice.head,
                );
            }
            true
        }
        Err(err) => {
            tracing::warn!(error = %err, "re-reading watched heads failed");
            false
        }
    }
}
