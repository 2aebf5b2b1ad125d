//! `session/fork`: a new session of the caller's universe that starts from another
//! one's state at an event cursor, sharing its history by reference. The store
//! writes are `engine::fork`'s; this is the method around them: ids, limits before
//! work, and each refusal as its contract error.

use api::ApiError;
use api::types::session::{SessionForkParams, SessionView};
use engine::SessionId;
use engine::core::control::Lifecycle;
use engine::core::fork::ForkError;
use engine::fork::ForkFailure;

use crate::errors::internal;
use crate::host::SessionHost;
use crate::service::Service;

impl<H: SessionHost> Service<H> {
    pub(crate) async fn fork_session(
        &self,
        universe_id: &str,
        params: SessionForkParams,
    ) -> Result<SessionView, ApiError> {
        // The source is looked up in the caller's universe only: another universe's
        // session is not found, never forked.
        let (source, _) = self
            .existing_session(universe_id, &params.session_id)
            .await?;
        let fork_id = match &params.fork_session_id {
            Some(raw) => SessionId::new(raw.as_str()).map_err(|err| {
                ApiError::invalid_params(format!("forkSessionId: {err}")).with_reason("invalidId")
            })?,
            None => crate::sessions::new_session_id()?,
        };
        if self.control(universe_id, &fork_id).await?.lifecycle != Lifecycle::Uninitialized {
            return Err(session_exists(&fork_id));
        }
        self.check_session_quota(universe_id).await?;
        let store = self.store(universe_id).await?;
        let now = crate::mcp::now_ms();
        engine::fork::fork_session(&*store, &source, params.cursor, &fork_id, now, None)
            .await
            .map_err(|failure| fork_error(failure, &fork_id))?;
        self.view(universe_id, &fork_id).await
    }
}

fn session_exists(session: &SessionId) -> ApiError {
    ApiError::conflict(format!("session {session} exists already")).with_reason("sessionExists")
}

/// A fork's failure as the error clients see.
fn fork_error(failure: ForkFailure, fork_id: &SessionId) -> ApiError {
    match failure {
        ForkFailure::CursorBeyondHead { cursor, head } => ApiError::invalid_params(format!(
            "cursor: {cursor} is beyond the session's newest event {head}"
        ))
        .with_reason("cursorBeyondHead"),
        ForkFailure::Fork(ForkError::NotOpen { seq }) => ApiError::invalid_params(format!(
            "cursor: the session was not open yet at event {seq}"
        ))
        .with_reason("cursorBeforeOpen"),
        ForkFailure::Fork(ForkError::SameSession) | ForkFailure::ForkExists(_) => {
            session_exists(fork_id)
        }
        // The safe point never has an active run: a broken invariant, not a client
        // mistake.
        ForkFailure::Fork(err @ ForkError::RunActive { .. }) => internal("forking", err),
        ForkFailure::Rehydrate(err) => internal("forking", err),
    }
}
