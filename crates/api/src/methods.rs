//! The method table: the single source of the service trait, the dispatcher and the
//! contract manifest. Adding a method is one line here; the compiler then asks every
//! backend for it and `export-schema` puts it in the contract.
//!
//! `optional_methods` are for capabilities a backend may lack (the VFS needs a
//! catalog): their trait methods have a default body answering `methodNotFound`,
//! so adding one does not break backends that do not serve it.

use std::future::Future;

use futures::stream::BoxStream;
use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::ApiError;
use crate::types::auth::*;
use crate::types::blob::*;
use crate::types::context::*;
use crate::types::env::*;
use crate::types::events::*;
use crate::types::initialize::*;
use crate::types::intake::*;
use crate::types::mcp::*;
use crate::types::memory::*;
use crate::types::models::*;
use crate::types::operator::*;
use crate::types::run::*;
use crate::types::schedule::*;
use crate::types::session::*;
use crate::types::universe::*;
use crate::types::vfs::*;

/// Who is calling: resolved by the gateway from the API key, never from params.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The tenant whose data this request may touch, and nothing else (empty for an
    /// operator key).
    pub universe_id: String,
    /// Id of the API key used (not the key).
    pub key_id: String,
    /// An operator key: it may call the `operator/` methods and nothing else.
    pub operator: bool,
}

/// The prefix of the methods only an operator key may call.
pub const OPERATOR_METHOD_PREFIX: &str = "operator/";

/// Whether `caller`'s key may call `method`: an operator key calls the `operator/`
/// methods and nothing else, a universe key everything else.
pub fn check_role(caller: &Caller, method: &str) -> Result<(), ApiError> {
    match (method.starts_with(OPERATOR_METHOD_PREFIX), caller.operator) {
        (true, false) => Err(ApiError::new(
            crate::ErrorKind::Unauthorized,
            format!("{method} needs an operator key; this key belongs to a universe"),
        )
        .with_reason("operatorKeyRequired")),
        (false, true) => Err(ApiError::new(
            crate::ErrorKind::Unauthorized,
            format!(
                "{method} needs a universe's key; an operator key calls operator/ methods only"
            ),
        )
        .with_reason("universeKeyRequired")),
        _ => Ok(()),
    }
}

/// One JSON-RPC method of the contract.
#[derive(Debug, Clone, Copy)]
pub struct MethodSpec {
    pub name: &'static str,
    pub doc: &'static str,
    /// Registers the params and result types with a schema generator; returns their refs.
    pub schemas: fn(&mut schemars::SchemaGenerator) -> (schemars::Schema, schemars::Schema),
}

/// One subscription: the method that opens it, the notification it sends and the
/// method that closes it.
#[derive(Debug, Clone, Copy)]
pub struct SubscriptionSpec {
    pub subscribe: &'static str,
    pub notification: &'static str,
    pub unsubscribe: &'static str,
    pub doc: &'static str,
    pub schemas: fn(&mut schemars::SchemaGenerator) -> (schemars::Schema, schemars::Schema),
}

/// The `initialize` answer for `universe_id`, listing the methods this backend serves
/// (`serves` filters the table, e.g. to leave out methods a backend lacks).
pub fn handshake(universe_id: &str, serves: impl Fn(&str) -> bool) -> InitializeResult {
    let mut methods: Vec<String> = METHODS
        .iter()
        .map(|method| method.name)
        .filter(|name| serves(name))
        .map(str::to_owned)
        .collect();
    for sub in SUBSCRIPTIONS {
        methods.push(sub.subscribe.to_owned());
        methods.push(sub.unsubscribe.to_owned());
    }
    InitializeResult {
        server_version: env!("CARGO_PKG_VERSION").to_owned(),
        protocol_version: crate::PROTOCOL_VERSION,
        universe_id: universe_id.to_owned(),
        methods,
        notifications: SUBSCRIPTIONS
            .iter()
            .map(|sub| sub.notification.to_owned())
            .collect(),
    }
}

fn schemas_of<P: JsonSchema, R: JsonSchema>(
    generator: &mut schemars::SchemaGenerator,
) -> (schemars::Schema, schemars::Schema) {
    (
        generator.subschema_for::<P>(),
        generator.subschema_for::<R>(),
    )
}

