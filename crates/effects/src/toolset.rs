//! The tools a host serves in production. A tool call reaches the worker as the session's key,
//! the call, and the definition the session registered under the call's name; the
//! backend refuses calls of tools the session never registered, and asks a
//! [`SessionToolset`] for the adapter of the call's session.
//!
//! [`WorkerTools`], the production toolset, serves:
//! - the file tools (`read_file`, `write_file`, `edit_file`, `apply_patch`, `grep`,
//!   `glob`, `list_dir`, or their `anthropic:messages` spellings) over the session's
//!   mounts, through effects' [`VfsToolAdapter`] over the universe's store, which is
//!   also its VFS catalog;
//! - the durable time tools `sleep`, `wait_until` and `wake_me_at`
//!   ([`crate::timer_tools`]): their results wait on the workflow's timer, not here;
//! - the tools of MCP servers linked to the session (`server__tool`), through
//!   [`McpTools`], when the host built the toolset with one;
//! - the shell tools of attached environments (`exec_command` and `write_stdin`, or
//!   `Bash`), through [`EnvTools`]: each call becomes a job the gateway holding the
//!   environment's daemon delivers; how the caller waits is the call's
//!   [`Completion`];
//! - the memory tools of sessions with memory blocks (`memory_replace`,
//!   `memory_append`, `memory_rethink`, `archival_insert`, `archival_search`),
//!   through `memory_tools` over the universe's memory catalog;
//! - the schedule tools of sessions started with `tools.schedules`
//!   (`schedule_create`, `schedule_list`, `schedule_pause`, `schedule_delete`),
//!   through `schedule_tools` over the universe's schedule catalog and the host's
//!   scheduler, when the host built the toolset with one
//!   ([`WorkerTools::with_schedules`]).
//!
//! Any other name is an error result.

use std::sync::Arc;

use crate::adapter::{AdapterError, ToolAdapter};
use crate::agent_tools::AgentFleet;
use crate::context_sources::agents::agents_files;
use crate::context_sources::skills::skill_catalog;
use crate::context_sources::{ContextSources, SkillRoots};
use crate::env::{Completion, EnvCall, EnvTools, ShellTool};
use crate::mcp::{McpTools, ToolProgress};
use crate::schedule_tools::ScheduleTools;
use crate::vfs_tools::VfsToolAdapter;
use engine::SessionId;
use engine::core::context::estimate_tokens;
use engine::core::effects::ToolResult;
use engine::core::run::{ToolCallRequest, ToolStatus};
use engine::store::BlobStore;
use env_registry::EnvCatalog;
use mcp_registry::McpCatalog;
use memory_registry::MemoryCatalog;
use schedule_registry::ScheduleCatalog;
use serde_json::{Value, json};
use tools::{Mode, ToolKind};
use vfs::VfsCatalog;

/// Makes the tool adapter of one session of universe `universe_id`, whose store is
/// `S`. The backend asks for one per call: adapters are cheap, and a worker serves
/// many sessions.
pub trait SessionToolset<S>: Send + Sync + 'static {
    type Tools: ToolAdapter;

    fn session_tools(&self, universe_id: &str, store: &Arc<S>, session: &SessionId) -> Self::Tools;

    /// [`SessionToolset::session_tools`] whose calls report progress to `progress`
    /// (tools that cannot report ignore it).
    fn session_tools_reporting(
        &self,
        universe_id: &str,
        store: &Arc<S>,
        session: &SessionId,
        progress: Arc<dyn ToolProgress>,
    ) -> Self::Tools {
        let _ = progress;
        self.session_tools(universe_id, store, session)
    }

    /// [`SessionToolset::session_tools`] for one call of run `context.run_id`'s batch
    /// `context.batch`: progress goes to `context.progress`, and environment calls
    /// wait as `context.completion` says.
    fn call_tools(
        &self,
        universe_id: &str,
        store: &Arc<S>,
        session: &SessionId,
        context: CallContext,
    ) -> Self::Tools {
        match context.progress {
            Some(progress) => self.session_tools_reporting(universe_id, store, session, progress),
            None => self.session_tools(universe_id, store, session),
        }
    }

    /// Credentials of the MCP servers the universe's sessions link provider-hosted,
    /// for the generation activity (none: hosted servers are sent without one).
    fn hosted_mcp(
        &self,
        universe_id: &str,
        store: &Arc<S>,
    ) -> Option<Box<dyn llm_runtime::HostedMcpAuth>> {
        let _ = (universe_id, store);
        None
    }

    /// What the generation activity refreshes into the context before each
    /// generation (none by default).
    fn context_sources(&self) -> ContextSources<S> {
        ContextSources::default()
    }

    /// The sub-agent fleet: what serves the sub-agent tools and tells parents of
    /// their children's run ends (none by default: run ends owed to a parent are
    /// acknowledged as undeliverable).
    fn fleet(&self) -> Option<Arc<dyn AgentFleet>> {
        None
    }
}

