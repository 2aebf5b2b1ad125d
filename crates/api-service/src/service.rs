//! [`Service`]: `api::LightspeedApi` over any [`SessionHost`]. Method bodies are
//! here or in the modules they name; nothing a host implements is a method body.

use std::sync::Arc;

use api::types::blob::*;
use api::types::events::*;
use api::types::initialize::*;
use api::types::run::*;
use api::types::session::*;
use api::types::vfs::*;
use api::{ApiError, Caller, LightspeedApi};
use api_projection::items::InputLimits;
use api_projection::{blobs, vfs};
use engine::SessionId;
use engine::core::control::ControlState;
use futures::stream::BoxStream;
use session_stores::StoreProvider;

use crate::control::ControlCache;
use crate::errors::internal;
use crate::events;
use crate::host::{SessionHost, SessionKey};

type Store<H> = <<H as SessionHost>::Stores as StoreProvider>::Store;

/// Per-universe quotas and input limits the service enforces: quotas are refused
/// with `quotaExceeded`, input over its limits with `inputTooLarge`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quotas {
    /// Sessions one universe may hold (closed ones count until deleted). Checked
    /// when a new session starts; concurrent starts may pass it by a few.
    pub sessions_per_universe_max: u64,
    /// Run and steer input sizes.
    pub input: InputLimits,
}

/// Default [`Quotas::sessions_per_universe_max`].
pub const SESSIONS_PER_UNIVERSE_MAX_DEFAULT: u64 = 100_000;

impl Default for Quotas {
    fn default() -> Self {
        Self {
            sessions_per_universe_max: SESSIONS_PER_UNIVERSE_MAX_DEFAULT,
            input: InputLimits::default(),
        }
    }
}

/// Every API method over the host `H`.
pub struct Service<H> {
    pub(crate) host: H,
    controls: ControlCache,
    pub(crate) quotas: Quotas,
}

impl<H: SessionHost> Service<H> {
    pub fn new(host: H) -> Self {
        Self::with_control_cache(host, ControlCache::default())
    }

    pub fn with_control_cache(host: H, controls: ControlCache) -> Self {
        Self {
            host,
            controls,
            quotas: Quotas::default(),
        }
    }

    pub fn with_quotas(mut self, quotas: Quotas) -> Self {
        self.quotas = quotas;
        self
    }

    pub fn host(&self) -> &H {
        &self.host
    }

    pub(crate) async fn store(&self, universe_id: &str) -> Result<Arc<Store<H>>, ApiError> {
        self.host
            .stores()
            .store(universe_id)
            .await
            .map_err(|err| internal("opening the universe's store", err))
    }

    /// Committed control state, from the store.
    pub(crate) async fn control(
        &self,
        universe_id: &str,
        session: &SessionId,
    ) -> Result<ControlState, ApiError> {
        let store = self.store(universe_id).await?;
        self.controls
            .read(&*store, universe_id, session)
            .await
            .map_err(|err| internal("reading the session state", err))
    }
}

impl<H: SessionHost> LightspeedApi for Service<H> {
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
        let (session, control) = self
            .existing_session(&caller.universe_id, &params.session_id)
            .await?;
        Ok(crate::sessions::view_of(&session, &control))
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
        let universe_id = &caller.universe_id;
        let (session, _) = self
            .existing_session(universe_id, &params.session_id)
            .await?;
        let store = self.store(universe_id).await?;
        // Only a read that may wait asks the host for its commit signal (which may
        // cost it a poller).
        let commits = match params.wait_ms {
            Some(wait_ms) if wait_ms > 0 => {
                let key = SessionKey::new(universe_id, &session);
                Some(self.host.commits(&key).await)
            }
            _ => None,
        };
        events::read(&*store, commits, &session, params).await
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
        let universe_id = &caller.universe_id;
        let (session, _) = self
            .existing_session(universe_id, &params.session_id)
            .await?;
        let store = self.store(universe_id).await?;
        // Deltas are subscribed first so none published during the catch-up is lost.
        let key = SessionKey::new(universe_id, &session);
        let deltas = self.host.deltas(&key);
        let commits = self.host.commits(&key).await;
        Ok(events::subscribe(store, commits, deltas, session, params))
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
