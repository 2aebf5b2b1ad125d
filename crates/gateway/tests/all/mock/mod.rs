//! A deterministic in-test backend: canned results, call counting, blobs in memory
//! keyed by universe, a slow method and subscriptions whose end is observable.

use std::sync::Arc;
use std::time::Duration;

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
use base64::Engine as _;
use futures::StreamExt as _;
use futures::stream::{self, BoxStream};

mod support;

pub(crate) use support::*;
use support::{DropFlag, delta, unsupported};

impl LightspeedApi for MockApi {
    async fn session_fork(
        &self,
        caller: &Caller,
        _: SessionForkParams,
    ) -> Result<SessionView, ApiError> {
        self.record(caller);
        Err(unsupported())
    }

    async fn session_compact(
        &self,
        caller: &Caller,
        _: SessionCompactParams,
    ) -> Result<SessionCompactResult, ApiError> {
        self.record(caller);
        Err(unsupported())
    }

    async fn session_skills_list(
        &self,
        caller: &Caller,
        _: SessionRef,
    ) -> Result<SessionSkillsListResult, ApiError> {
        self.record(caller);
        Err(unsupported())
    }

    async fn session_skills_activate(
        &self,
        caller: &Caller,
        _: SessionSkillParams,
    ) -> Result<SkillView, ApiError> {
        self.record(caller);
        Err(unsupported())
    }

    async fn session_skills_deactivate(
        &self,
        caller: &Caller,
        _: SessionSkillParams,
    ) -> Result<SkillView, ApiError> {
        self.record(caller);
        Err(unsupported())
    }

    async fn initialize(
        &self,
        caller: &Caller,
        _params: InitializeParams,
    ) -> Result<InitializeResult, ApiError> {
        self.record(caller);
        Ok(InitializeResult {
            server_version: "mock".to_owned(),
            protocol_version: api::PROTOCOL_VERSION,
            universe_id: caller.universe_id.clone(),
            methods: api::METHODS.iter().map(|m| m.name.to_owned()).collect(),
            notifications: api::SUBSCRIPTIONS
                .iter()
                .map(|s| s.notification.to_owned())
                .collect(),
        })
    }

    async fn session_start(
        &self,
        caller: &Caller,
        _params: SessionStartParams,
    ) -> Result<SessionView, ApiError> {
        self.record(caller);
        Err(unsupported())
    }

    async fn session_read(
        &self,
        caller: &Caller,
        params: SessionRef,
    ) -> Result<SessionView, ApiError> {
        self.record(caller);
        match params.session_id.as_str() {
            CONFLICT => Err(ApiError::conflict("revision moved")
                .with_reason("revisionConflict")
                .with_current_revision(7)),
            MISSING => Err(ApiError::not_found("no such session").with_reason("sessionNotFound")),
            FAULT => Err(ApiError::internal(
                "reading /srv/lightspeed/universes/u1/log failed: SELECT * FROM api_keys",
            )
            .with_reason("storeFailed")),
            _ => Err(unsupported()),
        }
    }

    async fn session_list(
        &self,
        caller: &Caller,
        params: SessionListParams,
    ) -> Result<SessionListResult, ApiError> {
        self.record(caller);
        Ok(SessionListResult {
            sessions: vec![SessionSummary {
                session_id: format!("{}-s1", caller.universe_id),
                status: SessionStatus::Idle,
                model: "mock-model".to_owned(),
                updated_at_ms: 1_000,
            }],
            next_cursor: params.cursor,
        })
    }

    async fn session_update(
        &self,
        caller: &Caller,
        _params: SessionUpdateParams,
    ) -> Result<SessionView, ApiError> {
        self.record(caller);
        Err(unsupported())
    }

    async fn session_close(
        &self,
        caller: &Caller,
        _params: SessionRef,
    ) -> Result<SessionView, ApiError> {
        self.record(caller);
        Err(unsupported())
    }

    async fn blob_pin(&self, caller: &Caller, _: BlobPinParams) -> Result<BlobPinView, ApiError> {
        self.record(caller);
        Err(unsupported())
    }

    async fn blob_unpin(
        &self,
        caller: &Caller,
        _: BlobPinParams,
    ) -> Result<BlobUnpinResult, ApiError> {
        self.record(caller);
        Err(unsupported())
    }

    async fn blob_pins_list(
        &self,
        caller: &Caller,
        _: BlobPinsListParams,
    ) -> Result<BlobPinsListResult, ApiError> {
        self.record(caller);
        Err(unsupported())
    }