/// What one tool call's adapter needs to know about the call beyond the call itself.
#[derive(Clone)]
pub struct CallContext {
    pub run_id: String,
    pub batch: u32,
    pub progress: Option<Arc<dyn ToolProgress>>,
    pub completion: Completion,
}

/// The production toolset: file tools, `sleep`, the tools of linked MCP servers
/// when the host has an MCP client ([`WorkerTools::with_mcp`]), and the shell tools
/// of attached environments.
#[derive(Clone, Default)]
pub struct WorkerTools {
    mcp: Option<Arc<McpTools>>,
    env: EnvTools,
    skill_roots: SkillRoots,
    schedules: Option<ScheduleTools>,
    agents: Option<Arc<dyn AgentFleet>>,
}

impl WorkerTools {
    pub fn with_mcp(mcp: Arc<McpTools>) -> Self {
        Self {
            mcp: Some(mcp),
            env: EnvTools::default(),
            skill_roots: SkillRoots::default(),
            schedules: None,
            agents: None,
        }
    }

    /// The same toolset serving the sub-agent tools over `fleet`.
    pub fn with_agents(mut self, fleet: Arc<dyn AgentFleet>) -> Self {
        self.agents = Some(fleet);
        self
    }

    /// The fleet the sub-agent tools use; also what tells parents of their
    /// children's run ends.
    pub fn agents(&self) -> Option<&Arc<dyn AgentFleet>> {
        self.agents.as_ref()
    }

    /// The same toolset serving the schedule tools over `schedules`' scheduler.
    pub fn with_schedules(mut self, schedules: ScheduleTools) -> Self {
        self.schedules = Some(schedules);
        self
    }

    /// The same toolset with skills found under these roots of every mount.
    pub fn with_skill_roots(mut self, roots: SkillRoots) -> Self {
        self.skill_roots = roots;
        self
    }

    /// The same toolset with these environment call limits.
    pub fn with_env(mut self, env: EnvTools) -> Self {
        self.env = env;
        self
    }
}

/// [`WorkerTools`] for one session.
pub struct SessionTools<S> {
    files: VfsToolAdapter<S>,
    mcp: Option<SessionMcp<S>>,
    env: SessionEnv<S>,
    /// The schedule tools and the session's universe.
    schedules: Option<(ScheduleTools, String)>,
    /// The sub-agent fleet and the session's universe.
    agents: Option<(Arc<dyn AgentFleet>, String)>,
}

struct SessionEnv<S> {
    tools: EnvTools,
    store: Arc<S>,
    session: SessionId,
    call: EnvCall,
}

struct SessionMcp<S> {
    tools: Arc<McpTools>,
    universe_id: String,
    store: Arc<S>,
    session: SessionId,
    progress: Option<Arc<dyn ToolProgress>>,
}

impl<
    S: VfsCatalog + McpCatalog + EnvCatalog + MemoryCatalog + ScheduleCatalog + BlobStore + 'static,
