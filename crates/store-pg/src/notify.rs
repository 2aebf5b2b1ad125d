//! Postgres `LISTEN`/`NOTIFY` as a best-effort message bus between processes.
//!
//! Hosts use it for data that must reach other processes quickly but never needs to
//! be durable (live LLM deltas from a worker to the gateways). Delivery follows
//! Postgres: notifications reach only sessions listening at commit time, in commit
//! order per sender; a listener that reconnects misses what was sent meanwhile.
//! Payloads are opaque text; this module does not know what they mean.

use sqlx::postgres::PgListener;

use crate::PgDatabase;
use crate::db::check_identifier;
use crate::error::PgStoreError;

/// Largest payload Postgres accepts in one notification (its limit is 8000 bytes by
/// default; keep a margin for the encoding of the statement).
pub const NOTIFY_PAYLOAD_BYTES_MAX: usize = 7_900;

fn check_channel(channel: &str) -> Result<(), PgStoreError> {
    check_identifier("notification channel", channel)
}

impl PgDatabase {
    /// Sends `payloads` on `channel`, in order, in one transaction (one round trip
    /// per payload, one commit). A payload over [`NOTIFY_PAYLOAD_BYTES_MAX`] is
    /// refused before anything is sent.
    pub async fn notify(&self, channel: &str, payloads: &[String]) -> Result<(), PgStoreError> {
        check_channel(channel)?;
        if let Some(large) = payloads
            .iter()
            .find(|payload| payload.len() > NOTIFY_PAYLOAD_BYTES_MAX)
        {
            return Err(PgStoreError::Config(format!(
                "a notification payload of {} bytes exceeds {NOTIFY_PAYLOAD_BYTES_MAX}",
                large.len()
            )));
        }
        let failed = |source| PgStoreError::Query {
            what: "send a notification",
            source,
        };
        let mut tx = self.pool().begin().await.map_err(failed)?;
        for payload in payloads {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(channel)
                .bind(payload)
                .execute(&mut *tx)
                .await
                .map_err(failed)?;
        }
        tx.commit().await.map_err(failed)
    }

    /// Starts listening on `channel` on a dedicated connection (outside the pool).
    pub async fn listen(&self, channel: &str) -> Result<Notifications, PgStoreError> {
        check_channel(channel)?;
        let mut listener = PgListener::connect_with(self.pool())
            .await
            .map_err(PgStoreError::Connect)?;
        listener
            .listen(channel)
            .await
            .map_err(|source| PgStoreError::Query {
                what: "listen for notifications",
                source,
            })?;
        Ok(Notifications { listener })
    }
}

/// The notifications of one channel, as they arrive.
pub struct Notifications {
    listener: PgListener,
}

impl Notifications {
    /// The next payload. When the connection drops, the next call reconnects and
    /// listens again (what was sent in between is lost), so callers loop on errors
    /// after a pause rather than give up.
    pub async fn next(&mut self) -> Result<String, PgStoreError> {
        let notification = self
            .listener
            .recv()
            .await
            .map_err(|source| PgStoreError::Query {
                what: "receive a notification",
                source,
            })?;
        Ok(notification.payload().to_owned())
    }

    /// The next payload, or `None` when the connection was lost and listening has
    /// resumed on a new one (what was sent in between is lost: callers that must
    /// not miss anything re-read their state then). An error means the new
    /// connection could not be made.
    pub async fn next_or_resumed(&mut self) -> Result<Option<String>, PgStoreError> {
        let notification =
            self.listener
                .try_recv()
                .await
                .map_err(|source| PgStoreError::Query {
                    what: "receive a notification",
                    source,
                })?;
        Ok(notification.map(|notification| notification.payload().to_owned()))
    }

    /// A round trip on the listening connection (notifications arriving meanwhile
    /// are kept for the next receive): the server process serving it.
    pub async fn ping(&mut self) -> Result<i32, PgStoreError> {
        sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut self.listener)
            .await
            .map_err(|source| PgStoreError::Query {
                what: "ping the listening connection",
                source,
            })
    }
}

impl std::fmt::Debug for Notifications {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifications").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names_are_checked() {
        for good in ["lightspeed_deltas", "a1", "_x"] {
            assert!(check_channel(good).is_ok(), "{good}");
        }
        for bad in ["", "1a", "Deltas", "a-b", "a;listen b", &"a".repeat(64)] {
            assert!(check_channel(bad).is_err(), "{bad}");
        }
    }
}
