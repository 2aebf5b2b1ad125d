//! `mcp/servers/*` and `session/mcp/*`: the universe's MCP catalog, and the links
//! that register a server's tools on a session (through the engine's tool patches,
//! so the session's tools stay in its log and replay like any other).

use api::ApiError;
use api::types::mcp::*;
use api_projection::mcp::{catalog_error, link_view, server_name, server_put, server_view};
use engine::SessionId;
use engine::core::command::{CoreCommand, Rejection};
use engine::core::control::ControlState;
use engine::core::tools::{ToolClass, ToolSpec};
use engine::store::BlobStore;
use std::sync::Arc;

use effects::mcp::{LinkFailure, McpTools};
use mcp_registry::link::LINKS_PER_SESSION_MAX;
use mcp_registry::{McpCatalog, McpCatalogError, ServerName, SessionLink, StdioPolicy};

use crate::host::SessionHost;
use crate::service::Service;

/// How many times a tool patch is retried when another patch moved the session's
/// tool revision between reading it and admitting.
pub(crate) const TOOL_PATCH_ATTEMPTS: usize = 4;

/// The deployment's MCP settings the service enforces, and the MCP client linking
/// lists tools with.
#[derive(Clone, Default)]
pub struct McpSettings {
    /// Commands stdio servers may run (`LIGHTSPEED_MCP_STDIO_COMMANDS`); default none.
    pub stdio: StdioPolicy,
    /// The client `session/mcp/link` lists a server's tools with; without one, linking
    /// is refused (`mcpUnavailable`).
    pub tools: Option<Arc<McpTools>>,
}

pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or_default()
}

impl<H: SessionHost> Service<H> {
    pub(crate) async fn mcp_put(
        &self,
        universe_id: &str,
        params: McpServerPutParams,
    ) -> Result<McpServerView, ApiError> {
        let (name, spec, condition) = server_put(params, &self.mcp.stdio)?;
        let store = self.store(universe_id).await?;
        let server = store
            .mcp_server_put(
                &name,
                &spec,
                condition,
                now_ms(),
                mcp_registry::catalog::SERVERS_MAX,
            )
            .await
            .map_err(catalog_error)?;
        Ok(server_view(server))
    }

    pub(crate) async fn mcp_read(
        &self,
        universe_id: &str,
        name: &str,
    ) -> Result<McpServerView, ApiError> {
        let name = server_name(name)?;
        let store = self.store(universe_id).await?;
        match store.mcp_server_read(&name).await.map_err(catalog_error)? {
            Some(server) => Ok(server_view(server)),
            None => Err(catalog_error(
                mcp_registry::McpCatalogError::ServerNotFound(name.into()),
            )),
        }
    }

    pub(crate) async fn mcp_list(
        &self,
        universe_id: &str,
    ) -> Result<McpServerListResult, ApiError> {
        let store = self.store(universe_id).await?;
        let servers = store.mcp_server_list().await.map_err(catalog_error)?;
        Ok(McpServerListResult {
            servers: servers.into_iter().map(server_view).collect(),
        })
    }

    pub(crate) async fn mcp_delete(
        &self,
        universe_id: &str,
        name: &str,
    ) -> Result<McpServerDeleteResult, ApiError> {
        let name = server_name(name)?;
        let store = self.store(universe_id).await?;
        let deleted = store
            .mcp_server_delete(&name)
            .await
            .map_err(catalog_error)?;
        Ok(McpServerDeleteResult { deleted })
    }

