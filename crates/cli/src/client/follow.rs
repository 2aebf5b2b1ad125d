//! Following a session: its notifications over a WebSocket subscription, resumed
//! from the last committed cursor whenever the connection drops, and over
//! `session/events/read` long polls when the WebSocket is unavailable.
//!
//! Committed events are never missed or repeated across a reconnect: each new
//! subscription starts after the cursor of the last event handed out. Live deltas
//! sent while disconnected are lost; the committed event that follows carries the
//! final item, so a reader that replaces its streamed text with committed items
//! stays correct.

use std::time::{Duration, Instant};

use api::types::events::{SessionEventsReadParams, SessionNotification};
use jsonrpsee::core::client::SubscriptionCloseReason;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{Client, ClientError};

/// Bounds of following a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FollowLimits {
    /// Consecutive failed reconnects before the follow gives up.
    pub reconnect_attempts_max: u32,
    /// Wait before the first reconnect; doubles per attempt up to the max.
    pub reconnect_backoff_ms_min: u64,
    pub reconnect_backoff_ms_max: u64,
    /// A connection that lasted this long counts as healthy: the attempts reset.
    pub healthy_connection_ms_min: u64,
    /// How long one long poll waits for news when following without WebSocket.
    pub poll_wait_ms: u64,
    /// Events per long poll.
    pub poll_events_max: u32,
    /// Updates buffered for a reader that is busy.
    pub buffer_updates_max: usize,
}

impl Default for FollowLimits {
    fn default() -> Self {
        Self {
            reconnect_attempts_max: 10,
            reconnect_backoff_ms_min: 250,
            reconnect_backoff_ms_max: 5_000,
            healthy_connection_ms_min: 30_000,
            poll_wait_ms: 10_000,
            poll_events_max: 100,
            buffer_updates_max: 1_024,
        }
    }
}

/// How notifications arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `session/subscribe`: committed events and live deltas.
    WebSocket,
    /// `session/events/read` long polls: committed events only.
    LongPoll,
}

