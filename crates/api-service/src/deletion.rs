//! `session/delete`: a session's workflow and records go; its blobs stay for
//! collection (`session_stores::collect`), which keeps whatever a fork or another
//! session still names.
//!
//! Order matters: the host retires the session first (on Temporal its workflow
//! execution is deleted, which terminates it), so nothing appends while the store
//! removes the log; a straggling activity's append then finds no session at its
//! expected head and is refused.

use api::ApiError;
use api::types::session::{SessionDeleteParams, SessionDeleteResult};
use session_stores::Retention as _;

use crate::errors::internal;
use crate::host::{SessionHost, SessionKey};
use crate::service::Service;

impl<H: SessionHost> Service<H> {
    pub(crate) async fn delete_session(
        &self,
        universe_id: &str,
        params: SessionDeleteParams,
    ) -> Result<SessionDeleteResult, ApiError> {
        let (session, control) = self
            .existing_session(universe_id, &params.session_id)
            .await?;
        let in_flight = u64::from(control.runs.active.is_some()) + control.runs.queue.len() as u64;
        if in_flight > 0 && !params.force {
            return Err(ApiError::conflict(format!(
                "session {:?} has {in_flight} run(s) active or queued; cancel them, or delete with force",
                params.session_id
            ))
            .with_reason("sessionBusy"));
        }
        let key = SessionKey::new(universe_id, &session);
        self.host
            .retire(&key)
            .await
            .map_err(|err| internal("stopping the session", err))?;
        let store = self.store(universe_id).await?;
        let deleted_events = store
            .delete_session(&session)
            .await
            .map_err(|err| internal("deleting the session's records", err))?;
        self.controls.forget(universe_id, &session);
        tracing::info!(universe = universe_id, session = %session, deleted_events, stopped_runs = in_flight, "session deleted");
        Ok(SessionDeleteResult {
            session_id: params.session_id,
            deleted_events,
            stopped_runs: in_flight,
        })
    }
}
