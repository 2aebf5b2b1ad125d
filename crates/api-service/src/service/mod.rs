//! [`Service`]: `api::LightspeedApi` over any [`SessionHost`]. Method bodies are
//! here or in the modules they name; nothing a host implements is a method body.

use api::types::auth::*;
use api::types::blob::*;
use api::types::context::*;
use api::types::env::*;
use api::types::events::*;
use api::types::initialize::*;
use api::types::intake::*;
use api::types::mcp::*;
use api::types::memory::*;
use api::types::models::*;
use api::types::operator::*;
use api::types::run::*;
use api::types::schedule::*;
use api::types::session::*;
use api::types::universe::*;
use api::types::vfs::*;
use api::{ApiError, Caller, LightspeedApi};
use api_projection::{blobs, vfs};
use futures::stream::BoxStream;
use session_stores::StoreProvider;

use crate::events;
use crate::host::{SessionHost, SessionKey};

mod state;

pub use crate::quotas::{
    Quotas, RUNS_IN_FLIGHT_PER_UNIVERSE_MAX_DEFAULT, SESSIONS_PER_UNIVERSE_MAX_DEFAULT,
    STORED_BYTES_PER_UNIVERSE_MAX_DEFAULT,
};

pub use state::Service;
pub(crate) use state::Store;

impl<H: SessionHost> LightspeedApi for Service<H> {
    async fn initialize(
        &self,
        caller: &Caller,
        _params: InitializeParams,
    ) -> Result<InitializeResult, ApiError> {
        Ok(api::handshake(&caller.universe_id, |_| true))
    }

    async fn models_list(
        &self,
        _caller: &Caller,
        _params: ModelsListParams,
    ) -> Result<ModelsListResult, ApiError> {
        Ok(api_projection::views::models_list(&self.models))
    }

