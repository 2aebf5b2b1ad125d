//! What one WebSocket owes its client, bounded in messages and in bytes, and the
//! reasons the gateway closes a socket (each with its close code).
//!
//! jsonrpsee queues a socket's outbound messages in a channel bounded in messages
//! only, and parks every answer that does not fit in a task of its own. The
//! [`Outbox`] watches both: answers waiting for the channel (the message bound) and
//! bytes produced but not yet written to the TCP stream ([`OutboundBytes`], counted
//! down by `killable` as frames leave), so a few huge answers cannot hold unbounded
//! memory either.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use jsonrpsee::server::MethodResponseFuture;
use tokio::sync::{Notify, watch};

/// Why the gateway closes a WebSocket. Each reason has its Close frame: the codes
/// are RFC 6455's (§7.4.1) and IANA's registry (1013), chosen so a client can tell
/// "your fault, do not retry as is" (1008) from "retry later" (1013, 1001).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CloseReason {
    /// Answers waited for buffer room longer, or in larger number or bytes, than
    /// allowed: the client does not read. 1008 policy violation: reconnecting and
    /// reading the same way would be cut again.
    SlowReader,
    /// No call and no open subscription for the idle timeout. 1001 going away: the
    /// server is done with this socket; a client with work reconnects.
    Idle,
    /// A socket opened without a key sent no `auth/hello` within the deadline. 1008.
    AuthTimeout,
    /// `auth/hello` named no valid key, or had no valid params. 1008.
    AuthFailed,
    /// The first message of a socket opened without a key was not `auth/hello`. 1008.
    AuthRequired,
    /// Authenticated, but the universe (or the gateway) has no connection place
    /// left. 1013 try again later: the condition is temporary.
    NoPlace,
    /// The key store could not answer `auth/hello`. 1011 internal error.
    KeyStoreFailed,
    /// The socket's key was revoked (or removed) since it opened. 1008.
    KeyRevoked,
}

impl CloseReason {
    /// The Close frame's code.
    pub(crate) fn code(self) -> u16 {
        match self {
            Self::SlowReader
            | Self::AuthTimeout
            | Self::AuthFailed
            | Self::AuthRequired
            | Self::KeyRevoked => 1008,
            Self::Idle => 1001,
            Self::NoPlace => 1013,
            Self::KeyStoreFailed => 1011,
        }
    }

    /// The Close frame's reason (for people; clients branch on the code).
    pub(crate) fn text(self) -> &'static str {
        match self {
            Self::SlowReader => "outbound queue full: answers were not read in time",
            Self::Idle => "idle timeout",
            Self::AuthTimeout => "authentication timeout: send auth/hello first",
            Self::AuthFailed => "authentication failed",
            Self::KeyRevoked => "the API key was revoked",
            Self::AuthRequired => "the first message must be auth/hello",
            Self::NoPlace => "no connection place left; try again later",
            Self::KeyStoreFailed => "the key store is unavailable",
        }
    }

    /// Whether what is queued for the socket is written before the Close frame.
    /// A slow reader is cut at once (its queue is the problem); every other socket
    /// gets its last answers (e.g. the typed error that explains the close).
    pub(crate) fn drains_first(self) -> bool {
        self != Self::SlowReader
    }
}

/// Bytes of answers and notifications produced for one socket and not yet written
/// to its TCP stream.
///
/// Counted up when the gateway produces a message (the exact size of an answer; the
/// result alone for a notification, whose envelope jsonrpsee adds) and down as data
/// frames are written, saturating at zero. The few messages jsonrpsee writes on its
/// own (parse errors, subscription ends) are counted down only, so the count errs
/// low, never high: a socket is never cut for bytes it does not owe.
#[derive(Debug)]
pub(crate) struct OutboundBytes {
    pending: AtomicU64,
    max: u64,
    room: Notify,
}

