//! `LocalApi`: the [`api::LightspeedApi`] served in-process, for tests of the gateway
//! and clients until the Temporal runtime serves the same trait.
//!
//! Each universe has its own [`store_fs::FsStore`] root, so sessions, blobs, VFS
//! workspaces and mounts never cross tenants (the store is also the VFS catalog; the
//! `vfs/*` and `blob/*` method bodies are api-projection's, shared with the Temporal
//! backend). A session started with `tools.filesystem` set gets the file tools over
//! its mounts. Each session has a [`SessionRunner`] behind a mutex and a driver
//! task that steps it whenever there is work; admissions take the same mutex between
//! steps, so cancel and steer act at the next step boundary. Committed entries are
//! announced on a watch channel (for long-polls and subscriptions) and live deltas on
//! a broadcast channel.
//!
//! Not a production runtime: no durability beyond store-fs, no retries beyond
//! `RuntimeLlm`'s, one process.

mod events;
mod files;
mod sessions;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use api::types::blob::*;
use api::types::events::*;
use api::types::initialize::*;
use api::types::run::*;
use api::types::session::*;
use api::types::vfs::*;
use api::{ApiError, Caller, LightspeedApi};
use api_projection::{blobs, vfs};
use futures::stream::BoxStream;
use llm_runtime::{LlmRuntime, Transport};
use store_fs::FsStore;
use tokio::sync::Mutex;

use crate::runtime_llm::RetryPolicy;
use sessions::SessionHandle;

/// How the local runtime reaches providers and where it keeps data.
#[derive(Clone)]
pub struct LocalApiConfig {
    /// Root of every universe's store.
    pub data_dir: PathBuf,
    pub runtime: LlmRuntime,
    pub transport: Transport,
    pub retry: RetryPolicy,
}

/// One tenant's store and sessions.
struct Universe {
    store: Arc<FsStore>,
    sessions: Mutex<BTreeMap<String, Arc<SessionHandle>>>,
}

pub struct LocalApi {
    config: LocalApiConfig,
    universes: Mutex<BTreeMap<String, Arc<Universe>>>,
}

fn internal(err: impl std::fmt::Display) -> ApiError {
    ApiError::internal(err.to_string())
}

impl LocalApi {
    pub fn new(config: LocalApiConfig) -> Self {
        Self {
            config,
            universes: Mutex::new(BTreeMap::new()),
        }
    }

    async fn universe(&self, caller: &Caller) -> Result<Arc<Universe>, ApiError> {
        let mut universes = self.universes.lock().await;
        if let Some(universe) = universes.get(&caller.universe_id) {
            return Ok(universe.clone());
        }
        // Universe ids come from the key store, not from clients; still, keep them
        // to path-safe characters so a bad record cannot escape the data dir.
        if caller.universe_id.is_empty()
            || !caller
                .universe_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(ApiError::internal("universe id is not path-safe"));
        }
        let root = self
            .config
            .data_dir
            .join("universes")
            .join(&caller.universe_id);
        let store = Arc::new(FsStore::open(&root).map_err(internal)?);
        let universe = Arc::new(Universe {
            store,
            sessions: Mutex::new(BTreeMap::new()),
        });
        universes.insert(caller.universe_id.clone(), universe.clone());
        Ok(universe)
    }

    async fn session(
        &self,
        caller: &Caller,
        session_id: &str,
    ) -> Result<(Arc<Universe>, Arc<SessionHandle>), ApiError> {
        let universe = self.universe(caller).await?;
        let handle = universe.sessions.lock().await.get(session_id).cloned();
        match handle {
            Some(handle) => Ok((universe, handle)),
            None => Err(ApiError::not_found(format!("no session {session_id:?}"))
                .with_reason("sessionNotFound")),
        }
    }
}

