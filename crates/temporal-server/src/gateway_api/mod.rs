//! `TemporalApi`: [`api::LightspeedApi`] served by session workflows.
//!
//! Writes go through the session's workflow (`admit` update with start: the reply
//! comes once the command is committed, or as a typed rejection); reads come from the
//! store (control state cached and advanced by the log tail, events projected from
//! the log), so they work while no worker runs and never wait behind a generation.
//! Live deltas come from the [`DeltaHub`] (in process, or relayed through Postgres).
//! Sessions are listed from the store's index of the universe
//! ([`crate::stores::SessionIndex`]), never from Temporal's visibility store.
//!
//! A session started with a `filesystem` mode gets the file tools registered right
//! after it opens (api-projection builds the command, as for the in-process backend);
//! the worker serves them over the session's mounts. The optional `vfs/*` methods
//! run api-projection's shared bodies over the universe's store, which is also its
//! VFS catalog, so they need `P::Store: VfsCatalog`.

mod events;
mod sessions;
mod state;

use std::sync::Arc;

use ::vfs::VfsCatalog;
use api::types::blob::*;
use api::types::events::*;
use api::types::initialize::*;
use api::types::run::*;
use api::types::session::*;
use api::types::vfs::*;
use api::{ApiError, Caller, LightspeedApi};
use api_projection::{blobs, vfs};
use engine::SessionId;
use engine::core::control::{ControlState, Lifecycle};
use futures::stream::BoxStream;

use crate::deltas::DeltaHub;
use crate::sessions::SessionClient;
use crate::stores::{SessionIndex as _, StoreProvider};
use state::ControlCache;

pub struct TemporalApi<P> {
    sessions: SessionClient,
    stores: Arc<P>,
    deltas: Arc<DeltaHub>,
    controls: ControlCache,
}

fn internal(err: impl std::fmt::Display) -> ApiError {
    ApiError::internal(err.to_string())
}

fn session_not_found(session: &str) -> ApiError {
    ApiError::not_found(format!("no session {session:?}")).with_reason("sessionNotFound")
}

impl<P: StoreProvider> TemporalApi<P> {
    pub fn new(sessions: SessionClient, stores: Arc<P>, deltas: Arc<DeltaHub>) -> Self {
        Self {
            sessions,
            stores,
            deltas,
            controls: ControlCache::default(),
        }
    }

    async fn store(&self, universe_id: &str) -> Result<Arc<P::Store>, ApiError> {
        self.stores.store(universe_id).await.map_err(internal)
    }

    /// Committed control state, from the store.
    async fn control(
        &self,
        universe_id: &str,
        session: &SessionId,
    ) -> Result<ControlState, ApiError> {
        let store = self.store(universe_id).await?;
        self.controls
            .read(&*store, universe_id, session)
            .await
            .map_err(internal)
    }

    /// The session named `raw`, if it was ever opened in this universe.
    async fn existing_session(&self, universe_id: &str, raw: &str) -> Result<SessionId, ApiError> {
        let session = api_projection::inputs::session_id(raw)?;
        let control = self.control(universe_id, &session).await?;
        if control.lifecycle == Lifecycle::Uninitialized {
            return Err(session_not_found(raw));
        }
        Ok(session)
    }

    async fn view(&self, universe_id: &str, session: &SessionId) -> Result<SessionView, ApiError> {
        let control = self.control(universe_id, session).await?;
        if control.lifecycle == Lifecycle::Uninitialized {
            return Err(session_not_found(session.as_str()));
        }
        let filesystem = api_projection::filesystem::session_filesystem(&control);
        Ok(api_projection::views::session_view(
            session, &control, filesystem,
        ))
    }

    async fn list(
        &self,
        universe_id: &str,
        params: SessionListParams,
    ) -> Result<SessionListResult, ApiError> {
        let store = self.store(universe_id).await?;
        let ids = store.session_ids().await.map_err(internal)?;
        let mut summaries = Vec::with_capacity(ids.len());
        for session in ids {
            let control = self.control(universe_id, &session).await?;
            if control.lifecycle != Lifecycle::Uninitialized {
                summaries.push(api_projection::views::session_summary(&session, &control));
            }
        }
        api_projection::views::session_page(summaries, &params)
    }
}