> SessionToolset<S> for WorkerTools
{
    type Tools = SessionTools<S>;

    fn hosted_mcp(
        &self,
        universe_id: &str,
        store: &Arc<S>,
    ) -> Option<Box<dyn llm_runtime::HostedMcpAuth>> {
        let tools = self.mcp.as_ref()?;
        Some(Box::new(tools.hosted_auth(universe_id, store.clone())))
    }

    fn fleet(&self) -> Option<Arc<dyn AgentFleet>> {
        self.agents.clone()
    }

    /// `AGENTS.md`/`CLAUDE.md` at mount roots, then the skill catalog, then the
    /// session's memory blocks.
    fn context_sources(&self) -> ContextSources<S> {
        ContextSources::new()
            .with(agents_files(self.env.clone()))
            .with(skill_catalog(self.skill_roots.clone(), self.env.clone()))
            .with(Arc::new(crate::memory_source::MemorySource))
    }

    fn session_tools(
        &self,
        universe_id: &str,
        store: &Arc<S>,
        session: &SessionId,
    ) -> SessionTools<S> {
        // Edit mode is right for every call that gets here: a writing tool is only
        // registered for sessions started with `filesystem: edit`, unregistered calls
        // never reach a toolset, and reading tools behave alike in both modes.
        // Read-only mounts still refuse writes.
        SessionTools {
            files: VfsToolAdapter::new(store.clone(), session.clone(), Mode::Edit),
            mcp: self.mcp.clone().map(|tools| SessionMcp {
                tools,
                universe_id: universe_id.to_owned(),
                store: store.clone(),
                session: session.clone(),
                progress: None,
            }),
            env: SessionEnv {
                tools: self.env.clone(),
                store: store.clone(),
                session: session.clone(),
                // Without a call's context (the in-process runner): wait, under a
                // fresh job id no retry looks for.
                call: EnvCall {
                    run_id: String::new(),
                    batch: 0,
                    completion: Completion::Wait,
                },
            },
            schedules: self
                .schedules
                .clone()
                .map(|tools| (tools, universe_id.to_owned())),
            agents: self
                .agents
                .clone()
                .map(|fleet| (fleet, universe_id.to_owned())),
        }
    }

    fn call_tools(
        &self,
        universe_id: &str,
        store: &Arc<S>,
        session: &SessionId,
        context: CallContext,
    ) -> SessionTools<S> {
        let mut tools = match context.progress {
            Some(progress) => self.session_tools_reporting(universe_id, store, session, progress),
            None => self.session_tools(universe_id, store, session),
        };
        tools.env.call = EnvCall {
            run_id: context.run_id,
            batch: context.batch,
            completion: context.completion,
        };
        tools
    }

    fn session_tools_reporting(
        &self,
        universe_id: &str,
        store: &Arc<S>,
        session: &SessionId,
        progress: Arc<dyn ToolProgress>,
    ) -> SessionTools<S> {
        let mut tools = self.session_tools(universe_id, store, session);
        if let Some(mcp) = &mut tools.mcp {
            mcp.progress = Some(progress);
        }
        tools
    }
}

impl<S: VfsCatalog + McpCatalog + EnvCatalog + MemoryCatalog + ScheduleCatalog + BlobStore>
    ToolAdapter for SessionTools<S>
{
    async fn invoke<B: BlobStore>(
        &self,
        call: &ToolCallRequest,
        blobs: &B,
    ) -> Result<ToolResult, AdapterError> {
        self.invoke_as(call, blobs, &self.env.call).await
    }

    async fn invoke_in_run<B: BlobStore>(
        &self,
        call: &ToolCallRequest,
        blobs: &B,
        run_id: &engine::RunId,
        batch: u32,
    ) -> Result<ToolResult, AdapterError> {
        let env_call = EnvCall {
            run_id: run_id.as_str().to_owned(),
            batch,
            completion: self.env.call.completion.clone(),
        };
        self.invoke_as(call, blobs, &env_call).await
    }
}