impl LightspeedApi for LocalApi {
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
        let universe = self.universe(caller).await?;
        sessions::start(&self.config, &universe, params).await
    }

    async fn session_read(
        &self,
        caller: &Caller,
        params: SessionRef,
    ) -> Result<SessionView, ApiError> {
        let (_, handle) = self.session(caller, &params.session_id).await?;
        Ok(handle.view().await)
    }

    async fn session_list(
        &self,
        caller: &Caller,
        params: SessionListParams,
    ) -> Result<SessionListResult, ApiError> {
        let universe = self.universe(caller).await?;
        sessions::list(&universe, params).await
    }

    async fn session_update(
        &self,
        caller: &Caller,
        params: SessionUpdateParams,
    ) -> Result<SessionView, ApiError> {
        let (_, handle) = self.session(caller, &params.session_id).await?;
        handle.update(params.expected_revision, &params.patch).await
    }

    async fn session_close(
        &self,
        caller: &Caller,
        params: SessionRef,
    ) -> Result<SessionView, ApiError> {
        let (_, handle) = self.session(caller, &params.session_id).await?;
        handle.close().await
    }

    async fn session_events_read(
        &self,
        caller: &Caller,
        params: SessionEventsReadParams,
    ) -> Result<SessionEventsReadResult, ApiError> {
        let (universe, handle) = self.session(caller, &params.session_id).await?;
        events::read(&universe.store, &handle, params).await
    }

    async fn run_start(
        &self,
        caller: &Caller,
        params: RunStartParams,
    ) -> Result<RunStartResult, ApiError> {
        let (_, handle) = self.session(caller, &params.session_id).await?;
        handle.start_run(params).await
    }

    async fn run_cancel(
        &self,
        caller: &Caller,
        params: RunCancelParams,
    ) -> Result<RunAccepted, ApiError> {
        let (_, handle) = self.session(caller, &params.session_id).await?;
        handle.cancel(params).await
    }

    async fn run_steer(
        &self,
        caller: &Caller,
        params: RunSteerParams,
    ) -> Result<RunAccepted, ApiError> {
        let (_, handle) = self.session(caller, &params.session_id).await?;
        handle.steer(params).await
    }

    async fn blob_put(
        &self,
        caller: &Caller,
        params: BlobPutParams,
    ) -> Result<BlobPutResult, ApiError> {
        blobs::put(&*self.universe(caller).await?.store, params).await
    }

    async fn blob_get(
        &self,
        caller: &Caller,
        params: BlobGetParams,
    ) -> Result<BlobGetResult, ApiError> {
        blobs::get(&*self.universe(caller).await?.store, params).await
    }

    async fn blob_has_many(
        &self,
        caller: &Caller,
        params: BlobHasManyParams,
    ) -> Result<BlobHasManyResult, ApiError> {
        blobs::has_many(&*self.universe(caller).await?.store, params).await
    }

    async fn vfs_snapshot_commit(
        &self,
        caller: &Caller,
        params: VfsSnapshotCommitParams,
    ) -> Result<VfsSnapshotView, ApiError> {
        vfs::snapshot_commit(&*self.universe(caller).await?.store, params).await
    }

    async fn vfs_snapshot_read(
        &self,
        caller: &Caller,
        params: VfsSnapshotReadParams,
    ) -> Result<VfsSnapshotReadResult, ApiError> {
        vfs::snapshot_read(&*self.universe(caller).await?.store, params).await
    }

    async fn vfs_workspace_create(
        &self,
        caller: &Caller,
        params: VfsWorkspaceCreateParams,
    ) -> Result<VfsWorkspaceView, ApiError> {
        vfs::workspace_create(&*self.universe(caller).await?.store, params).await
    }

    async fn vfs_workspace_read(
        &self,
        caller: &Caller,
        params: VfsWorkspaceRef,
    ) -> Result<VfsWorkspaceView, ApiError> {
        vfs::workspace_read(&*self.universe(caller).await?.store, params).await
    }

    async fn vfs_workspace_update(
        &self,
        caller: &Caller,
        params: VfsWorkspaceUpdateParams,
    ) -> Result<VfsWorkspaceView, ApiError> {
        vfs::workspace_update(&*self.universe(caller).await?.store, params).await
    }

    async fn vfs_workspace_delete(
        &self,
        caller: &Caller,
        params: VfsWorkspaceDeleteParams,
    ) -> Result<VfsWorkspaceDeleteResult, ApiError> {
        vfs::workspace_delete(&*self.universe(caller).await?.store, params).await
    }

    async fn vfs_mount_put(
        &self,
        caller: &Caller,
        params: VfsMountPutParams,
    ) -> Result<VfsMountView, ApiError> {
        vfs::mount_put(&*self.universe(caller).await?.store, params).await
    }

    async fn vfs_mount_delete(
        &self,
        caller: &Caller,
        params: VfsMountDeleteParams,
    ) -> Result<VfsMountDeleteResult, ApiError> {
        vfs::mount_delete(&*self.universe(caller).await?.store, params).await
    }

    async fn vfs_mount_list(
        &self,
        caller: &Caller,
        params: VfsMountListParams,
    ) -> Result<VfsMountListResult, ApiError> {
        vfs::mount_list(&*self.universe(caller).await?.store, params).await
    }

    async fn session_subscribe(
        &self,
        caller: &Caller,
        params: SessionSubscribeParams,
    ) -> Result<BoxStream<'static, SessionNotification>, ApiError> {
        let (universe, handle) = self.session(caller, &params.session_id).await?;
        Ok(events::subscribe(universe.store.clone(), handle, params))
    }

    async fn blob_put_bytes(
        &self,
        caller: &Caller,
        blob_ref: String,
        bytes: Vec<u8>,
    ) -> Result<BlobPutResult, ApiError> {
        blobs::put_bytes(&*self.universe(caller).await?.store, &blob_ref, bytes).await
    }

    async fn blob_get_bytes(&self, caller: &Caller, blob_ref: String) -> Result<Vec<u8>, ApiError> {
        blobs::get_bytes(&*self.universe(caller).await?.store, &blob_ref).await
    }
}