impl<P: StoreProvider> LightspeedApi for TemporalApi<P>
where
    P::Store: VfsCatalog,
{
    async fn initialize(
        &self,
        caller: &Caller,
        _params: InitializeParams,
    ) -> Result<InitializeResult, ApiError> {
        Ok(api::handshake(&caller.universe_id, |_| true))
    }

    async fn session_start(
        &self,
        caller: &Caller,
        params: SessionStartParams,
    ) -> Result<SessionView, ApiError> {
        self.start_session(&caller.universe_id, params).await
    }

    async fn session_read(
        &self,
        caller: &Caller,
        params: SessionRef,
    ) -> Result<SessionView, ApiError> {
        let session = self
            .existing_session(&caller.universe_id, &params.session_id)
            .await?;
        self.view(&caller.universe_id, &session).await
    }

    async fn session_list(
        &self,
        caller: &Caller,
        params: SessionListParams,
    ) -> Result<SessionListResult, ApiError> {
        self.list(&caller.universe_id, params).await
    }

    async fn session_update(
        &self,
        caller: &Caller,
        params: SessionUpdateParams,
    ) -> Result<SessionView, ApiError> {
        self.update_session(&caller.universe_id, params).await
    }

    async fn session_close(
        &self,
        caller: &Caller,
        params: SessionRef,
    ) -> Result<SessionView, ApiError> {
        self.close_session(&caller.universe_id, params).await
    }

    async fn session_events_read(
        &self,
        caller: &Caller,
        params: SessionEventsReadParams,
    ) -> Result<SessionEventsReadResult, ApiError> {
        let session = self
            .existing_session(&caller.universe_id, &params.session_id)
            .await?;
        let store = self.store(&caller.universe_id).await?;
        events::read(&*store, &session, params).await
    }

    async fn run_start(
        &self,
        caller: &Caller,
        params: RunStartParams,
    ) -> Result<RunStartResult, ApiError> {
        self.start_run(&caller.universe_id, params).await
    }

    async fn run_cancel(
        &self,
        caller: &Caller,
        params: RunCancelParams,
    ) -> Result<RunAccepted, ApiError> {
        self.cancel_run(&caller.universe_id, params).await
    }

    async fn run_steer(
        &self,
        caller: &Caller,
        params: RunSteerParams,
    ) -> Result<RunAccepted, ApiError> {
        self.steer_run(&caller.universe_id, params).await
    }

    async fn blob_put(
        &self,
        caller: &Caller,
        params: BlobPutParams,
    ) -> Result<BlobPutResult, ApiError> {
        blobs::put(&*self.store(&caller.universe_id).await?, params).await
    }

    async fn blob_get(
        &self,
        caller: &Caller,
        params: BlobGetParams,
    ) -> Result<BlobGetResult, ApiError> {
        blobs::get(&*self.store(&caller.universe_id).await?, params).await
    }

    async fn blob_has_many(
        &self,
        caller: &Caller,
        params: BlobHasManyParams,
    ) -> Result<BlobHasManyResult, ApiError> {
        blobs::has_many(&*self.store(&caller.universe_id).await?, params).await
    }

    async fn vfs_snapshot_commit(
        &self,
        caller: &Caller,
        params: VfsSnapshotCommitParams,
    ) -> Result<VfsSnapshotView, ApiError> {
        vfs::snapshot_commit(&*self.store(&caller.universe_id).await?, params).await
    }

    async fn vfs_snapshot_read(
        &self,
        caller: &Caller,
        params: VfsSnapshotReadParams,
    ) -> Result<VfsSnapshotReadResult, ApiError> {
        vfs::snapshot_read(&*self.store(&caller.universe_id).await?, params).await
    }

    async fn vfs_workspace_create(
        &self,
        caller: &Caller,
        params: VfsWorkspaceCreateParams,
    ) -> Result<VfsWorkspaceView, ApiError> {
        vfs::workspace_create(&*self.store(&caller.universe_id).await?, params).await
    }

    async fn vfs_workspace_read(
        &self,
        caller: &Caller,
        params: VfsWorkspaceRef,
    ) -> Result<VfsWorkspaceView, ApiError> {
        vfs::workspace_read(&*self.store(&caller.universe_id).await?, params).await
    }

    async fn vfs_workspace_update(
        &self,
        caller: &Caller,
        params: VfsWorkspaceUpdateParams,
    ) -> Result<VfsWorkspaceView, ApiError> {
        vfs::workspace_update(&*self.store(&caller.universe_id).await?, params).await
    }

    async fn vfs_workspace_delete(
        &self,
        caller: &Caller,
        params: VfsWorkspaceDeleteParams,
    ) -> Result<VfsWorkspaceDeleteResult, ApiError> {
        vfs::workspace_delete(&*self.store(&caller.universe_id).await?, params).await
    }

    async fn vfs_mount_put(
        &self,
        caller: &Caller,
        params: VfsMountPutParams,
    ) -> Result<VfsMountView, ApiError> {
        vfs::mount_put(&*self.store(&caller.universe_id).await?, params).await
    }

    async fn vfs_mount_delete(
        &self,
        caller: &Caller,
        params: VfsMountDeleteParams,
    ) -> Result<VfsMountDeleteResult, ApiError> {
        vfs::mount_delete(&*self.store(&caller.universe_id).await?, params).await
    }

    async fn vfs_mount_list(
        &self,
        caller: &Caller,
        params: VfsMountListParams,
    ) -> Result<VfsMountListResult, ApiError> {
        vfs::mount_list(&*self.store(&caller.universe_id).await?, params).await
    }

    async fn session_subscribe(
        &self,
        caller: &Caller,
        params: SessionSubscribeParams,
    ) -> Result<BoxStream<'static, SessionNotification>, ApiError> {
        let session = self
            .existing_session(&caller.universe_id, &params.session_id)
            .await?;
        let store = self.store(&caller.universe_id).await?;
        Ok(events::subscribe(
            store,
            &self.deltas,
            &caller.universe_id,
            session,
            params,
        ))
    }

    async fn blob_put_bytes(
        &self,
        caller: &Caller,
        blob_ref: String,
        bytes: Vec<u8>,
    ) -> Result<BlobPutResult, ApiError> {
        blobs::put_bytes(&*self.store(&caller.universe_id).await?, &blob_ref, bytes).await
    }

    async fn blob_get_bytes(&self, caller: &Caller, blob_ref: String) -> Result<Vec<u8>, ApiError> {
        blobs::get_bytes(&*self.store(&caller.universe_id).await?, &blob_ref).await
    }
}