impl OutboundBytes {
    pub(crate) fn new(max: u64) -> Arc<Self> {
        Arc::new(Self {
            pending: AtomicU64::new(0),
            max,
            room: Notify::new(),
        })
    }

    pub(crate) fn pending(&self) -> u64 {
        self.pending.load(Ordering::Acquire)
    }

    /// A message of `bytes` will be written.
    pub(crate) fn add(&self, bytes: u64) {
        self.pending.fetch_add(bytes, Ordering::AcqRel);
    }

    /// `bytes` of data frames were written (or a counted message was dropped).
    pub(crate) fn written(&self, bytes: u64) {
        let before = self
            .pending
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |pending| {
                Some(pending.saturating_sub(bytes))
            })
            .unwrap_or(0);
        if before >= self.max && before.saturating_sub(bytes) < self.max {
            self.room.notify_waiters();
        }
    }

    /// Whether `bytes` more fit: always when nothing is pending, so one message up
    /// to the response limit always goes.
    pub(crate) fn fits(&self, bytes: u64) -> bool {
        let pending = self.pending();
        pending == 0 || pending.saturating_add(bytes) <= self.max
    }

    /// Resolves once fewer than the bound are pending.
    async fn room(&self) {
        loop {
            let notified = self.room.notified();
            tokio::pin!(notified);
            // Registered before the check, so a write in between is not missed.
            notified.as_mut().enable();
            if self.pending() < self.max {
                return;
            }
            notified.await;
        }
    }
}

/// What one WebSocket owes its client; shared by its middleware and its methods
/// through the connection's extensions.
#[derive(Debug)]
pub(crate) struct Outbox {
    /// Answers produced but not yet in the socket's send buffer.
    waiting: AtomicU32,
    waiting_max: u32,
    reply_wait: Duration,
    /// `None` when the gateway cannot see the frames leave (mounted without
    /// [`crate::serve`]): then only messages are bounded.
    bytes: Option<Arc<OutboundBytes>>,
    subscriptions: AtomicU32,
    last_call: Mutex<Instant>,
    closing: AtomicBool,
    close: watch::Sender<Option<CloseReason>>,
}

impl Outbox {
    pub(crate) fn new(
        waiting_max: u32,
        reply_wait: Duration,
        bytes: Option<Arc<OutboundBytes>>,
    ) -> Arc<Self> {
        Arc::new(Self {
            waiting: AtomicU32::new(0),
            waiting_max,
            reply_wait,
            bytes,
            subscriptions: AtomicU32::new(0),
            last_call: Mutex::new(Instant::now()),
            closing: AtomicBool::new(false),
            close: watch::Sender::new(None),
        })
    }

    /// Asks for the socket to be closed; the first reason wins.
    pub(crate) fn close(&self, reason: CloseReason) {
        if !self.closing.swap(true, Ordering::AcqRel) {
            self.close.send_replace(Some(reason));
        }
    }

    /// A call arrived: the socket is in use.
    pub(crate) fn touch(&self) {
        *self
            .last_call
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Instant::now();
    }

    /// Waits, before a call runs, until the socket's outbound bytes are under their
    /// bound: a call whose answer could not be written anyway is not served yet. A
    /// reader that makes no room within the reply wait is cut (`false`).
    pub(crate) async fn room_for_answer(&self) -> bool {
        let Some(bytes) = &self.bytes else {
            return true;
        };
        if tokio::time::timeout(self.reply_wait, bytes.room())
            .await
            .is_ok()
        {
            return true;
        }
        self.close(CloseReason::SlowReader);
        false
    }

    /// Counts an answer of `bytes` that will be written.
    pub(crate) fn answer_queued(&self, bytes: usize) {
        if let Some(counter) = &self.bytes {
            counter.add(u64::try_from(bytes).unwrap_or(u64::MAX));
        }
    }

