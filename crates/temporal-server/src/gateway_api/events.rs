//! Event reads (with long-poll) and subscriptions, from the store. New commits are
//! noticed by polling the log head: the worker that commits may run in another
//! process, so there is no in-process signal to wait on.

use std::sync::Arc;
use std::time::Duration;

use api::ApiError;
use api::types::events::*;
use engine::SessionId;
use engine::store::{BlobStore, SessionLog};
use futures::StreamExt as _;
use futures::stream::BoxStream;
use llm_runtime::DeltaKind;
use tokio::sync::{broadcast, mpsc};

use crate::deltas::DeltaHub;

const READ_LIMIT_DEFAULT: u32 = 100;
const READ_LIMIT_MAX: u32 = 500;
const WAIT_MS_MAX: u64 = 30_000;
/// How often a waiting read or a subscription looks for new commits.
const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// Notifications buffered per subscription; a subscriber that falls this far behind
/// is disconnected rather than waited for.
const SUBSCRIPTION_BUFFER_MAX: usize = 1_024;
/// Entries projected per store read while catching a subscriber up.
const CATCH_UP_PAGE_ENTRIES: usize = 256;

fn internal(err: impl std::fmt::Display) -> ApiError {
    ApiError::internal(err.to_string())
}

pub(crate) async fn read<S: SessionLog + BlobStore>(
    store: &S,
    session: &SessionId,
    params: SessionEventsReadParams,
) -> Result<SessionEventsReadResult, ApiError> {
    let limit = params.limit.unwrap_or(READ_LIMIT_DEFAULT);
    if !(1..=READ_LIMIT_MAX).contains(&limit) {
        return Err(ApiError::invalid_params(format!(
            "limit must be 1 to {READ_LIMIT_MAX}"
        )));
    }
    let wait = Duration::from_millis(params.wait_ms.unwrap_or(0).min(WAIT_MS_MAX));
    let deadline = tokio::time::Instant::now() + wait;
    let mut head = store.head(session).await.map_err(internal)?;
    while head <= params.cursor && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(POLL_INTERVAL).await;
        head = store.head(session).await.map_err(internal)?;
    }
    let events =
        api_projection::views::event_views_after(store, session, params.cursor, limit as usize)
            .await?;
    let next_cursor = events.last().map_or(params.cursor, |event| event.cursor);
    Ok(SessionEventsReadResult {
        events,
        next_cursor,
        head_cursor: head.max(next_cursor),
    })
}

fn delta_view(delta: llm_runtime::Delta) -> DeltaView {
    DeltaView {
        run_id: delta.run_id.to_string(),
        turn: delta.turn,
        output_index: delta.output_index,
        kind: match delta.kind {
            DeltaKind::Text => api::types::events::DeltaKind::Text,
            DeltaKind::Reasoning => api::types::events::DeltaKind::Reasoning,
            DeltaKind::ToolArguments => api::types::events::DeltaKind::ToolArguments,
        },
        text: delta.text,
    }
}

/// Committed events from `params.cursor` on, then live, interleaved with deltas.
pub(crate) fn subscribe<S: SessionLog + BlobStore + 'static>(
    store: Arc<S>,
    deltas: &DeltaHub,
    universe_id: &str,
    session: SessionId,
    params: SessionSubscribeParams,
) -> BoxStream<'static, SessionNotification> {
    let (sender, receiver) = mpsc::channel(SUBSCRIPTION_BUFFER_MAX);
    let want_deltas = params.deltas.unwrap_or(true);
    let mut live = deltas.subscribe(universe_id, session.as_str());
    tokio::spawn(async move {
        let session_name = session.to_string();
        let mut cursor = params.cursor;
        let mut ticker = tokio::time::interval(POLL_INTERVAL);
        loop {
            // Catch up on everything committed after `cursor`.
            loop {
                let events = match api_projection::views::event_views_after(
                    &*store,
                    &session,
                    cursor,
                    CATCH_UP_PAGE_ENTRIES,
                )
                .await
                {
                    Ok(events) => events,
                    Err(err) => {
                        tracing::warn!(session = %session_name, error = ?err, "subscription read failed");
                        return;
                    }
                };
                if events.is_empty() {
                    break;
                }
                for event in events {
                    cursor = event.cursor;
                    let notification = SessionNotification::Event {
                        session_id: session_name.clone(),
                        event,
                    };
                    if sender.try_send(notification).is_err() {
                        return; // Gone, or too far behind.
                    }
                }
            }
            tokio::select! {
                _ = ticker.tick() => {}
                delta = live.recv(), if want_deltas => match delta {
                    Ok(delta) => {
                        let notification = SessionNotification::Delta {
                            session_id: session_name.clone(),
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
    });
    futures::stream::unfold(receiver, |mut receiver| async move {
        receiver
            .recv()
            .await
            .map(|notification| (notification, receiver))
    })
    .boxed()
}
