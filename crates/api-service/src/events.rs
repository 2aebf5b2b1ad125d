//! `session/events/read` (with long-poll) and `session/subscribe`, from the store.
//! Waiting is on the host's commit signal, never a loop of store reads.

use std::sync::Arc;
use std::time::Duration;

use api::ApiError;
use api::types::events::*;
use engine::store::{BlobStore, SessionLog};
use engine::{Seq, SessionId};
use futures::StreamExt as _;
use futures::stream::BoxStream;
use llm_runtime::Delta;
use tokio::sync::{broadcast, mpsc, watch};

use crate::errors::internal;
use crate::host::delta_view;

/// Events a read returns when the client names no limit.
pub const READ_LIMIT_DEFAULT: u32 = 100;
/// Most events one read returns.
pub const READ_LIMIT_MAX: u32 = 500;
/// Longest a read waits for a commit.
pub const WAIT_MS_MAX: u64 = 30_000;
/// Notifications buffered per subscription; a subscriber that falls this far behind
/// is disconnected rather than waited for.
pub const SUBSCRIPTION_BUFFER_MAX: usize = 1_024;
/// Entries projected per store read while catching a subscriber up.
pub const CATCH_UP_PAGE_ENTRIES: usize = 256;

pub(crate) async fn read<S: SessionLog + BlobStore>(
    store: &S,
    commits: Option<watch::Receiver<Seq>>,
    session: &SessionId,
    params: SessionEventsReadParams,
) -> Result<SessionEventsReadResult, ApiError> {
    let limit = params.limit.unwrap_or(READ_LIMIT_DEFAULT);
    if !(1..=READ_LIMIT_MAX).contains(&limit) {
        return Err(
            ApiError::invalid_params(format!("limit must be 1 to {READ_LIMIT_MAX}"))
                .with_reason("limitOutOfRange"),
        );
    }
    let wait = Duration::from_millis(params.wait_ms.unwrap_or(0).min(WAIT_MS_MAX));
    let deadline = tokio::time::Instant::now() + wait;
    // The signal was subscribed before the head is read, so a commit between the
    // two still wakes the wait below. A read that does not wait has no signal.
    let mut head_seen = head(store, session).await?;
    let Some(mut commits) = commits else {
        return page(store, session, &params, limit, head_seen).await;
    };
    commits.mark_unchanged();
    while head_seen <= params.cursor {
        match tokio::time::timeout_at(deadline, commits.changed()).await {
            Ok(Ok(())) => head_seen = head(store, session).await?,
            // The deadline passed, or the host stopped announcing commits.
            Ok(Err(_)) | Err(_) => break,
        }
    }
    page(store, session, &params, limit, head_seen).await
}

/// The events after the client's cursor, with the cursors to go on from.
async fn page<S: SessionLog + BlobStore>(
    store: &S,
    session: &SessionId,
    params: &SessionEventsReadParams,
    limit: u32,
    head_seen: Seq,
) -> Result<SessionEventsReadResult, ApiError> {
    let events =
        api_projection::views::event_views_after(store, session, params.cursor, limit as usize)
            .await?;
    let last = events.last().map(|event| event.cursor);
    Ok(SessionEventsReadResult {
        events,
        // A cursor past the head (any u64 is accepted) stays where the client put it.
        next_cursor: last.unwrap_or(params.cursor),
        // What was read may be newer than the head read before it; never the
        // client's cursor, which may be anything.
        head_cursor: head_seen.max(last.unwrap_or(0)),
    })
}

async fn head<S: SessionLog>(store: &S, session: &SessionId) -> Result<Seq, ApiError> {
    store
        .head(session)
        .await
        .map_err(|err| internal("reading the session head", err))
}

/// Committed events from `params.cursor` on, then live, interleaved with deltas.
pub(crate) fn subscribe<S: SessionLog + BlobStore + 'static>(
    store: Arc<S>,
    commits: watch::Receiver<Seq>,
    deltas: broadcast::Receiver<Delta>,
    session: SessionId,
    params: SessionSubscribeParams,
) -> BoxStream<'static, SessionNotification> {
    let (sender, receiver) = mpsc::channel(SUBSCRIPTION_BUFFER_MAX);
    let want_deltas = params.deltas.unwrap_or(true);
    tokio::spawn(forward(
        store,
        commits,
        deltas,
        session,
        params.cursor,
        want_deltas,
        sender,
    ));
    futures::stream::unfold(receiver, |mut receiver| async move {
        receiver
            .recv()
            .await
            .map(|notification| (notification, receiver))
    })
    .boxed()
}

/// Sends everything committed after `cursor` to `sender`; false when the subscriber
/// is gone, too far behind, or the store failed.
async fn catch_up<S: SessionLog + BlobStore>(
    store: &S,
    session: &SessionId,
    cursor: &mut Seq,
    sender: &mpsc::Sender<SessionNotification>,
) -> bool {
    loop {
        let events = match api_projection::views::event_views_after(
            store,
            session,
            *cursor,
            CATCH_UP_PAGE_ENTRIES,
        )
        .await
        {
            Ok(events) => events,
            Err(err) => {
                tracing::warn!(%session, error = ?err, "subscription read failed");
                return false;
            }
        };
        if events.is_empty() {
            return true;
        }
        for event in events {
            *cursor = event.cursor;
            let notification = SessionNotification::Event {
                session_id: session.to_string(),
                event,
            };
            if sender.try_send(notification).is_err() {
                return false;
            }
        }
    }
}

async fn forward<S: SessionLog + BlobStore>(
    store: Arc<S>,
    mut commits: watch::Receiver<Seq>,
    mut deltas: broadcast::Receiver<Delta>,
    session: SessionId,
    mut cursor: Seq,
    want_deltas: bool,
    sender: mpsc::Sender<SessionNotification>,
) {
    commits.mark_unchanged();
    loop {
        if !catch_up(&*store, &session, &mut cursor, &sender).await {
            return;
        }
        tokio::select! {
            changed = commits.changed() => if changed.is_err() { return },
            delta = deltas.recv(), if want_deltas => match delta {
                Ok(delta) => {
                    let notification = SessionNotification::Delta {
                        session_id: session.to_string(),
                        delta: delta_view(delta),
                    };
                    if sender.try_send(notification).is_err() {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            },
            () = sender.closed() => return,
        }
    }
}