    pub(crate) async fn mcp_link(
        &self,
        universe_id: &str,
        params: SessionMcpLinkParams,
    ) -> Result<SessionMcpLinkView, ApiError> {
        let (session, control) = self
            .existing_session(universe_id, &params.session_id)
            .await?;
        let name = server_name(&params.server)?;
        let store = self.store(universe_id).await?;
        let server = store
            .mcp_server_read(&name)
            .await
            .map_err(catalog_error)?
            .ok_or_else(|| catalog_error(McpCatalogError::ServerNotFound(name.to_string())))?;
        // The bound on links first, before the server is asked anything.
        let links = store.mcp_link_list(&session).await.map_err(catalog_error)?;
        let replacing = links.iter().any(|link| link.server == name);
        mcp_registry::catalog::check_links(links.len(), replacing, LINKS_PER_SESSION_MAX)
            .map_err(catalog_error)?;
        let tools = self.mcp.tools.as_ref().ok_or_else(|| {
            ApiError::rejected("this deployment has no MCP client").with_reason("mcpUnavailable")
        })?;
        let link = match params.mode {
            McpLinkMode::Client => {
                tools
                    .list_link(universe_id, &server, &*store, now_ms())
                    .await
            }
            McpLinkMode::Hosted => {
                let api_kind = control
                    .config
                    .as_ref()
                    .map(|config| config.model.api_kind.as_str())
                    .unwrap_or_default();
                if !matches!(api_kind, "openai:responses" | "anthropic:messages") {
                    return Err(ApiError::rejected(format!(
                        "{api_kind} has no provider-hosted MCP; link in client mode"
                    ))
                    .with_reason("mcpHostedUnsupported"));
                }
                tools
                    .hosted_link(universe_id, &server, &*store, now_ms())
                    .await
            }
        }
        .map_err(link_error)?;
        // Tools first, then the record (see `mcp_unlink`).
        self.patch_tools(universe_id, &session, Some(&link), &name)
            .await?;
        store
            .mcp_link_put(&session, &link, LINKS_PER_SESSION_MAX)
            .await
            .map_err(catalog_error)?;
        Ok(link_view(link))
    }

    pub(crate) async fn mcp_links(
        &self,
        universe_id: &str,
        params: SessionMcpListParams,
    ) -> Result<SessionMcpListResult, ApiError> {
        let (session, _) = self
            .existing_session(universe_id, &params.session_id)
            .await?;
        let store = self.store(universe_id).await?;
        let links = store.mcp_link_list(&session).await.map_err(catalog_error)?;
        Ok(SessionMcpListResult {
            links: links.into_iter().map(link_view).collect(),
        })
    }

    pub(crate) async fn mcp_unlink(
        &self,
        universe_id: &str,
        params: SessionMcpUnlinkParams,
    ) -> Result<SessionMcpUnlinkResult, ApiError> {
        let (session, _) = self
            .existing_session(universe_id, &params.session_id)
            .await?;
        let server = server_name(&params.server)?;
        let store = self.store(universe_id).await?;
        let links = store.mcp_link_list(&session).await.map_err(catalog_error)?;
        let link = links.into_iter().find(|link| link.server == server);
        // Tools first, then the record: a failure in between leaves a record whose
        // tools are gone, which unlinking again clears.
        self.patch_tools(universe_id, &session, None, &server)
            .await?;
        let unlinked = match link {
            Some(_) => store
                .mcp_link_delete(&session, &server)
                .await
                .map_err(catalog_error)?,
            None => false,
        };
        Ok(SessionMcpUnlinkResult { unlinked })
    }

    /// Replaces the session's tools of `server` (every tool named `server__…`) with
    /// `link`'s, or removes them when `link` is `None`, retrying when a concurrent
    /// patch moved the tool revision. Nothing is admitted when nothing changes.
    pub(crate) async fn patch_tools(
        &self,
        universe_id: &str,
        session: &SessionId,
        link: Option<&SessionLink>,
        server: &ServerName,
    ) -> Result<(), ApiError> {
        let prefix = format!("{server}__");
        for _ in 0..TOOL_PATCH_ATTEMPTS {
            let control = self.control(universe_id, session).await?;
            let remove: Vec<String> = control
                .tools
                .iter()
                .filter(|tool| tool.name.starts_with(&prefix))
                .filter(|tool| {
                    !link.is_some_and(|link| link.tools.iter().any(|t| t.name == tool.name))
                })
                .map(|tool| tool.name.clone())
                .collect();
            let upsert: Vec<engine::core::tools::ToolSpec> = link
                .map(|link| {
                    link.tools
                        .iter()
                        .map(|tool| {
                            engine::core::tools::ToolSpec::new(
                                tool.name.clone(),
                                tool.definition_ref.clone(),
                            )
                            .with_class(ToolClass::Mcp)
                        })
                        .filter(|spec| !control.tools.contains(spec))
                        .collect()
                })
                .unwrap_or_default();
            if remove.is_empty() && upsert.is_empty() {
                return Ok(());
            }
            let command = CoreCommand::PatchTools {
                expected_revision: control.tools_revision,
                upsert,
                remove,
            };
            if self.admit_tool_patch(universe_id, session, command).await? {
                return Ok(());
            }
        }
        Err(tools_kept_changing())
    }

