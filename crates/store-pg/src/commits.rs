//! Commit notifications: every append transaction queues a `NOTIFY` on
//! [`COMMIT_CHANNEL`] naming its universe, session and new head, which Postgres
//! delivers to every listening connection when (and only if) the transaction
//! commits. A process listens once ([`PgDatabase::listen_commits`]) and hears the
//! commits of every worker; what a lost connection missed it re-reads
//! ([`PgDatabase::session_heads`]) once it listens again.
//!
//! Payload: `{universe}:{head}:{session}` (a UUID and digits first, so the session
//! id, which may hold `:`, is the rest). Well under Postgres's 8000-byte limit: ids
//! are at most 256 bytes.
//!
//! The channel is database-wide, not per schema: processes on other schemas of one
//! database hear each other's commits. Universes are UUIDs, so such a notice names
//! no session watched here, or at worst wakes a reader that re-reads its head.

use engine::{Seq, SessionId};
use uuid::Uuid;

use crate::PgDatabase;
use crate::error::PgStoreError;
use crate::notify::Notifications;

/// The channel commit notifications travel on.
pub const COMMIT_CHANNEL: &str = "lightspeed_commits";

/// Sessions whose heads one query re-reads at most.
const HEADS_PER_QUERY_MAX: usize = 1_000;

/// A session's head moved to `head` (or the head a re-read found).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitNotice {
    pub universe_id: Uuid,
    pub session_id: SessionId,
    pub head: Seq,
}

/// What a commit listener hears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitEvent {
    Committed(CommitNotice),
    /// The connection was lost and listening resumed on a new one: commits in
    /// between were not heard, so the heads of watched sessions must be re-read.
    Resumed,
}

pub(crate) fn payload(universe_id: Uuid, session: &SessionId, head: Seq) -> String {
    format!("{universe_id}:{head}:{session}")
}

impl CommitNotice {
    /// Decodes a payload; `None` for one this version cannot read.
    pub fn decode(payload: &str) -> Option<Self> {
        let (universe, rest) = payload.split_once(':')?;
        let (head, session) = rest.split_once(':')?;
        Some(Self {
            universe_id: Uuid::parse_str(universe).ok()?,
            session_id: SessionId::new(session).ok()?,
            head: head.parse().ok()?,
        })
    }
}

/// Commit notifications, on a connection of their own.
#[derive(Debug)]
pub struct CommitListener {
    notifications: Notifications,
}

impl CommitListener {
    /// The next commit of any universe, or [`CommitEvent::Resumed`] after a lost
    /// connection was replaced. An error means listening stopped (a reconnection
    /// failed): start over with [`PgDatabase::listen_commits`], then re-read.
    pub async fn next(&mut self) -> Result<CommitEvent, PgStoreError> {
        loop {
            match self.notifications.next_or_resumed().await? {
                None => return Ok(CommitEvent::Resumed),
                Some(payload) => match CommitNotice::decode(&payload) {
                    Some(notice) => return Ok(CommitEvent::Committed(notice)),
                    None => tracing::debug!(%payload, "skipping an unreadable commit notice"),
                },
            }
        }
    }

    /// One round trip on the listening connection, so a connection that died
    /// without a word (a half-open TCP connection never errors) is found out. The
    /// answer is the server process serving it (`pg_backend_pid`).
    pub async fn ping(&mut self) -> Result<i32, PgStoreError> {
        self.notifications.ping().await
    }
}

impl PgDatabase {
    /// Listens for the commits of every universe (one connection, outside the pool).
    pub async fn listen_commits(&self) -> Result<CommitListener, PgStoreError> {
        Ok(CommitListener {
            notifications: self.listen(COMMIT_CHANNEL).await?,
        })
    }

    /// The heads of `sessions` (0 for a session without a log), a query per
    /// thousand sessions.
    pub async fn session_heads(
        &self,
        sessions: &[(Uuid, SessionId)],
    ) -> Result<Vec<CommitNotice>, PgStoreError> {
        let mut heads = Vec::with_capacity(sessions.len());
        for chunk in sessions.chunks(HEADS_PER_QUERY_MAX) {
            let universes: Vec<Uuid> = chunk.iter().map(|(universe, _)| *universe).collect();
            let ids: Vec<&str> = chunk.iter().map(|(_, session)| session.as_str()).collect();
            let rows: Vec<(Uuid, String, i64)> = sqlx::query_as(
                "SELECT s.universe_id, s.session_id, s.head \
                 FROM UNNEST($1::uuid[], $2::text[]) AS w(universe_id, session_id) \
                 JOIN sessions AS s USING (universe_id, session_id)",
            )
            .bind(&universes)
            .bind(&ids)
            .fetch_all(self.pool())
            .await
            .map_err(|source| PgStoreError::Query {
                what: "read the heads of watched sessions",
                source,
            })?;
            for (universe_id, raw, head) in rows {
                // Rows come back for the ids asked about, which were valid.
                let Ok(session_id) = SessionId::new(raw) else {
                    continue;
                };
                heads.push(CommitNotice {
                    universe_id,
                    session_id,
                    head: u64::try_from(head).unwrap_or(0),
                });
            }
        }
        Ok(heads)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_and_foreign_ones_are_refused() {
        let universe = Uuid::new_v4();
        let session = SessionId::new("a:b.c-d_e").unwrap_or_else(|err| panic!("{err}"));
        let encoded = payload(universe, &session, 42);
        assert_eq!(
            CommitNotice::decode(&encoded),
            Some(CommitNotice {
                universe_id: universe,
                session_id: session,
                head: 42
            })
        );
        let longest = SessionId::new("s".repeat(engine::ids::ID_BYTES_MAX))
            .unwrap_or_else(|err| panic!("{err}"));
        assert!(payload(universe, &longest, u64::MAX).len() < crate::NOTIFY_PAYLOAD_BYTES_MAX);
        for bad in [
            "",
            "not-a-uuid:1:s",
            &format!("{universe}:x:s"),
            &format!("{universe}:1:"),
            &format!("{universe}:1:bad id"),
            &format!("{universe}:1"),
        ] {
            assert_eq!(CommitNotice::decode(bad), None, "{bad}");
        }
    }
}
