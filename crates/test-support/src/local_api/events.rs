//! Event reads (with long-poll) and subscriptions.

use std::sync::Arc;
use std::time::Duration;

use api::ApiError;
use api::types::events::*;
use futures::StreamExt;
use futures::stream::BoxStream;
use store_fs::FsStore;
use tokio::sync::{broadcast, mpsc};

use super::sessions::SessionHandle;

const READ_LIMIT_DEFAULT: u32 = 100;
const READ_LIMIT_MAX: u32 = 500;
const WAIT_MS_MAX: u64 = 30_000;
/// Notifications buffered per subscription; a subscriber that falls this far
/// behind is disconnected rather than waited for.
const SUBSCRIPTION_BUFFER_MAX: usize = 1_024;
/// Entries projected per store read while catching a subscriber up.
const CATCH_UP_PAGE_ENTRIES: usize = 256;

pub(super) async fn read(
    store: &FsStore,
    handle: &Arc<SessionHandle>,
    params: SessionEventsReadParams,
) -> Result<SessionEventsReadResult, ApiError> {
    let limit = params.limit.unwrap_or(READ_LIMIT_DEFAULT);
    if !(1..=READ_LIMIT_MAX).contains(&limit) {
        return Err(ApiError::invalid_params(format!(
            "limit must be 1 to {READ_LIMIT_MAX}"
        )));
    }
    let wait = Duration::from_millis(params.wait_ms.unwrap_or(0).min(WAIT_MS_MAX));
    let mut head = handle.head.subscribe();
    if *head.borrow_and_update() <= params.cursor && !wait.is_zero() {
        // Nothing newer yet: wait for the next commit, or give up at the deadline.
        let _ = tokio::time::timeout(wait, head.changed()).await;
    }
    let events = api_projection::views::event_views_after(
        store,
        &handle.session_id,
        params.cursor,
        limit as usize,
    )
    .await?;
    let next_cursor = events.last().map_or(params.cursor, |event| event.cursor);
    Ok(SessionEventsReadResult {
        events,
        next_cursor,
        head_cursor: *handle.head.borrow(),
    })
}

/// Committed events from `params.cursor` on, then live, interleaved with deltas.
pub(super) fn subscribe(
    store: Arc<FsStore>,
    handle: Arc<SessionHandle>,
    params: SessionSubscribeParams,
) -> BoxStream<'static, SessionNotification> {
    let (sender, receiver) = mpsc::channel(SUBSCRIPTION_BUFFER_MAX);
    let session_id = handle.session_id.to_string();
    let want_deltas = params.deltas.unwrap_or(true);
    tokio::spawn(async move {
        let mut head = handle.head.subscribe();
        let mut deltas = handle.deltas.subscribe();
        let mut cursor = params.cursor;
        loop {
            // Catch up on everything committed after `cursor`.
            loop {
                let events = match api_projection::views::event_views_after(
                    &*store,
                    &handle.session_id,
                    cursor,
                    CATCH_UP_PAGE_ENTRIES,
                )
                .await
                {
                    Ok(events) => events,
                    Err(err) => {
                        tracing::warn!(session = %session_id, error = %err, "subscription read failed");
                        return;
                    }
                };
                if events.is_empty() {
                    break;
                }
                for event in events {
                    cursor = event.cursor;
                    let notification = SessionNotification::Event {
                        session_id: session_id.clone(),
                        event,
                    };
                    if sender.try_send(notification).is_err() {
                        return; // Gone, or too far behind.
                    }
                }
            }
            tokio::select! {
                changed = head.changed() => if changed.is_err() { return },
                delta = deltas.recv(), if want_deltas => match delta {
                    Ok(delta) => {
                        let notification = SessionNotification::Delta { session_id: session_id.clone(), delta };
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