    /// Admits a tool patch: `false` when another patch moved the session's tool
    /// revision first (read again and retry), an error for any other refusal.
    pub(crate) async fn admit_tool_patch(
        &self,
        universe_id: &str,
        session: &SessionId,
        command: CoreCommand,
    ) -> Result<bool, ApiError> {
        match self
            .host
            .admit(&crate::host::SessionKey::new(universe_id, session), command)
            .await
        {
            Ok(_) => Ok(true),
            Err(crate::host::AdmitFailure::Rejected(Rejection::RevisionConflict { .. })) => {
                Ok(false)
            }
            Err(crate::host::AdmitFailure::Refused(refusal))
                if refusal.code == engine::core::command::RejectionCode::RevisionConflict =>
            {
                Ok(false)
            }
            Err(failure) => Err(crate::sessions::admit_error(failure)),
        }
    }

    /// Makes the session's tools named in `family` exactly what `wanted` gives for
    /// its control state now (definitions `(name, bytes)`, stored here): family tools
    /// not wanted are removed, wanted ones that differ are upserted, nothing is
    /// admitted when nothing changes. Retries when a concurrent patch moved the tool
    /// revision. The names registered.
    pub(crate) async fn sync_tool_family(
        &self,
        universe_id: &str,
        session: &SessionId,
        family: &[&str],
        class: Option<ToolClass>,
        wanted: impl Fn(&ControlState) -> Vec<(String, Vec<u8>)>,
    ) -> Result<Vec<String>, ApiError> {
        let store = self.store(universe_id).await?;
        for _ in 0..TOOL_PATCH_ATTEMPTS {
            let control = self.control(universe_id, session).await?;
            let mut specs = Vec::new();
            for (name, bytes) in wanted(&control) {
                let definition_ref = store
                    .put(bytes)
                    .await
                    .map_err(|err| crate::errors::internal("storing a tool definition", err))?;
                let spec = ToolSpec::new(name, definition_ref);
                specs.push(ToolSpec { class, ..spec });
            }
            let remove: Vec<String> = control
                .tools
                .iter()
                .filter(|tool| family.contains(&tool.name.as_str()))
                .filter(|tool| !specs.iter().any(|spec| spec.name == tool.name))
                .map(|tool| tool.name.clone())
                .collect();
            let registered = specs.iter().map(|spec| spec.name.clone()).collect();
            let upsert: Vec<ToolSpec> = specs
                .into_iter()
                .filter(|spec| !control.tools.contains(spec))
                .collect();
            if remove.is_empty() && upsert.is_empty() {
                return Ok(registered);
            }
            let command = CoreCommand::PatchTools {
                expected_revision: control.tools_revision,
                upsert,
                remove,
            };
            if self.admit_tool_patch(universe_id, session, command).await? {
                return Ok(registered);
            }
        }
        Err(tools_kept_changing())
    }
}

/// The answer when every tool patch attempt lost to a concurrent one.
pub(crate) fn tools_kept_changing() -> ApiError {
    ApiError::conflict("the session's tools kept changing meanwhile; try again")
        .with_reason("revisionConflict")
}

/// Why linking failed, for the client: the server's own words are bounded and
/// credential-free (`mcp_client` redacts them); store faults are internal.
fn link_error(failure: LinkFailure) -> ApiError {
    match failure {
        LinkFailure::Credential(failure) => {
            ApiError::rejected(failure.message).with_reason(failure.code)
        }
        LinkFailure::Server(err) => {
            let reason = match err.kind() {
                mcp_client::ErrorKind::Unauthorized => "needsReauth",
                mcp_client::ErrorKind::TooLarge => "mcpTooLarge",
                _ => "mcpServerUnavailable",
            };
            ApiError::rejected(format!("listing the server's tools failed: {err}"))
                .with_reason(reason)
        }
        LinkFailure::Policy(message) => ApiError::rejected(message).with_reason("mcpStdioRefused"),
        LinkFailure::Store(err) => crate::errors::internal("storing tool definitions", err),
    }
}