    async fn session_delete(
        &self,
        caller: &Caller,
        _params: SessionDeleteParams,
    ) -> Result<SessionDeleteResult, ApiError> {
        self.record(caller);
        Err(unsupported())
    }

    /// The slow method: waits `waitMs` and returns an empty page.
    async fn session_events_read(
        &self,
        caller: &Caller,
        params: SessionEventsReadParams,
    ) -> Result<SessionEventsReadResult, ApiError> {
        self.record(caller);
        tokio::time::sleep(Duration::from_millis(params.wait_ms.unwrap_or(0))).await;
        Ok(SessionEventsReadResult {
            events: Vec::new(),
            next_cursor: params.cursor,
            head_cursor: params.cursor,
        })
    }

    async fn run_start(
        &self,
        caller: &Caller,
        _params: RunStartParams,
    ) -> Result<RunStartResult, ApiError> {
        self.record(caller);
        Err(unsupported())
    }

    async fn run_cancel(
        &self,
        caller: &Caller,
        _params: RunCancelParams,
    ) -> Result<RunAccepted, ApiError> {
        self.record(caller);
        Err(unsupported())
    }

    async fn run_steer(
        &self,
        caller: &Caller,
        _params: RunSteerParams,
    ) -> Result<RunAccepted, ApiError> {
        self.record(caller);
        Err(unsupported())
    }

    async fn session_wake_ups_cancel(
        &self,
        caller: &Caller,
        _params: SessionWakeUpCancelParams,
    ) -> Result<SessionView, ApiError> {
        self.record(caller);
        Err(unsupported())
    }

    async fn run_approve(
        &self,
        caller: &Caller,
        _params: RunApproveParams,
    ) -> Result<RunAccepted, ApiError> {
        self.record(caller);
        Err(unsupported())
    }

    async fn run_deny(
        &self,
        caller: &Caller,
        _params: RunDenyParams,
    ) -> Result<RunAccepted, ApiError> {
        self.record(caller);
        Err(unsupported())
    }

    async fn models_list(
        &self,
        caller: &Caller,
        _params: ModelsListParams,
    ) -> Result<ModelsListResult, ApiError> {
        self.record(caller);
        Err(unsupported())
    }

    async fn universe_usage(
        &self,
        caller: &Caller,
        _params: api::types::universe::UniverseUsageParams,
    ) -> Result<api::types::universe::UniverseUsageView, ApiError> {
        self.record(caller);
        Err(unsupported())
    }

    async fn blob_put(
        &self,
        caller: &Caller,
        params: BlobPutParams,
    ) -> Result<BlobPutResult, ApiError> {
        self.record(caller);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(params.data_base64)
            .map_err(|err| ApiError::invalid_params(format!("dataBase64: {err}")))?;
        Ok(self.store(caller, bytes).await)
    }

    async fn blob_get(
        &self,
        caller: &Caller,
        params: BlobGetParams,
    ) -> Result<BlobGetResult, ApiError> {
        self.record(caller);
        let bytes = self.load(caller, &params.blob_ref)?;
        Ok(BlobGetResult {
            blob_ref: params.blob_ref,
            data_base64: base64::engine::general_purpose::STANDARD.encode(bytes),
        })
    }

    // The MCP catalog is not the gateway's concern: these answer as a backend
    // without it would (`methodNotFound`), after the caller is recorded.
    async fn environments_create(
        &self,
        caller: &Caller,
        params: api::types::env::EnvironmentCreateParams,
    ) -> Result<api::types::env::EnvironmentCreated, ApiError> {
        self.record(caller);
        api::Unserved.environments_create(caller, params).await
    }

    async fn environments_read(
        &self,
        caller: &Caller,
        params: api::types::env::EnvironmentRef,
    ) -> Result<api::types::env::EnvironmentView, ApiError> {
        self.record(caller);
        api::Unserved.environments_read(caller, params).await
    }

    async fn environments_list(
        &self,
        caller: &Caller,
        params: api::types::env::EnvironmentListParams,
    ) -> Result<api::types::env::EnvironmentListResult, ApiError> {
        self.record(caller);
        api::Unserved.environments_list(caller, params).await
    }

    async fn environments_delete(
        &self,
        caller: &Caller,
        params: api::types::env::EnvironmentRef,
    ) -> Result<api::types::env::EnvironmentDeleteResult, ApiError> {
        self.record(caller);
        api::Unserved.environments_delete(caller, params).await
    }