impl<S: VfsCatalog + McpCatalog + EnvCatalog + MemoryCatalog + ScheduleCatalog + BlobStore>
    SessionTools<S>
{
    /// Runs `call`; environment calls as `env_call` says.
    async fn invoke_as<B: BlobStore>(
        &self,
        call: &ToolCallRequest,
        blobs: &B,
        env_call: &EnvCall,
    ) -> Result<ToolResult, AdapterError> {
        if let Some(kind) = ToolKind::from_name(&call.name) {
            // A path under `/env/NAME` of an attachment reaches that environment.
            let env = &self.env;
            let arguments = blobs.get(&call.arguments_ref).await?;
            if let Ok(arguments) = serde_json::from_slice::<Value>(&arguments)
                && let Some(result) = env
                    .tools
                    .file_call(
                        &*env.store,
                        &env.session,
                        call,
                        kind,
                        &arguments,
                        env_call,
                        now_ms(),
                    )
                    .await
            {
                return result;
            }
            return self.files.invoke(call, blobs).await;
        }
        // Linked MCP tools are `server__tool`; no other tool name has `__`.
        if let (Some(mcp), true) = (&self.mcp, call.name.contains("__")) {
            return mcp
                .tools
                .invoke(
                    &mcp.universe_id,
                    &*mcp.store,
                    &mcp.session,
                    call,
                    mcp.progress.as_ref(),
                )
                .await;
        }
        let shell = match call.name.as_str() {
            crate::env::EXEC_COMMAND => Some(ShellTool::Exec),
            crate::env::WRITE_STDIN => Some(ShellTool::WriteStdin),
            crate::env::BASH => Some(ShellTool::Bash),
            _ => None,
        };
        if let Some(tool) = shell {
            let env = &self.env;
            return env
                .tools
                .invoke(&*env.store, &env.session, call, tool, env_call, now_ms())
                .await;
        }
        if let Some(tool) = crate::memory_tools::MemoryTool::from_name(&call.name) {
            let env = &self.env;
            return crate::memory_tools::invoke(
                &*env.store,
                &env.session,
                call,
                tool,
                blobs,
                now_ms(),
            )
            .await;
        }
        if let (Some(tool), Some((tools, universe_id))) = (
            crate::schedule_tools::ScheduleTool::from_name(&call.name),
            &self.schedules,
        ) {
            let env = &self.env;
            let schedules = crate::schedule_tools::ScheduleCall {
                tools,
                store: &*env.store,
                universe_id,
                session: &env.session,
                now_ms: now_ms(),
            };
            return schedules.invoke(call, tool, blobs).await;
        }
        if let (Some(tool), Some((fleet, universe_id))) = (
            crate::agent_tools::AgentTool::from_name(&call.name),
            &self.agents,
        ) {
            let agents = crate::agent_tools::AgentCall {
                fleet: fleet.as_ref(),
                caller: crate::agent_tools::Caller {
                    universe_id,
                    session_id: &self.env.session,
                    call_id: &call.call_id,
                },
                now_ms: now_ms(),
            };
            return agents.invoke(call, tool, blobs).await;
        }
        if crate::timer_tools::is_timer_tool(&call.name) {
            let arguments = blobs.get(&call.arguments_ref).await?;
            return crate::timer_tools::invoke(blobs, call, &arguments, now_ms()).await;
        }
        let output = json!({"error": format!("unknown tool {:?}", call.name)});
        result(call, blobs, ToolStatus::Error, &output).await
    }
}

/// Milliseconds since the Unix epoch: jobs carry wall-clock times other processes
/// compare with their own.
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64)
}

/// Tool definitions as sessions register them: `(name, canonical definition bytes)`
/// of `{name, description, parameters}`, alike on every API kind.
pub(crate) fn definitions<'a>(
    tools: impl IntoIterator<Item = (&'a str, &'a str, Value)>,
) -> Vec<(String, Vec<u8>)> {
    tools
        .into_iter()
        .map(|(name, description, parameters)| {
            let bytes = engine::canonical::to_vec(&json!({
                "name": name,
                "description": description,
                "parameters": parameters,
            }));
            (name.to_owned(), bytes)
        })
        .collect()
}

/// Stores `output` and returns the result naming it.
pub async fn result<B: BlobStore>(
    call: &ToolCallRequest,
    blobs: &B,
    status: ToolStatus,
    output: &Value,
) -> Result<ToolResult, AdapterError> {
    let bytes = engine::canonical::to_vec(output);
    let token_estimate = estimate_tokens(&bytes);
    Ok(ToolResult::now(
        call.call_id.clone(),
        status,
        blobs.put(bytes).await?,
        token_estimate,
    ))
}

/// What a call naming a tool the session never registered gets back: models can
/// name any tool, and hosts serve only the session's own (the Temporal worker and
/// the in-process runner alike).
pub fn unavailable_tool_message(name: &str) -> String {
    format!("tool {name:?} is not available in this session")
}
