//! A backend whose `initialize` echoes the caller's universe; nothing else works.

use api::types::auth::*;
use api::types::blob::*;
use api::types::context::*;
use api::types::events::*;
use api::types::initialize::*;
use api::types::mcp::*;
use api::types::models::*;
use api::types::run::*;
use api::types::session::*;
use api::{ApiError, Caller, LightspeedApi};
use futures::stream::BoxStream;

pub(crate) struct EchoApi;

fn unsupported() -> ApiError {
    ApiError::rejected("not in this test")
}

impl LightspeedApi for EchoApi {
    async fn session_fork(
        &self,
        _: &Caller,
        _: SessionForkParams,
    ) -> Result<SessionView, ApiError> {
        Err(unsupported())
    }

    async fn session_compact(
        &self,
        _: &Caller,
        _: SessionCompactParams,
    ) -> Result<SessionCompactResult, ApiError> {
        Err(unsupported())
    }

    async fn session_skills_list(
        &self,
        _: &Caller,
        _: SessionRef,
    ) -> Result<SessionSkillsListResult, ApiError> {
        Err(unsupported())
    }

    async fn session_skills_activate(
        &self,
        _: &Caller,
        _: SessionSkillParams,
    ) -> Result<SkillView, ApiError> {
        Err(unsupported())
    }

    async fn session_skills_deactivate(
        &self,
        _: &Caller,
        _: SessionSkillParams,
    ) -> Result<SkillView, ApiError> {
        Err(unsupported())
    }

    async fn initialize(
        &self,
        caller: &Caller,
        _params: InitializeParams,
    ) -> Result<InitializeResult, ApiError> {
        Ok(InitializeResult {
            server_version: "echo".to_owned(),
            protocol_version: api::PROTOCOL_VERSION,
            universe_id: caller.universe_id.clone(),
            methods: Vec::new(),
            notifications: Vec::new(),
        })
    }

    async fn environments_create(
        &self,
        _: &Caller,
        _: api::types::env::EnvironmentCreateParams,
    ) -> Result<api::types::env::EnvironmentCreated, ApiError> {
        Err(unsupported())
    }

    async fn environments_read(
        &self,
        _: &Caller,
        _: api::types::env::EnvironmentRef,
    ) -> Result<api::types::env::EnvironmentView, ApiError> {
        Err(unsupported())
    }

    async fn environments_list(
        &self,
        _: &Caller,
        _: api::types::env::EnvironmentListParams,
    ) -> Result<api::types::env::EnvironmentListResult, ApiError> {
        Err(unsupported())
    }

    async fn environments_delete(
        &self,
        _: &Caller,
        _: api::types::env::EnvironmentRef,
    ) -> Result<api::types::env::EnvironmentDeleteResult, ApiError> {
        Err(unsupported())
    }

    async fn session_environments_attach(
        &self,
        _: &Caller,
        _: api::types::env::SessionEnvironmentAttachParams,
    ) -> Result<api::types::env::SessionEnvironmentView, ApiError> {
        Err(unsupported())
    }

    async fn session_environments_detach(
        &self,
        _: &Caller,
        _: api::types::env::SessionEnvironmentDetachParams,
    ) -> Result<api::types::env::SessionEnvironmentDetachResult, ApiError> {
        Err(unsupported())
    }

    async fn session_environments_list(
        &self,
        _: &Caller,
        _: api::types::env::SessionEnvironmentListParams,
    ) -> Result<api::types::env::SessionEnvironmentListResult, ApiError> {
        Err(unsupported())
    }

    async fn mcp_servers_put(
        &self,
        _: &Caller,
        _: McpServerPutParams,
    ) -> Result<McpServerView, ApiError> {
        Err(unsupported())
    }

    async fn mcp_servers_read(
        &self,
        _: &Caller,
        _: McpServerRef,
    ) -> Result<McpServerView, ApiError> {
        Err(unsupported())
    }