    async fn session_environments_attach(
        &self,
        caller: &Caller,
        params: api::types::env::SessionEnvironmentAttachParams,
    ) -> Result<api::types::env::SessionEnvironmentView, ApiError> {
        self.record(caller);
        api::Unserved
            .session_environments_attach(caller, params)
            .await
    }

    async fn session_environments_detach(
        &self,
        caller: &Caller,
        params: api::types::env::SessionEnvironmentDetachParams,
    ) -> Result<api::types::env::SessionEnvironmentDetachResult, ApiError> {
        self.record(caller);
        api::Unserved
            .session_environments_detach(caller, params)
            .await
    }

    async fn session_environments_list(
        &self,
        caller: &Caller,
        params: api::types::env::SessionEnvironmentListParams,
    ) -> Result<api::types::env::SessionEnvironmentListResult, ApiError> {
        self.record(caller);
        api::Unserved
            .session_environments_list(caller, params)
            .await
    }

    async fn mcp_servers_put(
        &self,
        caller: &Caller,
        params: McpServerPutParams,
    ) -> Result<McpServerView, ApiError> {
        self.record(caller);
        api::Unserved.mcp_servers_put(caller, params).await
    }

    async fn mcp_servers_read(
        &self,
        caller: &Caller,
        params: McpServerRef,
    ) -> Result<McpServerView, ApiError> {
        self.record(caller);
        api::Unserved.mcp_servers_read(caller, params).await
    }

    async fn mcp_servers_list(
        &self,
        caller: &Caller,
        params: McpServerListParams,
    ) -> Result<McpServerListResult, ApiError> {
        self.record(caller);
        api::Unserved.mcp_servers_list(caller, params).await
    }

    async fn mcp_servers_delete(
        &self,
        caller: &Caller,
        params: McpServerRef,
    ) -> Result<McpServerDeleteResult, ApiError> {
        self.record(caller);
        api::Unserved.mcp_servers_delete(caller, params).await
    }

    async fn session_mcp_link(
        &self,
        caller: &Caller,
        params: SessionMcpLinkParams,
    ) -> Result<SessionMcpLinkView, ApiError> {
        self.record(caller);
        api::Unserved.session_mcp_link(caller, params).await
    }

    async fn session_mcp_unlink(
        &self,
        caller: &Caller,
        params: SessionMcpUnlinkParams,
    ) -> Result<SessionMcpUnlinkResult, ApiError> {
        self.record(caller);
        api::Unserved.session_mcp_unlink(caller, params).await
    }

    async fn session_mcp_list(
        &self,
        caller: &Caller,
        params: SessionMcpListParams,
    ) -> Result<SessionMcpListResult, ApiError> {
        self.record(caller);
        api::Unserved.session_mcp_list(caller, params).await
    }

    async fn auth_secrets_put(
        &self,
        caller: &Caller,
        params: AuthSecretPutParams,
    ) -> Result<AuthSecretView, ApiError> {
        self.record(caller);
        api::Unserved.auth_secrets_put(caller, params).await
    }

    async fn auth_secrets_list(
        &self,
        caller: &Caller,
        params: AuthSecretListParams,
    ) -> Result<AuthSecretListResult, ApiError> {
        self.record(caller);
        api::Unserved.auth_secrets_list(caller, params).await
    }

    async fn auth_secrets_delete(
        &self,
        caller: &Caller,
        params: AuthSecretDeleteParams,
    ) -> Result<AuthSecretDeleteResult, ApiError> {
        self.record(caller);
        api::Unserved.auth_secrets_delete(caller, params).await
    }

    async fn auth_flows_start(
        &self,
        caller: &Caller,
        params: AuthFlowStartParams,
    ) -> Result<AuthFlowView, ApiError> {
        self.record(caller);
        api::Unserved.auth_flows_start(caller, params).await
    }

    async fn auth_flows_read(
        &self,
        caller: &Caller,
        params: AuthFlowRef,
    ) -> Result<AuthFlowView, ApiError> {
        self.record(caller);
        api::Unserved.auth_flows_read(caller, params).await
    }

    async fn auth_grants_list(
        &self,
        caller: &Caller,
        params: AuthGrantListParams,
    ) -> Result<AuthGrantListResult, ApiError> {
        self.record(caller);
        api::Unserved.auth_grants_list(caller, params).await
    }

    async fn auth_grants_revoke(
        &self,
        caller: &Caller,
        params: AuthGrantRef,
    ) -> Result<AuthGrantView, ApiError> {
        self.record(caller);
        api::Unserved.auth_grants_revoke(caller, params).await
    }

