//! Job notifications: the submit that creates a job `NOTIFY`s [`ENV_JOBS_CHANNEL`]
//! in its own transaction (delivered on commit only) with the job's universe and
//! environment, so the gateway holding that environment's daemon wakes and claims
//! it. A listener hears every universe's jobs ([`PgDatabase::listen_env_jobs`]);
//! after its connection was replaced it hears [`EnvJobEvent::Resumed`]: jobs
//! submitted meanwhile were not announced, so it claims for every daemon it holds.
//!
//! Payload: `{universe} {environment id}`. Environment ids are at most 64 characters
//! (`migrations/0007_env.sql`), well under Postgres's 8000-byte limit. The channel
//! is database-wide, like [`crate::COMMIT_CHANNEL`]: universes are UUIDs, so a notice
//! from another schema names no environment held here, or at worst costs a claim
//! that finds nothing.

use uuid::Uuid;

use crate::PgDatabase;
use crate::error::PgStoreError;
use crate::notify::Notifications;

/// The channel job notifications travel on.
pub const ENV_JOBS_CHANNEL: &str = "lightspeed_env_jobs";

/// A job was submitted for environment `environment_id` of universe `universe_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvJobNotice {
    pub universe_id: Uuid,
    pub environment_id: String,
}

pub(crate) fn payload(universe_id: Uuid, environment_id: &str) -> String {
    format!("{universe_id} {environment_id}")
}

impl EnvJobNotice {
    /// Decodes a payload; `None` for one this version cannot read.
    pub fn decode(payload: &str) -> Option<Self> {
        let (universe, environment_id) = payload.split_once(' ')?;
        if environment_id.is_empty() || environment_id.contains(' ') {
            return None;
        }
        Some(Self {
            universe_id: Uuid::parse_str(universe).ok()?,
            environment_id: environment_id.to_owned(),
        })
    }
}

/// What a job listener hears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvJobEvent {
    Submitted(EnvJobNotice),
    /// The connection was lost and listening resumed on a new one: submits in
    /// between were not heard, so every held environment must claim again.
    Resumed,
}

/// Job notifications, on a connection of their own.
#[derive(Debug)]
pub struct EnvJobListener {
    notifications: Notifications,
}

impl EnvJobListener {
    /// The next submitted job of any universe, or [`EnvJobEvent::Resumed`] after a
    /// lost connection was replaced. An error means listening stopped (a
    /// reconnection failed): start over with [`PgDatabase::listen_env_jobs`], then
    /// claim for every held environment.
    pub async fn next(&mut self) -> Result<EnvJobEvent, PgStoreError> {
        loop {
            match self.notifications.next_or_resumed().await? {
                None => return Ok(EnvJobEvent::Resumed),
                Some(payload) => match EnvJobNotice::decode(&payload) {
                    Some(notice) => return Ok(EnvJobEvent::Submitted(notice)),
                    None => tracing::debug!(%payload, "skipping an unreadable job notice"),
                },
            }
        }
    }

    /// One round trip on the listening connection, so a connection that died
    /// without a word is found out. The answer is the server process serving it.
    pub async fn ping(&mut self) -> Result<i32, PgStoreError> {
        self.notifications.ping().await
    }
}

impl PgDatabase {
    /// Listens for the submitted jobs of every universe (one connection, outside
    /// the pool).
    pub async fn listen_env_jobs(&self) -> Result<EnvJobListener, PgStoreError> {
        Ok(EnvJobListener {
            notifications: self.listen(ENV_JOBS_CHANNEL).await?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_and_foreign_ones_are_refused() {
        let universe = Uuid::new_v4();
        let environment = "0123456789abcdef0123456789abcdef";
        assert_eq!(
            EnvJobNotice::decode(&payload(universe, environment)),
            Some(EnvJobNotice {
                universe_id: universe,
                environment_id: environment.to_owned(),
            })
        );
        assert!(payload(universe, &"e".repeat(64)).len() < crate::NOTIFY_PAYLOAD_BYTES_MAX);
        for bad in [
            "",
            "not-a-uuid e",
            &format!("{universe}"),
            &format!("{universe} "),
            &format!("{universe} a b"),
        ] {
            assert_eq!(EnvJobNotice::decode(bad), None, "{bad}");
        }
    }
}