    async fn mcp_servers_list(
        &self,
        _: &Caller,
        _: McpServerListParams,
    ) -> Result<McpServerListResult, ApiError> {
        Err(unsupported())
    }

    async fn mcp_servers_delete(
        &self,
        _: &Caller,
        _: McpServerRef,
    ) -> Result<McpServerDeleteResult, ApiError> {
        Err(unsupported())
    }

    async fn session_mcp_link(
        &self,
        _: &Caller,
        _: SessionMcpLinkParams,
    ) -> Result<SessionMcpLinkView, ApiError> {
        Err(unsupported())
    }

    async fn session_mcp_unlink(
        &self,
        _: &Caller,
        _: SessionMcpUnlinkParams,
    ) -> Result<SessionMcpUnlinkResult, ApiError> {
        Err(unsupported())
    }

    async fn session_mcp_list(
        &self,
        _: &Caller,
        _: SessionMcpListParams,
    ) -> Result<SessionMcpListResult, ApiError> {
        Err(unsupported())
    }

    async fn auth_secrets_put(
        &self,
        _: &Caller,
        _: AuthSecretPutParams,
    ) -> Result<AuthSecretView, ApiError> {
        Err(unsupported())
    }

    async fn auth_secrets_list(
        &self,
        _: &Caller,
        _: AuthSecretListParams,
    ) -> Result<AuthSecretListResult, ApiError> {
        Err(unsupported())
    }

    async fn auth_secrets_delete(
        &self,
        _: &Caller,
        _: AuthSecretDeleteParams,
    ) -> Result<AuthSecretDeleteResult, ApiError> {
        Err(unsupported())
    }

    async fn auth_flows_start(
        &self,
        _: &Caller,
        _: AuthFlowStartParams,
    ) -> Result<AuthFlowView, ApiError> {
        Err(unsupported())
    }

    async fn auth_flows_read(&self, _: &Caller, _: AuthFlowRef) -> Result<AuthFlowView, ApiError> {
        Err(unsupported())
    }

    async fn auth_grants_list(
        &self,
        _: &Caller,
        _: AuthGrantListParams,
    ) -> Result<AuthGrantListResult, ApiError> {
        Err(unsupported())
    }

    async fn auth_grants_revoke(
        &self,
        _: &Caller,
        _: AuthGrantRef,
    ) -> Result<AuthGrantView, ApiError> {
        Err(unsupported())
    }

    async fn session_start(
        &self,
        _: &Caller,
        _: SessionStartParams,
    ) -> Result<SessionView, ApiError> {
        Err(unsupported())
    }

    async fn session_read(&self, _: &Caller, _: SessionRef) -> Result<SessionView, ApiError> {
        Err(unsupported())
    }

    async fn session_list(
        &self,
        _: &Caller,
        _: SessionListParams,
    ) -> Result<SessionListResult, ApiError> {
        Err(unsupported())
    }

    async fn session_update(
        &self,
        _: &Caller,
        _: SessionUpdateParams,
    ) -> Result<SessionView, ApiError> {
        Err(unsupported())
    }

    async fn session_close(&self, _: &Caller, _: SessionRef) -> Result<SessionView, ApiError> {
        Err(unsupported())
    }

    async fn blob_pin(&self, _: &Caller, _: BlobPinParams) -> Result<BlobPinView, ApiError> {
        Err(unsupported())
    }

    async fn blob_unpin(&self, _: &Caller, _: BlobPinParams) -> Result<BlobUnpinResult, ApiError> {
        Err(unsupported())
    }

    async fn blob_pins_list(
        &self,
        _: &Caller,
        _: BlobPinsListParams,
    ) -> Result<BlobPinsListResult, ApiError> {
        Err(unsupported())
    }

    async fn session_delete(
        &self,
        _: &Caller,
        _: SessionDeleteParams,
    ) -> Result<SessionDeleteResult, ApiError> {
        Err(unsupported())
    }