    async fn blob_has_many(
        &self,
        caller: &Caller,
        params: BlobHasManyParams,
    ) -> Result<BlobHasManyResult, ApiError> {
        self.record(caller);
        let (present, missing) = params
            .blob_refs
            .into_iter()
            .partition(|blob_ref| self.load(caller, blob_ref).is_ok());
        Ok(BlobHasManyResult { present, missing })
    }

    async fn session_subscribe(
        &self,
        caller: &Caller,
        params: SessionSubscribeParams,
    ) -> Result<BoxStream<'static, SessionNotification>, ApiError> {
        self.record(caller);
        let session_id = params.session_id;
        let flag = DropFlag(Arc::clone(&self.seen));
        match session_id.as_str() {
            MISSING => Err(ApiError::not_found("no such session").with_reason("sessionNotFound")),
            FAULT => Err(ApiError::internal(
                "reading /srv/lightspeed/universes/u1/log failed: SELECT * FROM api_keys",
            )
            .with_reason("storeFailed")),
            ENDLESS => {
                let first = stream::iter([delta(&session_id, 0, "first".to_owned())]);
                Ok(first
                    .chain(stream::pending())
                    .map(move |item| {
                        let _keep = &flag;
                        item
                    })
                    .boxed())
            }
            FLOOD => {
                let text = "x".repeat(64 * 1024);
                Ok(stream::iter(0..)
                    .map(move |index| {
                        let _keep = &flag;
                        delta(&session_id, index, text.clone())
                    })
                    .boxed())
            }
            _ => Ok(stream::iter(0..NOTIFICATIONS)
                .map(move |index| {
                    let _keep = &flag;
                    delta(&session_id, index, format!("part {index}"))
                })
                .boxed()),
        }
    }

    async fn blob_put_bytes(
        &self,
        caller: &Caller,
        blob_ref: String,
        bytes: Vec<u8>,
    ) -> Result<BlobPutResult, ApiError> {
        self.record(caller);
        let result = self.store(caller, bytes).await;
        assert_eq!(
            result.blob_ref, blob_ref,
            "the gateway checks digests first"
        );
        Ok(result)
    }

    async fn blob_get_bytes(&self, caller: &Caller, blob_ref: String) -> Result<Vec<u8>, ApiError> {
        self.record(caller);
        self.load(caller, &blob_ref)
    }

    async fn memory_blocks_create(
        &self,
        caller: &Caller,
        params: api::types::memory::MemoryBlockCreateParams,
    ) -> Result<api::types::memory::MemoryBlockView, ApiError> {
        self.record(caller);
        api::Unserved.memory_blocks_create(caller, params).await
    }

    async fn memory_blocks_read(
        &self,
        caller: &Caller,
        params: api::types::memory::MemoryBlockRef,
    ) -> Result<api::types::memory::MemoryBlockView, ApiError> {
        self.record(caller);
        api::Unserved.memory_blocks_read(caller, params).await
    }

    async fn memory_blocks_list(
        &self,
        caller: &Caller,
        params: api::types::memory::MemoryBlockListParams,
    ) -> Result<api::types::memory::MemoryBlockListResult, ApiError> {
        self.record(caller);
        api::Unserved.memory_blocks_list(caller, params).await
    }

    async fn memory_blocks_update(
        &self,
        caller: &Caller,
        params: api::types::memory::MemoryBlockUpdateParams,
    ) -> Result<api::types::memory::MemoryBlockView, ApiError> {
        self.record(caller);
        api::Unserved.memory_blocks_update(caller, params).await
    }

    async fn memory_blocks_delete(
        &self,
        caller: &Caller,
        params: api::types::memory::MemoryBlockDeleteParams,
    ) -> Result<api::types::memory::MemoryBlockDeleteResult, ApiError> {
        self.record(caller);
        api::Unserved.memory_blocks_delete(caller, params).await
    }

    async fn session_memory_attach(
        &self,
        caller: &Caller,
        params: api::types::memory::SessionMemoryAttachParams,
    ) -> Result<api::types::memory::SessionMemoryAttachResult, ApiError> {
        self.record(caller);
        api::Unserved.session_memory_attach(caller, params).await
    }

    async fn session_memory_detach(
        &self,
        caller: &Caller,
        params: api::types::memory::SessionMemoryDetachParams,
    ) -> Result<api::types::memory::SessionMemoryDetachResult, ApiError> {
        self.record(caller);
        api::Unserved.session_memory_detach(caller, params).await
    }

    async fn session_memory_list(
        &self,
        caller: &Caller,
        params: api::types::memory::SessionMemoryListParams,
    ) -> Result<api::types::memory::SessionMemoryListResult, ApiError> {
        self.record(caller);
        api::Unserved.session_memory_list(caller, params).await
    }

    async fn memory_archival_insert(
        &self,
        caller: &Caller,
        params: api::types::memory::MemoryArchivalInsertParams,
    ) -> Result<api::types::memory::MemoryPassageView, ApiError> {
        self.record(caller);
        api::Unserved.memory_archival_insert(caller, params).await
    }

    async fn memory_archival_search(
        &self,
        caller: &Caller,
        params: api::types::memory::MemoryArchivalSearchParams,
    ) -> Result<api::types::memory::MemoryArchivalSearchResult, ApiError> {
        self.record(caller);
        api::Unserved.memory_archival_search(caller, params).await
    }

    async fn memory_archival_delete(
        &self,
        caller: &Caller,
        params: api::types::memory::MemoryArchivalDeleteParams,
    ) -> Result<api::types::memory::MemoryArchivalDeleteResult, ApiError> {
        self.record(caller);
        api::Unserved.memory_archival_delete(caller, params).await
    }

    async fn schedule_create(
        &self,
        caller: &Caller,
        params: api::types::schedule::ScheduleCreateParams,
    ) -> Result<api::types::schedule::ScheduleView, ApiError> {
        self.record(caller);
        api::Unserved.schedule_create(caller, params).await
    }

    async fn schedule_read(
        &self,
        caller: &Caller,
        params: api::types::schedule::ScheduleRef,
    ) -> Result<api::types::schedule::ScheduleView, ApiError> {
        self.record(caller);
        api::Unserved.schedule_read(caller, params).await
    }

    async fn schedule_list(
        &self,
        caller: &Caller,
        params: api::types::schedule::ScheduleListParams,
    ) -> Result<api::types::schedule::ScheduleListResult, ApiError> {
        self.record(caller);
        api::Unserved.schedule_list(caller, params).await
    }

    async fn schedule_update(
        &self,
        caller: &Caller,
        params: api::types::schedule::ScheduleUpdateParams,
    ) -> Result<api::types::schedule::ScheduleView, ApiError> {
        self.record(caller);
        api::Unserved.schedule_update(caller, params).await
    }

    async fn schedule_pause(
        &self,
        caller: &Caller,
        params: api::types::schedule::SchedulePauseParams,
    ) -> Result<api::types::schedule::ScheduleView, ApiError> {
        self.record(caller);
        api::Unserved.schedule_pause(caller, params).await
    }

    async fn schedule_delete(
        &self,
        caller: &Caller,
        params: api::types::schedule::ScheduleRef,
    ) -> Result<api::types::schedule::ScheduleDeleteResult, ApiError> {
        self.record(caller);
        api::Unserved.schedule_delete(caller, params).await
    }

    async fn events_ingest(
        &self,
        caller: &Caller,
        params: api::types::intake::EventIngestParams,
    ) -> Result<api::types::intake::EventIngestResult, ApiError> {
        self.record(caller);
        api::Unserved.events_ingest(caller, params).await
    }

    async fn operator_dispatch_pause(
        &self,
        caller: &Caller,
        params: api::types::operator::DispatchParams,
    ) -> Result<api::types::operator::DispatchView, ApiError> {
        self.record(caller);
        api::Unserved.operator_dispatch_pause(caller, params).await
    }

    async fn operator_dispatch_resume(
        &self,
        caller: &Caller,
        params: api::types::operator::DispatchParams,
    ) -> Result<api::types::operator::DispatchView, ApiError> {
        self.record(caller);
        api::Unserved.operator_dispatch_resume(caller, params).await
    }

    async fn operator_runs_list(
        &self,
        caller: &Caller,
        params: api::types::operator::OperatorRunsListParams,
    ) -> Result<api::types::operator::OperatorRunsListResult, ApiError> {
        self.record(caller);
        api::Unserved.operator_runs_list(caller, params).await
    }

    async fn operator_runs_cancel(
        &self,
        caller: &Caller,
        params: api::types::operator::OperatorRunCancelParams,
    ) -> Result<api::types::run::RunAccepted, ApiError> {
        self.record(caller);
        api::Unserved.operator_runs_cancel(caller, params).await
    }
}