    /// Counts a notification of `bytes` if it fits the byte bound; `false` when it
    /// does not (the subscriber fell behind: it is dropped, the socket stays).
    pub(crate) fn notification_fits(&self, bytes: usize) -> bool {
        let Some(counter) = &self.bytes else {
            return true;
        };
        let bytes = u64::try_from(bytes).unwrap_or(u64::MAX);
        if !counter.fits(bytes) {
            return false;
        }
        counter.add(bytes);
        true
    }

    /// A notification counted by [`Self::notification_fits`] was not sent after all.
    pub(crate) fn notification_dropped(&self, bytes: usize) {
        if let Some(counter) = &self.bytes {
            counter.written(u64::try_from(bytes).unwrap_or(u64::MAX));
        }
    }

    /// Watches one answer until it is in the send buffer. An answer that cannot get
    /// there in time, or one too many waiting, means the reader fell behind: the
    /// socket is closed, which drops every waiting answer with it.
    pub(crate) fn watch_delivery(self: &Arc<Self>, delivered: MethodResponseFuture) {
        let waiting = self.waiting.fetch_add(1, Ordering::AcqRel) + 1;
        if waiting > self.waiting_max {
            self.close(CloseReason::SlowReader);
        }
        let this = Arc::clone(self);
        tokio::spawn(async move {
            // `Err` means the connection went away first: nothing more to watch.
            if tokio::time::timeout(this.reply_wait, delivered)
                .await
                .is_err()
            {
                this.close(CloseReason::SlowReader);
            }
            this.waiting.fetch_sub(1, Ordering::AcqRel);
        });
    }

    /// Counts an open subscription until the guard drops.
    pub(crate) fn subscription(self: &Arc<Self>) -> SubscriptionGuard {
        self.subscriptions.fetch_add(1, Ordering::AcqRel);
        SubscriptionGuard(Arc::clone(self))
    }

    fn idle_for(&self) -> Option<Duration> {
        if self.subscriptions.load(Ordering::Acquire) > 0
            || self.waiting.load(Ordering::Acquire) > 0
        {
            return None;
        }
        let last = *self
            .last_call
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Some(last.elapsed())
    }

    /// Resolves with the reason once the socket must close: one given to
    /// [`Self::close`], or idle for `idle_timeout`.
    pub(crate) async fn closed(self: Arc<Self>, idle_timeout: Duration) -> CloseReason {
        let mut close = self.close.subscribe();
        let check = (idle_timeout / 4).max(Duration::from_millis(10));
        loop {
            tokio::select! {
                changed = close.wait_for(Option::is_some) => {
                    // The sender lives in `self`, so it cannot be gone here.
                    return changed.ok().and_then(|reason| *reason).unwrap_or(CloseReason::SlowReader);
                }
                () = tokio::time::sleep(check) => {
                    if self.idle_for().is_some_and(|idle| idle >= idle_timeout) {
                        return CloseReason::Idle;
                    }
                }
            }
        }
    }
}

/// One open subscription of a socket.
#[derive(Debug)]
pub(crate) struct SubscriptionGuard(Arc<Outbox>);

impl Drop for SubscriptionGuard {
    fn drop(&mut self) {
        self.0.subscriptions.fetch_sub(1, Ordering::AcqRel);
        self.0.touch();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outbound_bytes_saturate_and_let_one_large_message_through() {
        let bytes = OutboundBytes::new(100);
        assert!(bytes.fits(1_000), "an empty queue takes any one message");
        bytes.add(60);
        assert!(bytes.fits(40));
        assert!(!bytes.fits(41));
        bytes.written(500);
        assert_eq!(bytes.pending(), 0);
    }

    #[tokio::test]
    async fn room_opens_when_writes_bring_the_count_under_the_bound() {
        let bytes = OutboundBytes::new(100);
        bytes.add(150);
        let waiter = tokio::spawn({
            let bytes = Arc::clone(&bytes);
            async move { bytes.room().await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished());
        bytes.written(100);
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .expect("room is announced")
            .expect("the waiter ran");
    }
}