    async fn session_events_read(
        &self,
        _: &Caller,
        _: SessionEventsReadParams,
    ) -> Result<SessionEventsReadResult, ApiError> {
        Err(unsupported())
    }

    async fn run_start(&self, _: &Caller, _: RunStartParams) -> Result<RunStartResult, ApiError> {
        Err(unsupported())
    }

    async fn run_cancel(&self, _: &Caller, _: RunCancelParams) -> Result<RunAccepted, ApiError> {
        Err(unsupported())
    }

    async fn run_steer(&self, _: &Caller, _: RunSteerParams) -> Result<RunAccepted, ApiError> {
        Err(unsupported())
    }

    async fn session_wake_ups_cancel(
        &self,
        _: &Caller,
        _: SessionWakeUpCancelParams,
    ) -> Result<SessionView, ApiError> {
        Err(unsupported())
    }

    async fn run_approve(&self, _: &Caller, _: RunApproveParams) -> Result<RunAccepted, ApiError> {
        Err(unsupported())
    }

    async fn run_deny(&self, _: &Caller, _: RunDenyParams) -> Result<RunAccepted, ApiError> {
        Err(unsupported())
    }

    async fn models_list(
        &self,
        _: &Caller,
        _: ModelsListParams,
    ) -> Result<ModelsListResult, ApiError> {
        Err(unsupported())
    }

    async fn universe_usage(
        &self,
        _: &Caller,
        _: api::types::universe::UniverseUsageParams,
    ) -> Result<api::types::universe::UniverseUsageView, ApiError> {
        Err(unsupported())
    }

    async fn blob_put(&self, _: &Caller, _: BlobPutParams) -> Result<BlobPutResult, ApiError> {
        Err(unsupported())
    }

    async fn blob_get(&self, _: &Caller, _: BlobGetParams) -> Result<BlobGetResult, ApiError> {
        Err(unsupported())
    }

    async fn blob_has_many(
        &self,
        _: &Caller,
        _: BlobHasManyParams,
    ) -> Result<BlobHasManyResult, ApiError> {
        Err(unsupported())
    }