/// The state of the connection, reported whenever it changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    Live {
        transport: Transport,
    },
    /// The connection dropped; reconnecting (`attempt` counts from 1).
    Reconnecting {
        attempt: u32,
        error: String,
    },
    /// Gave up, or the gateway refused the follow: no more updates come.
    Lost {
        error: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum FollowUpdate {
    /// Boxed: notifications are large, connection changes small.
    Notification(Box<SessionNotification>),
    Connection(Connection),
}

/// A session followed on its own task. Dropping it stops the task.
#[derive(Debug)]
pub struct Follow {
    receiver: mpsc::Receiver<FollowUpdate>,
    task: JoinHandle<()>,
}

impl Follow {
    pub(super) fn start(
        client: Client,
        session_id: String,
        cursor: u64,
        transport: Transport,
        limits: FollowLimits,
    ) -> Self {
        let (sender, receiver) = mpsc::channel(limits.buffer_updates_max.max(1));
        let follower = Follower {
            client,
            session_id,
            cursor,
            limits,
            sender,
        };
        Self {
            receiver,
            task: tokio::spawn(follower.run(transport)),
        }
    }

    /// The next update; `None` once the follow ended (after [`Connection::Lost`]).
    pub async fn next(&mut self) -> Option<FollowUpdate> {
        self.receiver.recv().await
    }

    /// The next update if one is ready.
    pub fn try_next(&mut self) -> Option<FollowUpdate> {
        self.receiver.try_recv().ok()
    }
}

impl Drop for Follow {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// How one connection ended.
enum Pass {
    /// The reader dropped the [`Follow`].
    ReaderGone,
    /// The gateway answered with an error: retrying would get the same answer.
    Refused(ClientError),
    /// The WebSocket could not be opened.
    WebSocketUnavailable(ClientError),
    /// The connection dropped.
    Dropped { healthy: bool, error: String },
}

struct Follower {
    client: Client,
    session_id: String,
    /// Cursor of the last committed event handed to the reader.
    cursor: u64,
    limits: FollowLimits,
    sender: mpsc::Sender<FollowUpdate>,
}

impl Follower {
    async fn run(mut self, mut transport: Transport) {
        let mut attempt = 0u32;
        loop {
            let pass = match transport {
                Transport::WebSocket => self.websocket().await,
                Transport::LongPoll => self.long_poll().await,
            };
            let error = match pass {
                Pass::ReaderGone => return,
                Pass::Refused(err) => return self.lost(err.to_string()).await,
                Pass::WebSocketUnavailable(ws_err) => match self.probe_http().await {
                    // HTTP works, so the WebSocket is what fails: poll instead.
                    Ok(()) => {
                        transport = Transport::LongPoll;
                        continue;
                    }
                    Err(err) if !err.is_connection() => return self.lost(err.to_string()).await,
                    Err(_) => ws_err.to_string(),
                },
                Pass::Dropped { healthy, error } => {
                    if healthy {
                        attempt = 0;
                    }
                    error
                }
            };
            attempt += 1;
            if attempt > self.limits.reconnect_attempts_max {
                let error = format!("gave up after {} reconnects: {error}", attempt - 1);
                return self.lost(error).await;
            }
            let update = Connection::Reconnecting { attempt, error };
            if !self.send(FollowUpdate::Connection(update)).await {
                return;
            }
            tokio::time::sleep(self.backoff(attempt)).await;
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u64 << attempt.saturating_sub(1).min(16);
        let ms = self
            .limits
            .reconnect_backoff_ms_min
            .saturating_mul(factor)
            .min(self.limits.reconnect_backoff_ms_max);
        Duration::from_millis(ms)
    }

    async fn send(&self, update: FollowUpdate) -> bool {
        self.sender.send(update).await.is_ok()
    }

    async fn lost(&self, error: String) {
        let _ = self
            .send(FollowUpdate::Connection(Connection::Lost { error }))
            .await;
    }

    /// Hands a notification to the reader, advancing the cursor past events.
    async fn deliver(&mut self, notification: SessionNotification) -> bool {
        if let SessionNotification::Event { event, .. } = &notification {
            self.cursor = self.cursor.max(event.cursor);
        }
        self.send(FollowUpdate::Notification(Box::new(notification)))
            .await
    }

    async fn websocket(&mut self) -> Pass {
        let started = Instant::now();
        let (ws, mut subscription) =
            match self.client.subscribe(&self.session_id, self.cursor).await {
                Ok(opened) => opened,
                Err(err) if err.is_connection() => return Pass::WebSocketUnavailable(err),
                Err(err) => return Pass::Refused(err),
            };
        let live = Connection::Live {
            transport: Transport::WebSocket,
        };
        if !self.send(FollowUpdate::Connection(live)).await {
            return Pass::ReaderGone;
        }
        let mut delivered = false;
        while let Some(item) = subscription.next().await {
            // A notification this build cannot decode (a newer gateway) is skipped;
            // a skipped event is read again after the next reconnect.
            let Ok(notification) = item else { continue };
            if !self.deliver(notification).await {
                return Pass::ReaderGone;
            }
            delivered = true;
        }
        let error = match subscription.close_reason() {
            Some(SubscriptionCloseReason::Lagged) => "the subscription fell behind".to_owned(),
            Some(SubscriptionCloseReason::ConnectionClosed) | None => {
                "the connection closed".to_owned()
            }
        };
        drop(ws);
        Pass::Dropped {
            healthy: delivered || self.lasted(started),
            error,
        }
    }

    fn lasted(&self, started: Instant) -> bool {
        started.elapsed() >= Duration::from_millis(self.limits.healthy_connection_ms_min)
    }

    /// Whether the gateway answers over HTTP at all.
    async fn probe_http(&self) -> Result<(), ClientError> {
        let params = SessionEventsReadParams {
            session_id: self.session_id.clone(),
            cursor: self.cursor,
            limit: Some(1),
            wait_ms: None,
        };
        self.client.events_read(&params).await.map(|_| ())
    }

    async fn long_poll(&mut self) -> Pass {
        let started = Instant::now();
        let (mut announced, mut delivered) = (false, false);
        loop {
            let params = SessionEventsReadParams {
                session_id: self.session_id.clone(),
                cursor: self.cursor,
                limit: Some(self.limits.poll_events_max),
                wait_ms: Some(self.limits.poll_wait_ms),
            };
            let page = match self.client.events_read(&params).await {
                Ok(page) => page,
                Err(err) if err.is_connection() => {
                    return Pass::Dropped {
                        healthy: delivered || (announced && self.lasted(started)),
                        error: err.to_string(),
                    };
                }
                Err(err) => return Pass::Refused(err),
            };
            if !announced {
                announced = true;
                let live = Connection::Live {
                    transport: Transport::LongPoll,
                };
                if !self.send(FollowUpdate::Connection(live)).await {
                    return Pass::ReaderGone;
                }
            }
            for event in page.events {
                delivered = true;
                let notification = SessionNotification::Event {
                    session_id: self.session_id.clone(),
                    event,
                };
                if !self.deliver(notification).await {
                    return Pass::ReaderGone;
                }
            }
        }
    }
}