/// Decodes method params; a mismatch is `-32602` naming the offending field.
pub fn parse_params<P: DeserializeOwned>(method: &str, params: Value) -> Result<P, ApiError> {
    let params = match params {
        // JSON-RPC allows omitted params; methods whose params are all optional accept that.
        Value::Null => Value::Object(serde_json::Map::new()),
        Value::Object(_) => params,
        _ => {
            return Err(ApiError::invalid_params(format!(
                "{method}: params must be an object (by name)"
            ))
            .with_reason("paramsNotAnObject"));
        }
    };
    serde_path_to_error::deserialize(params).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let message = match path.as_str() {
            "." => format!("{method}: {inner}"),
            _ => format!("{method}: {path}: {inner}"),
        };
        ApiError::invalid_params(message)
    })
}

/// What an optional method answers on a backend that does not serve it.
fn not_served(method: &str) -> ApiError {
    ApiError::not_found(format!("{method} is not served by this backend"))
        .with_reason("methodNotFound")
}

fn to_value<R: Serialize>(result: R) -> Result<Value, ApiError> {
    serde_json::to_value(result)
        .map_err(|err| ApiError::internal(format!("encoding the result failed: {err}")))
}

macro_rules! api_table {
    (
        methods {
            $( $(#[doc = $doc:literal])* $fn_name:ident: $wire:literal ($params:ty) -> $result:ty; )*
        }
        optional_methods {
            $( $(#[doc = $odoc:literal])* $ofn_name:ident: $owire:literal ($oparams:ty) -> $oresult:ty; )*
        }
        subscriptions {
            $( $(#[doc = $sdoc:literal])* $sub_fn:ident: $sub_wire:literal ($sub_params:ty)
                => $notif_wire:literal ($notif:ty), unsubscribe $unsub_wire:literal; )*
        }
    ) => {
        /// Everything a Lightspeed backend serves. The in-process runtime and the
        /// Temporal runtime both implement it; the gateway only dispatches to it.
        pub trait LightspeedApi: Send + Sync + 'static {
            $(
                $(#[doc = $doc])*
                fn $fn_name(
                    &self,
                    caller: &Caller,
                    params: $params,
                ) -> impl Future<Output = Result<$result, ApiError>> + Send;
            )*
            $(
                $(#[doc = $odoc])*
                ///
                /// Optional: a backend without it answers `methodNotFound`.
                fn $ofn_name(
                    &self,
                    caller: &Caller,
                    params: $oparams,
                ) -> impl Future<Output = Result<$oresult, ApiError>> + Send {
                    let _ = (caller, params);
                    std::future::ready(Err(not_served($owire)))
                }
            )*
            $(
                $(#[doc = $sdoc])*
                fn $sub_fn(
                    &self,
                    caller: &Caller,
                    params: $sub_params,
                ) -> impl Future<Output = Result<BoxStream<'static, $notif>, ApiError>> + Send;
            )*
            /// The OAuth redirect (`GET /auth/callback`), which carries no API key: the
            /// flow's `state` names the universe. Answers a line for the browser.
            fn auth_callback(
                &self,
                state: Option<String>,
                code: Option<String>,
                error: Option<String>,
            ) -> impl Future<Output = Result<String, ApiError>> + Send {
                let _ = (state, code, error);
                std::future::ready(Err(not_served("GET /auth/callback")))
            }
            /// An environment daemon's token (`GET /env/connect`), checked before the
            /// socket is upgraded: whose environment it serves.
            fn environment_authorize(
                &self,
                token: String,
            ) -> impl Future<Output = Result<crate::types::env::EnvironmentGrant, ApiError>> + Send {
                let _ = token;
                std::future::ready(Err(not_served("GET /env/connect")))
            }
            /// Serves an authorized daemon's socket until it closes.
            fn environment_serve(
                &self,
                grant: crate::types::env::EnvironmentGrant,
                socket: crate::types::env::EnvSocket,
            ) -> impl Future<Output = ()> + Send {
                let _ = (grant, socket);
                std::future::ready(())
            }
            /// Raw blob upload (`PUT /blobs/{ref}`): `bytes` must hash to `blob_ref`.
            fn blob_put_bytes(
                &self,
                caller: &Caller,
                blob_ref: String,
                bytes: Vec<u8>,
            ) -> impl Future<Output = Result<BlobPutResult, ApiError>> + Send;
            /// Raw blob download (`GET /blobs/{ref}`).
            fn blob_get_bytes(
                &self,
                caller: &Caller,
                blob_ref: String,
            ) -> impl Future<Output = Result<Vec<u8>, ApiError>> + Send;
        }

        /// A backend that serves nothing: every method answers `methodNotFound`
        /// once its params decoded. For tests of the dispatcher and of transports
        /// (decode every method's params without a real backend behind them).
        #[derive(Debug, Clone, Copy, Default)]
        pub struct Unserved;

        impl LightspeedApi for Unserved {
            $(
                fn $fn_name(
                    &self,
                    _caller: &Caller,
                    _params: $params,
                ) -> impl Future<Output = Result<$result, ApiError>> + Send {
                    std::future::ready(Err(not_served($wire)))
                }
            )*
            $(
                fn $sub_fn(
                    &self,
                    _caller: &Caller,
                    _params: $sub_params,
                ) -> impl Future<Output = Result<BoxStream<'static, $notif>, ApiError>> + Send {
                    std::future::ready(Err(not_served($sub_wire)))
                }
            )*
            fn blob_put_bytes(
                &self,
                _caller: &Caller,
                _blob_ref: String,
                _bytes: Vec<u8>,
            ) -> impl Future<Output = Result<BlobPutResult, ApiError>> + Send {
                std::future::ready(Err(not_served("PUT /blobs/{ref}")))
            }
            fn blob_get_bytes(
                &self,
                _caller: &Caller,
                _blob_ref: String,
            ) -> impl Future<Output = Result<Vec<u8>, ApiError>> + Send {
                std::future::ready(Err(not_served("GET /blobs/{ref}")))
            }
        }

        /// Every method, in contract order.
        pub const METHODS: &[MethodSpec] = &[
            $( MethodSpec {
                name: $wire,
                doc: concat!($($doc, "\n",)* ""),
                schemas: schemas_of::<$params, $result>,
            }, )*
            $( MethodSpec {
                name: $owire,
                doc: concat!($($odoc, "\n",)* ""),
                schemas: schemas_of::<$oparams, $oresult>,
            }, )*
        ];

        /// Every subscription.
        pub const SUBSCRIPTIONS: &[SubscriptionSpec] = &[
            $( SubscriptionSpec {
                subscribe: $sub_wire,
                notification: $notif_wire,
                unsubscribe: $unsub_wire,
                doc: concat!($($sdoc, "\n",)* ""),
                schemas: schemas_of::<$sub_params, $notif>,
            }, )*
        ];

        /// Calls the method named `method` with JSON `params`.
        pub async fn dispatch<A: LightspeedApi>(
            api: &A,
            caller: &Caller,
            method: &str,
            params: Value,
        ) -> Result<Value, ApiError> {
            check_role(caller, method)?;
            // Each method's future is boxed: inline, this match's future would be as
            // large as the largest method's, and debug builds nest such futures deep
            // enough to overflow a runtime worker's stack. One allocation per call.
            match method {
                $( $wire => to_value(Box::pin(api.$fn_name(caller, parse_params::<$params>(method, params)?)).await?), )*
                $( $owire => to_value(Box::pin(api.$ofn_name(caller, parse_params::<$oparams>(method, params)?)).await?), )*
                _ => Err(ApiError::not_found(format!("unknown method {method:?}")).with_reason("methodNotFound")),
            }
        }

        /// Opens the subscription named `method`.
        pub async fn subscribe<A: LightspeedApi>(
            api: &A,
            caller: &Caller,
            method: &str,
            params: Value,
        ) -> Result<BoxStream<'static, Value>, ApiError> {
            use futures::StreamExt as _;
            check_role(caller, method)?;
            match method {
                $( $sub_wire => {
                    let params = parse_params::<$sub_params>(method, params)?;
                    let stream = api.$sub_fn(caller, params).await?;
                    // Notifications are plain data; encoding them cannot fail.
                    Ok(stream.map(|item| serde_json::to_value(item).unwrap_or(Value::Null)).boxed())
                } )*
                _ => Err(ApiError::not_found(format!("unknown subscription {method:?}"))),
            }
        }
    };
}

api_table! {
    methods {
        /// Handshake: server and protocol version, the caller's universe, the methods.
        initialize: "initialize" (InitializeParams) -> InitializeResult;
        /// Starts a session (idempotent for a client-chosen id with the same config).
        session_start: "session/start" (SessionStartParams) -> SessionView;
        /// Reads a session: config, revision, runs, usage, event cursor.
        session_read: "session/read" (SessionRef) -> SessionView;
        /// Lists the universe's sessions, most recently active first (ties by id), a
        /// page at a time. Pages are keyset pages: a session that becomes active
        /// while a client pages moves to the front without shifting the rest, so
        /// no session is listed twice and every session left alone is listed once.
        session_list: "session/list" (SessionListParams) -> SessionListResult;
        /// Patches an idle session's config; the revision must match.
        session_update: "session/update" (SessionUpdateParams) -> SessionView;
        /// Closes a session: active and queued runs are cancelled.
        session_close: "session/close" (SessionRef) -> SessionView;
        /// Deletes a session: its workflow, log, checkpoints, mounts, MCP links,
        /// environment and memory attachments. Refused while runs are active or queued
        /// unless `force`. Its blobs stay until collection finds them unreferenced
        /// (a fork keeps what it shares); its children are sessions of their own and
        /// stay. The id may be used again afterwards.
        session_delete: "session/delete" (SessionDeleteParams) -> SessionDeleteResult;
        /// Forks a session at an event cursor (default: its newest event) into a new,
        /// idle session of the same universe that shares its history by reference:
        /// the same config, tools and context items (no content is copied), none of
        /// its runs. A cursor inside a run forks just before that run started.
        session_fork: "session/fork" (SessionForkParams) -> SessionView;
        /// Requests a compaction of the session's context (with an optional instruction);
        /// it runs at the session's next step boundary.
        session_compact: "session/compact" (SessionCompactParams) -> SessionCompactResult;
        /// Cancels a pending wake-up (`wakeUps` in `session/read`); its run is never
        /// requested.
        session_wake_ups_cancel: "session/wake-ups/cancel" (SessionWakeUpCancelParams) -> SessionView;
        /// Skills found in the session's mounts, and which are pinned in its context.
        session_skills_list: "session/skills/list" (SessionRef) -> SessionSkillsListResult;
        /// Pins a skill's instructions in the session's context.
        session_skills_activate: "session/skills/activate" (SessionSkillParams) -> SkillView;
        /// Unpins a skill (it stays in the catalog).
        session_skills_deactivate: "session/skills/deactivate" (SessionSkillParams) -> SkillView;
        /// Reads committed events after a cursor, optionally waiting for new ones.
        session_events_read: "session/events/read" (SessionEventsReadParams) -> SessionEventsReadResult;
        /// Starts (or queues) a run. Returns once the run is durably accepted.
        run_start: "run/start" (RunStartParams) -> RunStartResult;
        /// Cancels a run; it stops at its next step boundary.
        run_cancel: "run/cancel" (RunCancelParams) -> RunAccepted;
        /// Adds input to the running run at its next step boundary.
        run_steer: "run/steer" (RunSteerParams) -> RunAccepted;
        /// Approves the run's calls that wait for approval (all, or the ones named);
        /// `remember` approves their tools for the rest of the session.
        run_approve: "run/approve" (RunApproveParams) -> RunAccepted;
        /// Denies the run's calls that wait for approval; the model gets `message`
        /// (or a standard refusal) as each call's result.
        run_deny: "run/deny" (RunDenyParams) -> RunAccepted;
        /// Lists the deployment's providers and their models, with each model's
        /// context window and output limits (no keys, header values or URL paths).
        models_list: "models/list" (ModelsListParams) -> ModelsListResult;
        /// The caller's universe: sessions, runs in flight, stored bytes, and what
        /// its generations cost, as its store counts them.
        universe_usage: "universe/usage" (UniverseUsageParams) -> UniverseUsageView;
        /// Stores a small blob (base64). Large blobs: `PUT /blobs/{ref}`.
        blob_put: "blob/put" (BlobPutParams) -> BlobPutResult;
        /// Reads a small blob (base64). Large blobs: `GET /blobs/{ref}`.
        blob_get: "blob/get" (BlobGetParams) -> BlobGetResult;
        /// Which of these blobs the store already has.
        blob_has_many: "blob/has_many" (BlobHasManyParams) -> BlobHasManyResult;
        /// Keeps a blob whether or not anything names it: collection never deletes a
        /// pinned blob (unreferenced ones go after a grace period, default 24 h). At
        /// most 1,000 pins per universe (`quotaExceeded`, quota `blobPins`).
        blob_pin: "blob/pin" (BlobPinParams) -> BlobPinView;
        /// Removes a pin; the blob stays while anything names it.
        blob_unpin: "blob/unpin" (BlobPinParams) -> BlobUnpinResult;
        /// Every pin of the universe.
        blob_pins_list: "blob/pins/list" (BlobPinsListParams) -> BlobPinsListResult;
        /// Creates or replaces an MCP server of the universe (validated: no credential
        /// in headers or URL, stdio only from the deployment's allow-list).
        mcp_servers_put: "mcp/servers/put" (McpServerPutParams) -> McpServerView;
        /// Reads an MCP server.
        mcp_servers_read: "mcp/servers/read" (McpServerRef) -> McpServerView;
        /// Lists the universe's MCP servers by name.
        mcp_servers_list: "mcp/servers/list" (McpServerListParams) -> McpServerListResult;
        /// Deletes an MCP server.
        mcp_servers_delete: "mcp/servers/delete" (McpServerRef) -> McpServerDeleteResult;
        /// Links an MCP server to a session: lists its tools (`tools/list`), stores their
        /// definitions and registers them as session tools `server__tool`. Linking again
        /// refreshes the list (a server's `tools/list_changed` takes effect here).
        session_mcp_link: "session/mcp/link" (SessionMcpLinkParams) -> SessionMcpLinkView;
        /// Unlinks an MCP server from a session, removing its tools.
        session_mcp_unlink: "session/mcp/unlink" (SessionMcpUnlinkParams) -> SessionMcpUnlinkResult;
        /// Lists a session's linked MCP servers and their tools.
        session_mcp_list: "session/mcp/list" (SessionMcpListParams) -> SessionMcpListResult;
        /// Stores a secret, encrypted; its value is never returned by any method.
        auth_secrets_put: "auth/secrets/put" (AuthSecretPutParams) -> AuthSecretView;
        /// Lists secrets' metadata (names, purposes, times; never values).
        auth_secrets_list: "auth/secrets/list" (AuthSecretListParams) -> AuthSecretListResult;
        /// Deletes a secret.
        auth_secrets_delete: "auth/secrets/delete" (AuthSecretDeleteParams) -> AuthSecretDeleteResult;
        /// Starts an OAuth authorization (PKCE S256, with discovery and dynamic client
        /// registration): open `authorizationUrl`; the gateway's `/auth/callback`
        /// completes it.
        auth_flows_start: "auth/flows/start" (AuthFlowStartParams) -> AuthFlowView;
        /// Reads a flow: pending, completed (with its grant) or failed.
        auth_flows_read: "auth/flows/read" (AuthFlowRef) -> AuthFlowView;
        /// Lists grants (status, expiry; never tokens).
        auth_grants_list: "auth/grants/list" (AuthGrantListParams) -> AuthGrantListResult;
        /// Revokes a grant (also at the authorization server when it offers revocation).
        auth_grants_revoke: "auth/grants/revoke" (AuthGrantRef) -> AuthGrantView;
        /// Creates an environment and mints its token (shown once): run
        /// `lightspeed env serve` with it on the machine to lend.
        environments_create: "environments/create" (EnvironmentCreateParams) -> EnvironmentCreated;
        /// Reads an environment: online or not, and what its daemon last reported.
        environments_read: "environments/read" (EnvironmentRef) -> EnvironmentView;
        /// Lists the universe's environments by name.
        environments_list: "environments/list" (EnvironmentListParams) -> EnvironmentListResult;
        /// Deletes an environment: its token stops working; calls waiting for it fail.
        environments_delete: "environments/delete" (EnvironmentRef) -> EnvironmentDeleteResult;
        /// Attaches an environment to a session at a name: registers the shell tools
        /// and shows its directory to the file tools at `/env/NAME`.
        session_environments_attach: "session/environments/attach" (SessionEnvironmentAttachParams) -> SessionEnvironmentView;
        /// Detaches an environment (the shell tools go with the last one).
        session_environments_detach: "session/environments/detach" (SessionEnvironmentDetachParams) -> SessionEnvironmentDetachResult;
        /// Lists a session's attached environments.
        session_environments_list: "session/environments/list" (SessionEnvironmentListParams) -> SessionEnvironmentListResult;
        /// Creates a memory block of the universe at revision 1.
        memory_blocks_create: "memory/blocks/create" (MemoryBlockCreateParams) -> MemoryBlockView;
        /// Reads a memory block and its value.
        memory_blocks_read: "memory/blocks/read" (MemoryBlockRef) -> MemoryBlockView;
        /// Lists the universe's memory blocks by label (without values).
        memory_blocks_list: "memory/blocks/list" (MemoryBlockListParams) -> MemoryBlockListResult;
        /// Changes a memory block at the revision read; sessions that have it see the
        /// change at their next turn.
        memory_blocks_update: "memory/blocks/update" (MemoryBlockUpdateParams) -> MemoryBlockView;
        /// Deletes a memory block (refused while sessions have it, unless `force`).
        memory_blocks_delete: "memory/blocks/delete" (MemoryBlockDeleteParams) -> MemoryBlockDeleteResult;
        /// Attaches a memory block to a session: pinned in its context from its next
        /// turn, with the memory tools registered.
        session_memory_attach: "session/memory/attach" (SessionMemoryAttachParams) -> SessionMemoryAttachResult;
        /// Detaches a memory block (the memory tools go with the last one).
        session_memory_detach: "session/memory/detach" (SessionMemoryDetachParams) -> SessionMemoryDetachResult;
        /// Lists a session's memory blocks.
        session_memory_list: "session/memory/list" (SessionMemoryListParams) -> SessionMemoryListResult;
        /// Files a passage in the universe's archival memory.
        memory_archival_insert: "memory/archival/insert" (MemoryArchivalInsertParams) -> MemoryPassageView;
        /// Searches archival memory by words, best first.
        memory_archival_search: "memory/archival/search" (MemoryArchivalSearchParams) -> MemoryArchivalSearchResult;
        /// Deletes an archival passage.
        memory_archival_delete: "memory/archival/delete" (MemoryArchivalDeleteParams) -> MemoryArchivalDeleteResult;
        /// Creates a schedule: runs started on a session, or on a fresh session per
        /// firing, on an interval or cron expression.
        schedule_create: "schedule/create" (ScheduleCreateParams) -> ScheduleView;
        /// Reads a schedule, its last firing and when it fires next.
        schedule_read: "schedule/read" (ScheduleRef) -> ScheduleView;
        /// Lists the universe's schedules by id.
        schedule_list: "schedule/list" (ScheduleListParams) -> ScheduleListResult;
        /// Changes a schedule's name, spec, target, input or overlap policy.
        schedule_update: "schedule/update" (ScheduleUpdateParams) -> ScheduleView;
        /// Pauses or resumes a schedule.
        schedule_pause: "schedule/pause" (SchedulePauseParams) -> ScheduleView;
        /// Deletes a schedule (a firing under way finishes; none follows).
        schedule_delete: "schedule/delete" (ScheduleRef) -> ScheduleDeleteResult;
        /// Takes an event from outside: a run (or input to the active run) in the
        /// session its target names or makes; a repeated delivery within the window
        /// does nothing new and answers `duplicate`.
        events_ingest: "events/ingest" (EventIngestParams) -> EventIngestResult;
        /// Operator: pauses a universe's dispatch: runs queue, none starts; active
        /// runs go on.
        operator_dispatch_pause: "operator/dispatch/pause" (DispatchParams) -> DispatchView;
        /// Operator: resumes a universe's dispatch; held queues start.
        operator_dispatch_resume: "operator/dispatch/resume" (DispatchParams) -> DispatchView;
        /// Operator: a universe's runs in flight, active and queued, with age and cost.
        operator_runs_list: "operator/runs/list" (OperatorRunsListParams) -> OperatorRunsListResult;
        /// Operator: cancels a run of a universe, queued or active.
        operator_runs_cancel: "operator/runs/cancel" (OperatorRunCancelParams) -> RunAccepted;
    }
    optional_methods {
        /// Stores a snapshot: a manifest of files whose blobs are already in the CAS.
        vfs_snapshot_commit: "vfs/snapshot/commit" (VfsSnapshotCommitParams) -> VfsSnapshotCommitResult;
        /// Reads a snapshot's totals and its files, a page at a time.
        vfs_snapshot_read: "vfs/snapshot/read" (VfsSnapshotReadParams) -> VfsSnapshotReadResult;
        /// Creates a workspace at a snapshot (default empty), at revision 1.
        vfs_workspace_create: "vfs/workspace/create" (VfsWorkspaceCreateParams) -> VfsWorkspaceView;
        /// Reads a workspace's head.
        vfs_workspace_read: "vfs/workspace/read" (VfsWorkspaceRef) -> VfsWorkspaceView;
        /// Moves a workspace's head to a snapshot; the revision must match.
        vfs_workspace_update: "vfs/workspace/update" (VfsWorkspaceUpdateParams) -> VfsWorkspaceView;
        /// Deletes a workspace (mounts of it then fail until it exists again).
        vfs_workspace_delete: "vfs/workspace/delete" (VfsWorkspaceDeleteParams) -> VfsWorkspaceDeleteResult;
        /// Mounts a snapshot or workspace at a session path.
        vfs_mount_put: "vfs/mount/put" (VfsMountPutParams) -> VfsMountView;
        /// Removes the mount at a session path.
        vfs_mount_delete: "vfs/mount/delete" (VfsMountDeleteParams) -> VfsMountDeleteResult;
        /// Lists a session's mounts.
        vfs_mount_list: "vfs/mount/list" (VfsMountListParams) -> VfsMountListResult;
        /// Operator: mints a key for a universe (the plaintext is answered once).
        /// Served by the gateway, which holds the keys.
        operator_api_keys_create: "operator/api-keys/create" (ApiKeyCreateParams) -> ApiKeyCreateResult;
        /// Operator: lists keys, newest first.
        operator_api_keys_list: "operator/api-keys/list" (ApiKeyListParams) -> ApiKeyListResult;
        /// Operator: revokes a key; every gateway refuses it within `keyRecheckMs`,
        /// open WebSockets included.
        operator_api_keys_revoke: "operator/api-keys/revoke" (ApiKeyRevokeParams) -> ApiKeyRevokeResult;
        /// Operator: the audit log of operator calls, newest first.
        operator_audit_list: "operator/audit/list" (AuditListParams) -> AuditListResult;
        /// Operator: the universes the deployment holds keys for, with their key counts.
        operator_universes_list: "operator/universes/list" (UniverseListParams) -> UniverseListResult;
        /// Operator: one universe, with its usage (`universe/usage`, read as the universe).
        operator_universes_read: "operator/universes/read" (UniverseReadParams) -> UniverseView;
        /// Operator: creates a universe (an empty tenant to mint keys for).
        operator_universes_create: "operator/universes/create" (UniverseCreateParams) -> UniverseView;
        /// Operator: deletes a universe (`confirm` repeats its id): its keys are
        /// revoked and its sessions and records deleted.
        operator_universes_delete: "operator/universes/delete" (UniverseDeleteParams) -> UniverseDeleteResult;
    }
    subscriptions {
        /// Committed session events from a cursor on, then live, with the running
        /// turn's text and reasoning deltas (WebSocket only).
        session_subscribe: "session/subscribe" (SessionSubscribeParams)
            => "session/notification" (SessionNotification), unsubscribe "session/unsubscribe";
    }
}
