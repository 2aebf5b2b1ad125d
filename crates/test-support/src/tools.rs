//! A few simple tools for runner tests and evals: `echo`, `add`, `fail`. Unknown
//! tools and bad arguments come back to the model as tool errors, never panics.

use std::sync::Arc;

use effects::{SessionToolset, WorkerTools};
use engine::SessionId;
use engine::core::context::estimate_tokens;
use engine::core::effects::ToolResult;
use engine::core::run::{ToolCallRequest, ToolStatus};
use engine::store::BlobStore;
use mcp_registry::McpCatalog;
use serde_json::{Value, json};
use vfs::VfsCatalog;

use crate::adapters::{AdapterError, ToolAdapter};

/// Names of the tools [`BuiltinTools`] serves.
pub const BUILTIN_TOOL_NAMES: [&str; 3] = ["add", "echo", "fail"];

#[derive(Debug, Default, Clone, Copy)]
pub struct BuiltinTools;

fn run(name: &str, arguments: &Value) -> (ToolStatus, Value) {
    match name {
        "echo" => (ToolStatus::Ok, arguments.clone()),
        "add" => match (arguments["a"].as_i64(), arguments["b"].as_i64()) {
            (Some(a), Some(b)) => match a.checked_add(b) {
                Some(sum) => (ToolStatus::Ok, json!({"sum": sum})),
                None => (ToolStatus::Error, json!({"error": "sum overflows"})),
            },
            _ => (
                ToolStatus::Error,
                json!({"error": "add needs integer arguments a and b"}),
            ),
        },
        "fail" => (
            ToolStatus::Error,
            json!({"error": "this tool always fails"}),
        ),
        other => (
            ToolStatus::Error,
            json!({"error": format!("unknown tool {other:?}")}),
        ),
    }
}

impl ToolAdapter for BuiltinTools {
    async fn invoke<B: BlobStore>(
        &self,
        call: &ToolCallRequest,
        blobs: &B,
    ) -> Result<ToolResult, AdapterError> {
        let raw = blobs.get(&call.arguments_ref).await?;
        let (status, output) = match serde_json::from_slice::<Value>(&raw) {
            Ok(arguments) => run(&call.name, &arguments),
            Err(err) => (
                ToolStatus::Error,
                json!({"error": format!("arguments are not JSON: {err}")}),
            ),
        };
        let bytes = engine::canonical::to_vec(&output);
        let token_estimate = estimate_tokens(&bytes);
        let output_ref = blobs.put(bytes).await?;
        Ok(ToolResult {
            call_id: call.call_id.clone(),
            status,
            output_ref,
            token_estimate,
            later: None,
            child: Default::default(),
        })
    }
}

/// The production toolset ([`effects::WorkerTools`]: file tools, `sleep`) plus the
/// builtin tools above, which production hosts do not serve. Test hosts (the
/// in-process host, the Temporal test worker) serve exactly this, so the API
/// conformance suite sees the same tools on every host.
#[derive(Clone, Default)]
pub struct TestToolset {
    production: WorkerTools,
}

impl TestToolset {
    /// With the production toolset's MCP tools served through `mcp`.
    pub fn with_mcp(mcp: std::sync::Arc<effects::mcp::McpTools>) -> Self {
        Self {
            production: WorkerTools::with_mcp(mcp),
        }
    }

    /// The same toolset serving the schedule tools (sessions started with
    /// `tools.schedules`) over `schedules`' scheduler.
    pub fn with_schedules(self, schedules: effects::schedule_tools::ScheduleTools) -> Self {
        Self {
            production: self.production.with_schedules(schedules),
        }
    }

    /// The same toolset serving the sub-agent tools (sessions started with
    /// `tools.agents`) over `fleet`.
    pub fn with_agents(self, fleet: std::sync::Arc<dyn effects::agent_tools::AgentFleet>) -> Self {
        Self {
            production: self.production.with_agents(fleet),
        }
    }

    /// The fleet the sub-agent tools use, if any.
    pub fn agents(&self) -> Option<&std::sync::Arc<dyn effects::agent_tools::AgentFleet>> {
        self.production.agents()
    }
}

/// [`TestToolset`] for one session.
pub struct TestSessionTools<S>(<WorkerTools as SessionToolset<S>>::Tools)
where
    S: VfsCatalog
        + McpCatalog
        + env_registry::EnvCatalog
        + memory_registry::MemoryCatalog
        + schedule_registry::ScheduleCatalog
        + BlobStore
        + 'static;

impl<
    S: VfsCatalog
        + McpCatalog
        + env_registry::EnvCatalog
        + memory_registry::MemoryCatalog
        + schedule_registry::ScheduleCatalog
        + BlobStore
        + 'static,