    async fn universe_usage(
        &self,
        caller: &Caller,
        _params: UniverseUsageParams,
    ) -> Result<UniverseUsageView, ApiError> {
        self.read_universe_usage(&caller.universe_id).await
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
        self.view_with_waiting(&caller.universe_id, &session, &control)
            .await
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

    async fn session_delete(
        &self,
        caller: &Caller,
        params: SessionDeleteParams,
    ) -> Result<SessionDeleteResult, ApiError> {
        self.delete_session(&caller.universe_id, params).await
    }

    async fn session_fork(
        &self,
        caller: &Caller,
        params: SessionForkParams,
    ) -> Result<SessionView, ApiError> {
        self.fork_session(&caller.universe_id, params).await
    }

    async fn session_compact(
        &self,
        caller: &Caller,
        params: SessionCompactParams,
    ) -> Result<SessionCompactResult, ApiError> {
        self.compact_session(&caller.universe_id, params).await
    }

    async fn session_skills_list(
        &self,
        caller: &Caller,
        params: SessionRef,
    ) -> Result<SessionSkillsListResult, ApiError> {
        self.list_skills(&caller.universe_id, params).await
    }

    async fn session_skills_activate(
        &self,
        caller: &Caller,
        params: SessionSkillParams,
    ) -> Result<SkillView, ApiError> {
        self.activate_skill(&caller.universe_id, params).await
    }

    async fn session_skills_deactivate(
        &self,
        caller: &Caller,
        params: SessionSkillParams,
    ) -> Result<SkillView, ApiError> {
        self.deactivate_skill(&caller.universe_id, params).await
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
        // Only a read that may wait watches the session's commits (a watched session
        // is one more head for a reconnected listener to re-read).
        let commits = match params.wait_ms {
            Some(wait_ms) if wait_ms > 0 => Some(self.host.stores().commits(universe_id, &session)),
            _ => None,
        };
        events::read(&*store, commits, &session, params).await
    }

    async fn events_ingest(
        &self,
        caller: &Caller,
        params: EventIngestParams,
    ) -> Result<EventIngestResult, ApiError> {
        self.ingest_event(&caller.universe_id, params).await
    }

    async fn operator_dispatch_pause(
        &self,
        _caller: &Caller,
        params: DispatchParams,
    ) -> Result<DispatchView, ApiError> {
        self.set_dispatch(params, true).await
    }

    async fn operator_dispatch_resume(
        &self,
        _caller: &Caller,
        params: DispatchParams,
    ) -> Result<DispatchView, ApiError> {
        self.set_dispatch(params, false).await
    }

    async fn operator_runs_list(
        &self,
        _caller: &Caller,
        params: OperatorRunsListParams,
    ) -> Result<OperatorRunsListResult, ApiError> {
        self.list_runs_in_flight(params).await
    }

    async fn operator_runs_cancel(
        &self,
        _caller: &Caller,
        params: OperatorRunCancelParams,
    ) -> Result<RunAccepted, ApiError> {
        self.cancel_run_as_operator(params).await
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

    async fn session_wake_ups_cancel(
        &self,
        caller: &Caller,
        params: SessionWakeUpCancelParams,
    ) -> Result<SessionView, ApiError> {
        self.cancel_wake_up(&caller.universe_id, params).await
    }

    async fn run_approve(
        &self,
        caller: &Caller,
        params: RunApproveParams,
    ) -> Result<RunAccepted, ApiError> {
        self.approve_run(&caller.universe_id, params).await
    }

    async fn run_deny(
        &self,
        caller: &Caller,
        params: RunDenyParams,
    ) -> Result<RunAccepted, ApiError> {
        self.deny_run(&caller.universe_id, params).await
    }

    async fn blob_put(
        &self,
        caller: &Caller,
        params: BlobPutParams,
    ) -> Result<BlobPutResult, ApiError> {
        let store = self.store(&caller.universe_id).await?;
        blobs::put(&*store, &self.content_gate(&*store), params).await
    }

    async fn blob_get(
        &self,
        caller: &Caller,
        params: BlobGetParams,
    ) -> Result<BlobGetResult, ApiError> {
        blobs::get(&*self.store(&caller.universe_id).await?, params).await
    }

    async fn blob_pin(
        &self,
        caller: &Caller,
        params: BlobPinParams,
    ) -> Result<BlobPinView, ApiError> {
        self.pin_blob(&caller.universe_id, params).await
    }

    async fn blob_unpin(
        &self,
        caller: &Caller,
        params: BlobPinParams,
    ) -> Result<BlobUnpinResult, ApiError> {
        self.unpin_blob(&caller.universe_id, params).await
    }

    async fn blob_pins_list(
        &self,
        caller: &Caller,
        params: BlobPinsListParams,
    ) -> Result<BlobPinsListResult, ApiError> {
        self.pins_list(&caller.universe_id, params).await
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
        let store = self.store(&caller.universe_id).await?;
        vfs::snapshot_commit(&*store, &self.content_gate(&*store), params).await
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

    async fn environments_create(
        &self,
        caller: &Caller,
        params: EnvironmentCreateParams,
    ) -> Result<EnvironmentCreated, ApiError> {
        self.env_create(&caller.universe_id, params).await
    }

    async fn environments_read(
        &self,
        caller: &Caller,
        params: EnvironmentRef,
    ) -> Result<EnvironmentView, ApiError> {
        self.env_read(&caller.universe_id, &params.name).await
    }

    async fn environments_list(
        &self,
        caller: &Caller,
        _params: EnvironmentListParams,
    ) -> Result<EnvironmentListResult, ApiError> {
        self.env_list(&caller.universe_id).await
    }

    async fn environments_delete(
        &self,
        caller: &Caller,
        params: EnvironmentRef,
    ) -> Result<EnvironmentDeleteResult, ApiError> {
        self.env_delete(&caller.universe_id, &params.name).await
    }

    async fn session_environments_attach(
        &self,
        caller: &Caller,
        params: SessionEnvironmentAttachParams,
    ) -> Result<SessionEnvironmentView, ApiError> {
        self.env_attach(&caller.universe_id, params).await
    }

    async fn session_environments_detach(
        &self,
        caller: &Caller,
        params: SessionEnvironmentDetachParams,
    ) -> Result<SessionEnvironmentDetachResult, ApiError> {
        self.env_detach(&caller.universe_id, params).await
    }

    async fn session_environments_list(
        &self,
        caller: &Caller,
        params: SessionEnvironmentListParams,
    ) -> Result<SessionEnvironmentListResult, ApiError> {
        self.env_attachments(&caller.universe_id, params).await
    }

    async fn environment_authorize(
        &self,
        token: String,
    ) -> Result<api::types::env::EnvironmentGrant, ApiError> {
        self.env_authorize(token).await
    }

    async fn environment_serve(
        &self,
        grant: api::types::env::EnvironmentGrant,
        socket: api::types::env::EnvSocket,
    ) {
        self.env_serve(grant, socket).await;
    }

    async fn mcp_servers_put(
        &self,
        caller: &Caller,
        params: McpServerPutParams,
    ) -> Result<McpServerView, ApiError> {
        self.mcp_put(&caller.universe_id, params).await
    }

    async fn mcp_servers_read(
        &self,
        caller: &Caller,
        params: McpServerRef,
    ) -> Result<McpServerView, ApiError> {
        self.mcp_read(&caller.universe_id, &params.name).await
    }

    async fn mcp_servers_list(
        &self,
        caller: &Caller,
        _params: McpServerListParams,
    ) -> Result<McpServerListResult, ApiError> {
        self.mcp_list(&caller.universe_id).await
    }

    async fn mcp_servers_delete(
        &self,
        caller: &Caller,
        params: McpServerRef,
    ) -> Result<McpServerDeleteResult, ApiError> {
        self.mcp_delete(&caller.universe_id, &params.name).await
    }

    async fn auth_secrets_put(
        &self,
        caller: &Caller,
        params: AuthSecretPutParams,
    ) -> Result<AuthSecretView, ApiError> {
        self.secret_put(&caller.universe_id, params).await
    }

    async fn auth_secrets_list(
        &self,
        caller: &Caller,
        _params: AuthSecretListParams,
    ) -> Result<AuthSecretListResult, ApiError> {
        self.secret_list(&caller.universe_id).await
    }

    async fn auth_secrets_delete(
        &self,
        caller: &Caller,
        params: AuthSecretDeleteParams,
    ) -> Result<AuthSecretDeleteResult, ApiError> {
        self.secret_delete(&caller.universe_id, &params.name).await
    }

    async fn auth_flows_start(
        &self,
        caller: &Caller,
        params: AuthFlowStartParams,
    ) -> Result<AuthFlowView, ApiError> {
        self.flow_start(&caller.universe_id, params).await
    }

    async fn auth_flows_read(
        &self,
        caller: &Caller,
        params: AuthFlowRef,
    ) -> Result<AuthFlowView, ApiError> {
        self.flow_read(&caller.universe_id, &params.flow_id).await
    }

    async fn auth_grants_list(
        &self,
        caller: &Caller,
        _params: AuthGrantListParams,
    ) -> Result<AuthGrantListResult, ApiError> {
        self.grant_list(&caller.universe_id).await
    }

    async fn auth_grants_revoke(
        &self,
        caller: &Caller,
        params: AuthGrantRef,
    ) -> Result<AuthGrantView, ApiError> {
        self.grant_revoke(&caller.universe_id, &params.grant_id)
            .await
    }

    async fn auth_callback(
        &self,
        state: Option<String>,
        code: Option<String>,
        error: Option<String>,
    ) -> Result<String, ApiError> {
        self.complete_auth_callback(crate::auth::AuthCallback { state, code, error })
            .await
    }

    async fn session_mcp_link(
        &self,
        caller: &Caller,
        params: SessionMcpLinkParams,
    ) -> Result<SessionMcpLinkView, ApiError> {
        self.mcp_link(&caller.universe_id, params).await
    }

    async fn session_mcp_unlink(
        &self,
        caller: &Caller,
        params: SessionMcpUnlinkParams,
    ) -> Result<SessionMcpUnlinkResult, ApiError> {
        self.mcp_unlink(&caller.universe_id, params).await
    }

    async fn session_mcp_list(
        &self,
        caller: &Caller,
        params: SessionMcpListParams,
    ) -> Result<SessionMcpListResult, ApiError> {
        self.mcp_links(&caller.universe_id, params).await
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
        let commits = self.host.stores().commits(universe_id, &session);
        Ok(events::subscribe(store, commits, deltas, session, params))
    }

    async fn blob_put_bytes(
        &self,
        caller: &Caller,
        blob_ref: String,
        bytes: Vec<u8>,
    ) -> Result<BlobPutResult, ApiError> {
        let store = self.store(&caller.universe_id).await?;
        blobs::put_bytes(&*store, &self.content_gate(&*store), &blob_ref, bytes).await
    }

    async fn blob_get_bytes(&self, caller: &Caller, blob_ref: String) -> Result<Vec<u8>, ApiError> {
        blobs::get_bytes(&*self.store(&caller.universe_id).await?, &blob_ref).await
    }

    async fn memory_blocks_create(
        &self,
        caller: &Caller,
        params: MemoryBlockCreateParams,
    ) -> Result<MemoryBlockView, ApiError> {
        self.memory_block_create(&caller.universe_id, params).await
    }

    async fn memory_blocks_read(
        &self,
        caller: &Caller,
        params: MemoryBlockRef,
    ) -> Result<MemoryBlockView, ApiError> {
        self.memory_block_read(&caller.universe_id, params).await
    }

    async fn memory_blocks_list(
        &self,
        caller: &Caller,
        _params: MemoryBlockListParams,
    ) -> Result<MemoryBlockListResult, ApiError> {
        self.memory_block_list(&caller.universe_id).await
    }

    async fn memory_blocks_update(
        &self,
        caller: &Caller,
        params: MemoryBlockUpdateParams,
    ) -> Result<MemoryBlockView, ApiError> {
        self.memory_block_update(&caller.universe_id, params).await
    }

    async fn memory_blocks_delete(
        &self,
        caller: &Caller,
        params: MemoryBlockDeleteParams,
    ) -> Result<MemoryBlockDeleteResult, ApiError> {
        self.memory_block_delete(&caller.universe_id, params).await
    }

    async fn session_memory_attach(
        &self,
        caller: &Caller,
        params: SessionMemoryAttachParams,
    ) -> Result<SessionMemoryAttachResult, ApiError> {
        self.memory_attach(&caller.universe_id, params).await
    }

    async fn session_memory_detach(
        &self,
        caller: &Caller,
        params: SessionMemoryDetachParams,
    ) -> Result<SessionMemoryDetachResult, ApiError> {
        self.memory_detach(&caller.universe_id, params).await
    }

    async fn session_memory_list(
        &self,
        caller: &Caller,
        params: SessionMemoryListParams,
    ) -> Result<SessionMemoryListResult, ApiError> {
        self.memory_attached(&caller.universe_id, params).await
    }

    async fn memory_archival_insert(
        &self,
        caller: &Caller,
        params: MemoryArchivalInsertParams,
    ) -> Result<MemoryPassageView, ApiError> {
        self.archival_insert(&caller.universe_id, params).await
    }

    async fn memory_archival_search(
        &self,
        caller: &Caller,
        params: MemoryArchivalSearchParams,
    ) -> Result<MemoryArchivalSearchResult, ApiError> {
        self.archival_search(&caller.universe_id, params).await
    }

    async fn memory_archival_delete(
        &self,
        caller: &Caller,
        params: MemoryArchivalDeleteParams,
    ) -> Result<MemoryArchivalDeleteResult, ApiError> {
        self.archival_delete(&caller.universe_id, params).await
    }

    // The schedule bodies are boxed: the gateway's dispatch future is as large as
    // the largest method's, and theirs (store and Temporal client calls) would
    // grow every call's stack in debug builds.
    async fn schedule_create(
        &self,
        caller: &Caller,
        params: ScheduleCreateParams,
    ) -> Result<ScheduleView, ApiError> {
        Box::pin(self.schedule_create(&caller.universe_id, params)).await
    }

    async fn schedule_read(
        &self,
        caller: &Caller,
        params: ScheduleRef,
    ) -> Result<ScheduleView, ApiError> {
        Box::pin(self.schedule_read(&caller.universe_id, params)).await
    }

    async fn schedule_list(
        &self,
        caller: &Caller,
        _params: ScheduleListParams,
    ) -> Result<ScheduleListResult, ApiError> {
        Box::pin(self.schedule_list(&caller.universe_id)).await
    }

    async fn schedule_update(
        &self,
        caller: &Caller,
        params: ScheduleUpdateParams,
    ) -> Result<ScheduleView, ApiError> {
        Box::pin(self.schedule_update(&caller.universe_id, params)).await
    }

    async fn schedule_pause(
        &self,
        caller: &Caller,
        params: SchedulePauseParams,
    ) -> Result<ScheduleView, ApiError> {
        Box::pin(self.schedule_pause(&caller.universe_id, params)).await
    }

    async fn schedule_delete(
        &self,
        caller: &Caller,
        params: ScheduleRef,
    ) -> Result<ScheduleDeleteResult, ApiError> {
        Box::pin(self.schedule_delete(&caller.universe_id, params)).await
    }
}