    async fn session_subscribe(
        &self,
        _: &Caller,
        _: SessionSubscribeParams,
    ) -> Result<BoxStream<'static, SessionNotification>, ApiError> {
        Err(unsupported())
    }

    async fn blob_put_bytes(
        &self,
        _: &Caller,
        _: String,
        _: Vec<u8>,
    ) -> Result<BlobPutResult, ApiError> {
        Err(unsupported())
    }

    async fn blob_get_bytes(&self, _: &Caller, _: String) -> Result<Vec<u8>, ApiError> {
        Err(unsupported())
    }

    async fn memory_blocks_create(
        &self,
        _: &Caller,
        _: api::types::memory::MemoryBlockCreateParams,
    ) -> Result<api::types::memory::MemoryBlockView, ApiError> {
        Err(unsupported())
    }

    async fn memory_blocks_read(
        &self,
        _: &Caller,
        _: api::types::memory::MemoryBlockRef,
    ) -> Result<api::types::memory::MemoryBlockView, ApiError> {
        Err(unsupported())
    }

    async fn memory_blocks_list(
        &self,
        _: &Caller,
        _: api::types::memory::MemoryBlockListParams,
    ) -> Result<api::types::memory::MemoryBlockListResult, ApiError> {
        Err(unsupported())
    }

    async fn memory_blocks_update(
        &self,
        _: &Caller,
        _: api::types::memory::MemoryBlockUpdateParams,
    ) -> Result<api::types::memory::MemoryBlockView, ApiError> {
        Err(unsupported())
    }

    async fn memory_blocks_delete(
        &self,
        _: &Caller,
        _: api::types::memory::MemoryBlockDeleteParams,
    ) -> Result<api::types::memory::MemoryBlockDeleteResult, ApiError> {
        Err(unsupported())
    }

    async fn session_memory_attach(
        &self,
        _: &Caller,
        _: api::types::memory::SessionMemoryAttachParams,
    ) -> Result<api::types::memory::SessionMemoryAttachResult, ApiError> {
        Err(unsupported())
    }

    async fn session_memory_detach(
        &self,
        _: &Caller,
        _: api::types::memory::SessionMemoryDetachParams,
    ) -> Result<api::types::memory::SessionMemoryDetachResult, ApiError> {
        Err(unsupported())
    }

    async fn session_memory_list(
        &self,
        _: &Caller,
        _: api::types::memory::SessionMemoryListParams,
    ) -> Result<api::types::memory::SessionMemoryListResult, ApiError> {
        Err(unsupported())
    }

    async fn memory_archival_insert(
        &self,
        _: &Caller,
        _: api::types::memory::MemoryArchivalInsertParams,
    ) -> Result<api::types::memory::MemoryPassageView, ApiError> {
        Err(unsupported())
    }

    async fn memory_archival_search(
        &self,
        _: &Caller,
        _: api::types::memory::MemoryArchivalSearchParams,
    ) -> Result<api::types::memory::MemoryArchivalSearchResult, ApiError> {
        Err(unsupported())
    }

    async fn memory_archival_delete(
        &self,
        _: &Caller,
        _: api::types::memory::MemoryArchivalDeleteParams,
    ) -> Result<api::types::memory::MemoryArchivalDeleteResult, ApiError> {
        Err(unsupported())
    }

    async fn schedule_create(
        &self,
        _: &Caller,
        _: api::types::schedule::ScheduleCreateParams,
    ) -> Result<api::types::schedule::ScheduleView, ApiError> {
        Err(unsupported())
    }

    async fn schedule_read(
        &self,
        _: &Caller,
        _: api::types::schedule::ScheduleRef,
    ) -> Result<api::types::schedule::ScheduleView, ApiError> {
        Err(unsupported())
    }

    async fn schedule_list(
        &self,
        _: &Caller,
        _: api::types::schedule::ScheduleListParams,
    ) -> Result<api::types::schedule::ScheduleListResult, ApiError> {
        Err(unsupported())
    }

    async fn schedule_update(
        &self,
        _: &Caller,
        _: api::types::schedule::ScheduleUpdateParams,
    ) -> Result<api::types::schedule::ScheduleView, ApiError> {
        Err(unsupported())
    }

    async fn schedule_pause(
        &self,
        _: &Caller,
        _: api::types::schedule::SchedulePauseParams,
    ) -> Result<api::types::schedule::ScheduleView, ApiError> {
        Err(unsupported())
    }

    async fn schedule_delete(
        &self,
        _: &Caller,
        _: api::types::schedule::ScheduleRef,
    ) -> Result<api::types::schedule::ScheduleDeleteResult, ApiError> {
        Err(unsupported())
    }

    async fn events_ingest(
        &self,
        _: &Caller,
        _: api::types::intake::EventIngestParams,
    ) -> Result<api::types::intake::EventIngestResult, ApiError> {
        Err(unsupported())
    }

    async fn operator_dispatch_pause(
        &self,
        _: &Caller,
        _: api::types::operator::DispatchParams,
    ) -> Result<api::types::operator::DispatchView, ApiError> {
        Err(unsupported())
    }

    async fn operator_dispatch_resume(
        &self,
        _: &Caller,
        _: api::types::operator::DispatchParams,
    ) -> Result<api::types::operator::DispatchView, ApiError> {
        Err(unsupported())
    }

    async fn operator_runs_list(
        &self,
        _: &Caller,
        _: api::types::operator::OperatorRunsListParams,
    ) -> Result<api::types::operator::OperatorRunsListResult, ApiError> {
        Err(unsupported())
    }

    async fn operator_runs_cancel(
        &self,
        _: &Caller,
        _: api::types::operator::OperatorRunCancelParams,
    ) -> Result<RunAccepted, ApiError> {
        Err(unsupported())
    }
}