> SessionToolset<S> for TestToolset
{
    type Tools = TestSessionTools<S>;

    fn hosted_mcp(
        &self,
        universe_id: &str,
        store: &Arc<S>,
    ) -> Option<Box<dyn llm_runtime::HostedMcpAuth>> {
        self.production.hosted_mcp(universe_id, store)
    }

    fn context_sources(&self) -> effects::ContextSources<S> {
        self.production.context_sources()
    }

    fn fleet(&self) -> Option<std::sync::Arc<dyn effects::agent_tools::AgentFleet>> {
        SessionToolset::<S>::fleet(&self.production)
    }

    fn session_tools_reporting(
        &self,
        universe_id: &str,
        store: &Arc<S>,
        session: &SessionId,
        progress: Arc<dyn effects::mcp::ToolProgress>,
    ) -> TestSessionTools<S> {
        TestSessionTools(self.production.session_tools_reporting(
            universe_id,
            store,
            session,
            progress,
        ))
    }

    fn session_tools(
        &self,
        universe_id: &str,
        store: &Arc<S>,
        session: &SessionId,
    ) -> TestSessionTools<S> {
        TestSessionTools(self.production.session_tools(universe_id, store, session))
    }

    fn call_tools(
        &self,
        universe_id: &str,
        store: &Arc<S>,
        session: &SessionId,
        context: effects::toolset::CallContext,
    ) -> TestSessionTools<S> {
        TestSessionTools(
            self.production
                .call_tools(universe_id, store, session, context),
        )
    }
}

impl<
    S: VfsCatalog
        + McpCatalog
        + env_registry::EnvCatalog
        + memory_registry::MemoryCatalog
        + schedule_registry::ScheduleCatalog
        + BlobStore
        + 'static,
> ToolAdapter for TestSessionTools<S>
{
    async fn invoke<B: BlobStore>(
        &self,
        call: &ToolCallRequest,
        blobs: &B,
    ) -> Result<ToolResult, AdapterError> {
        if BUILTIN_TOOL_NAMES.contains(&call.name.as_str()) {
            BuiltinTools.invoke(call, blobs).await
        } else {
            self.0.invoke(call, blobs).await
        }
    }

    async fn invoke_in_run<B: BlobStore>(
        &self,
        call: &ToolCallRequest,
        blobs: &B,
        run_id: &engine::RunId,
        batch: u32,
    ) -> Result<ToolResult, AdapterError> {
        if BUILTIN_TOOL_NAMES.contains(&call.name.as_str()) {
            BuiltinTools.invoke(call, blobs).await
        } else {
            self.0.invoke_in_run(call, blobs, run_id, batch).await
        }
    }
}

/// The MCP client test hosts serve linked tools with: a fresh pool, servers without
/// auth only, no stdio servers.
pub fn test_mcp_tools() -> anyhow::Result<std::sync::Arc<effects::mcp::McpTools>> {
    test_mcp_tools_with(mcp_registry::StdioPolicy::default())
}

/// [`test_mcp_tools`] allowing the stdio commands of `stdio`.
pub fn test_mcp_tools_with(
    stdio: mcp_registry::StdioPolicy,
) -> anyhow::Result<std::sync::Arc<effects::mcp::McpTools>> {
    mcp_tools(stdio, std::sync::Arc::new(effects::mcp::NoCredentials))
}

fn mcp_tools(
    stdio: mcp_registry::StdioPolicy,
    credentials: std::sync::Arc<dyn effects::mcp::McpCredentials>,
) -> anyhow::Result<std::sync::Arc<effects::mcp::McpTools>> {
    let pool = mcp_client::McpPool::new(mcp_client::PoolConfig::default())?;
    Ok(std::sync::Arc::new(effects::mcp::McpTools::new(
        pool,
        stdio,
        credentials,
    )))
}

/// Auth settings for test stacks: a fresh random key, default bounds, and a redirect
/// URI no server listens on (tests take the code from the authorization server's
/// redirect and hand it to the gateway's `/auth/callback` themselves).
pub fn test_auth_settings() -> api_service::AuthSettings {
    let key: Vec<u8> = [uuid::Uuid::new_v4(), uuid::Uuid::new_v4()]
        .iter()
        .flat_map(|id| id.as_bytes().to_vec())
        .collect();
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(key);
    let keyring = auth_registry::Keyring::parse(&format!("test:{encoded}"))
        .unwrap_or_else(|err| panic!("a generated key parses: {err}"));
    api_service::AuthSettings {
        keyring: std::sync::Arc::new(keyring),
        redirect_uri: TEST_REDIRECT_URI.to_owned(),
        limits: auth_registry::AuthLimits::default(),
    }
}

/// The redirect URI of [`test_auth_settings`].
pub const TEST_REDIRECT_URI: &str = "http://127.0.0.1:9/auth/callback";

/// The MCP client of a test stack over `stores`, credentials from their auth
/// registries sealed with `auth`'s keys.
pub fn test_mcp_tools_over<P: session_stores::StoreProvider>(
    stores: std::sync::Arc<P>,
    auth: api_service::AuthSettings,
    stdio: mcp_registry::StdioPolicy,
) -> anyhow::Result<std::sync::Arc<effects::mcp::McpTools>> {
    mcp_tools(
        stdio,
        std::sync::Arc::new(api_service::StoreCredentials::new(stores, auth)),
    )
}
