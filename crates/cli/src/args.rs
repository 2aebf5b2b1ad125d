//! The command line. Flags the README names an environment variable for also read
//! it; a variable set to the empty string counts as unset (`.env_example` leaves
//! them empty), so those flags are read as text and checked in [`crate::chat`].

use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

/// Where the gateway listens when `LIGHTSPEED_API_URL` is not set.
pub const API_URL_DEFAULT: &str = "http://127.0.0.1:18080";

#[derive(Debug, Parser)]
#[command(
    name = "lightspeed",
    version,
    about = "Chat with Lightspeed agents through the gateway."
)]
pub struct Cli {
    #[command(flatten)]
    pub connection: ConnectionArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Args)]
pub struct ConnectionArgs {
    /// The gateway's URL; `/rpc` is appended unless the URL ends with it
    /// [default: http://127.0.0.1:18080]
    #[arg(long, env = "LIGHTSPEED_API_URL", global = true, value_name = "URL")]
    pub api_url: Option<String>,
    /// API key, sent as `Authorization: Bearer <key>`
    #[arg(
        long,
        env = "LIGHTSPEED_API_KEY",
        hide_env_values = true,
        global = true,
        value_name = "KEY"
    )]
    pub api_key: Option<String>,
}

impl ConnectionArgs {
    pub fn api_url(&self) -> &str {
        non_empty(&self.api_url).unwrap_or(API_URL_DEFAULT)
    }

    pub fn api_key(&self) -> Option<&str> {
        non_empty(&self.api_key)
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Chat: an interactive TUI, or one run that prints its answer when MESSAGE is
    /// given.
    Chat(ChatArgs),
    /// List and read sessions.
    #[command(subcommand)]
    Sessions(SessionsCommand),
    /// Fork a session at an event cursor (default: now) into a new session that
    /// shares its history; resume it with `chat --session ID`.
    Fork {
        #[arg(value_name = "SESSION_ID")]
        session_id: String,
        /// The event cursor to fork at (a cursor inside a run forks just before it)
        #[arg(long = "at", value_name = "CURSOR")]
        at: Option<u64>,
        /// Id of the new session (default: a fresh one)
        #[arg(long = "id", value_name = "NEW_SESSION_ID")]
        fork_session_id: Option<String>,
        /// Print JSON (the new session's view)
        #[arg(long)]
        json: bool,
    },
    /// Approve the calls a session's run waits on (its tool policy asks first)
    Approve {
        #[arg(value_name = "SESSION_ID")]
        session_id: String,
        /// The run (default: the session's active run)
        #[arg(long, value_name = "RUN_ID")]
        run: Option<String>,
        /// Only this call (repeat for several; default: every waiting call)
        #[arg(long = "call", value_name = "CALL_ID")]
        calls: Vec<String>,
        /// Approve these tools for the rest of the session
        #[arg(long)]
        remember: bool,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Deny the calls a session's run waits on; the model is told MESSAGE
    Deny {
        #[arg(value_name = "SESSION_ID")]
        session_id: String,
        #[arg(long, value_name = "RUN_ID")]
        run: Option<String>,
        #[arg(long = "call", value_name = "CALL_ID")]
        calls: Vec<String>,
        /// What the model is told instead of the call's result
        #[arg(long, value_name = "TEXT")]
        message: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// The providers and models the server is configured with, and their limits.
    Models {
        /// Print JSON (the `models/list` answer)
        #[arg(long)]
        json: bool,
    },
    /// The virtual filesystem: snapshots, workspaces, mounts.
    Vfs(VfsArgs),
    /// MCP servers of the universe, and their links to sessions.
    Mcp(McpArgs),
    /// Secrets (sealed by the server, never shown again) and OAuth logins for MCP
    /// servers.
    Auth(AuthArgs),
    /// Environments: machines lent to agents (`env serve` runs the daemon here).
    #[command(subcommand)]
    Env(crate::env::EnvCommand),
    /// Memory blocks pinned in sessions' context, and archival memory.
    Memory(crate::memory::MemoryArgs),
    /// Schedules: runs started on a session (or a fresh one) on an interval or cron.
    Schedule(crate::schedule::ScheduleArgs),
}

/// File tools the agent gets over the session's mounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FilesystemTools {
    Edit,
    ReadOnly,
    None,
}

#[derive(Debug, Clone, Args)]
pub struct ChatArgs {
    /// Start a new session (the default without --session)
    #[arg(long, conflicts_with = "session")]
    pub new: bool,
    /// Resume this session
    #[arg(long, value_name = "ID")]
    pub session: Option<String>,
    /// Model of a new session [default: gpt-5]; on a resumed session, a per-run
    /// override
    #[arg(long, env = "LIGHTSPEED_CHAT_MODEL", value_name = "MODEL")]
    pub model: Option<String>,
    /// Provider id, as the server's deployment config names it [default: openai]
    #[arg(long, env = "LIGHTSPEED_CHAT_PROVIDER", value_name = "ID")]
    pub provider: Option<String>,
    /// API kind: openai:responses, openai:completions or anthropic:messages
    /// [default: openai:responses]
    #[arg(long, env = "LIGHTSPEED_CHAT_API_KIND", value_name = "KIND")]
    pub api_kind: Option<String>,
    /// Reasoning effort: minimal, low, medium or high
    #[arg(long, env = "LIGHTSPEED_CHAT_REASONING_EFFORT", value_name = "EFFORT")]
    pub effort: Option<String>,
    /// Output-token cap of one generation
    #[arg(long, env = "LIGHTSPEED_CHAT_MAX_TOKENS", value_name = "N")]
    pub max_tokens: Option<String>,
    /// File tools of a new session [default: edit with --mount, else none]
    #[arg(long, value_enum, value_name = "MODE")]
    pub filesystem_tools: Option<FilesystemTools>,
    /// Upload DIR (honouring .gitignore) as a workspace and mount it read-write
    #[arg(long, value_name = "DIR")]
    pub mount: Option<PathBuf>,
    /// With --mount: also upload .env files, private keys and credential files
    #[arg(long)]
    pub include_secrets: bool,
    /// Where --mount puts the directory in the session
    #[arg(long, value_name = "PATH", default_value = "/workspace")]
    pub mount_path: String,
    /// Attach environment NAME (a machine `lightspeed env serve` lends): shell
    /// tools, and its directory at /env/NAME (repeat for several)
    #[arg(long = "env", value_name = "NAME")]
    pub environments: Vec<String>,
    /// Give a new session the durable time tools: sleep, wait_until, wake_me_at
    #[arg(long)]
    pub timers: bool,
    /// Give a new session the sub-agent tools: agent_spawn, agent_send, agent_wait,
    /// agent_read, agent_cancel, agent_list
    #[arg(long)]
    pub agents: bool,
    /// A new session asks before these calls run: shell, file-writes, mcp, all, or a
    /// tool name or pattern such as github__* (repeat for several)
    #[arg(long = "ask", value_name = "TOOLS")]
    pub ask: Vec<String>,
    /// With --ask: deny a call nobody answered within SECS seconds [default: wait]
    #[arg(long, value_name = "SECS")]
    pub approval_timeout: Option<u64>,
    /// Each run may spend at most USD on generations; it fails with limitExceeded
    /// (cost) before the generation that would start past it [default: no budget]
    #[arg(long, value_name = "USD")]
    pub max_cost_usd: Option<f64>,
    /// A new session may spend at most USD over all its runs [default: no budget]
    #[arg(long, value_name = "USD", conflicts_with = "session")]
    pub session_max_cost_usd: Option<f64>,
    /// With a message: print one JSON object (session, run, status, text, tool
    /// calls, usage) instead of streaming text
    #[arg(long)]
    pub json: bool,
    /// Send this message, print the answer and exit (words are joined by spaces)
    #[arg(value_name = "MESSAGE")]
    pub message: Vec<String>,
    /// Which model flags came from the command line itself (not the environment):
    /// only those override a resumed session's config.
    #[arg(skip)]
    pub typed: TypedFlags,
}

/// Model flags given on the command line, as opposed to the environment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TypedFlags {
    pub model: bool,
    pub provider: bool,
    pub api_kind: bool,
    pub effort: bool,
    pub max_tokens: bool,
}

impl ChatArgs {
    /// The trailing message, if any words were given.
    pub fn message(&self) -> Option<String> {
        let message = self.message.join(" ");
        (!message.trim().is_empty()).then_some(message)
    }
}

#[derive(Debug, Clone, Subcommand)]
pub enum SessionsCommand {
    /// List sessions, newest first
    List {
        /// How many sessions to show
        #[arg(long, default_value_t = 50, value_name = "N")]
        limit: u32,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Show a session: its config, usage and transcript
    Read {
        #[arg(value_name = "SESSION_ID")]
        session_id: String,
        /// Print JSON (the session view and its transcript items)
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, Args)]
pub struct AuthArgs {
    /// Print JSON
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: AuthCommand,
}

#[derive(Debug, Clone, Subcommand)]
pub enum AuthCommand {
    /// Store, list and delete secrets
    #[command(subcommand)]
    Secret(SecretCommand),
    /// Authorize an MCP server with OAuth: prints the authorization URL, waits for
    /// the approval to reach the server's /auth/callback, then sets the server's auth
    /// to the new grant
    Login {
        /// The MCP server (`lightspeed mcp add`)
        #[arg(value_name = "SERVER")]
        server: String,
        /// A scope to ask for (repeat); default what the server advertises
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<String>,
        /// A client registered beforehand (default: dynamic registration)
        #[arg(long, value_name = "CLIENT_ID")]
        client_id: Option<String>,
        /// Longest wait for the approval, in seconds
        #[arg(long, default_value_t = 600, value_name = "SECONDS")]
        wait_secs: u64,
    },
    /// List grants (status and expiry; never tokens)
    Grants,
    /// Revoke a grant
    Revoke {
        #[arg(value_name = "GRANT_ID")]
        grant_id: String,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum SecretCommand {
    /// Store a secret; its value is read from stdin (never from the command line,
    /// which other users of the machine can see)
    Set {
        #[arg(value_name = "NAME")]
        name: String,
    },
    /// List secrets (names and times; never values)
    List,
    /// Delete a secret
    Delete {
        #[arg(value_name = "NAME")]
        name: String,
    },
}

#[derive(Debug, Clone, Args)]
pub struct McpArgs {
    /// Print JSON
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: McpCommand,
}

#[derive(Debug, Clone, Subcommand)]
pub enum McpCommand {
    /// Add (or replace) an MCP server: --url for Streamable HTTP, or --command for a
    /// stdio server the worker spawns (only commands on the server's allow-list)
    Add(Box<McpAddArgs>),
    /// List the universe's MCP servers
    List,
    /// Remove an MCP server
    Remove {
        #[arg(value_name = "NAME")]
        name: String,
    },
    /// Link a server to a session: its tools become the session's `NAME__tool`
    /// (linking again refreshes them)
    Link {
        #[arg(value_name = "SESSION_ID")]
        session_id: String,
        #[arg(value_name = "NAME")]
        name: String,
        /// Let the model provider call the server itself (OpenAI Responses,
        /// Anthropic Messages; Streamable HTTP servers)
        #[arg(long)]
        hosted: bool,
    },
    /// Unlink a server from a session, removing its tools
    Unlink {
        #[arg(value_name = "SESSION_ID")]
        session_id: String,
        #[arg(value_name = "NAME")]
        name: String,
    },
    /// The servers linked to a session and their tools
    Tools {
        #[arg(value_name = "SESSION_ID")]
        session_id: String,
    },
}

#[derive(Debug, Clone, Args)]
pub struct McpAddArgs {
    /// 1-32 of [a-z0-9-]
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Streamable HTTP endpoint, e.g. https://mcp.example.com/mcp
    #[arg(long, conflicts_with = "command", required_unless_present = "command")]
    pub url: Option<String>,
    /// A plain header for every request, NAME=VALUE (no credentials: see --secret)
    #[arg(long = "header", value_name = "NAME=VALUE", requires = "url")]
    pub headers: Vec<String>,
    /// Command of a stdio server
    #[arg(long)]
    pub command: Option<String>,
    /// An argument of the stdio command (repeat in order)
    #[arg(
        long = "arg",
        value_name = "ARG",
        allow_hyphen_values = true,
        requires = "command"
    )]
    pub args: Vec<String>,
    /// An environment variable of the stdio command, NAME=VALUE
    #[arg(long = "env", value_name = "NAME=VALUE", requires = "command")]
    pub env: Vec<String>,
    /// A stored secret (auth/secrets/put) sent as `Authorization: Bearer <value>`
    /// (HTTP), or set as --secret-env (stdio)
    #[arg(long, value_name = "SECRET", conflicts_with = "grant")]
    pub secret: Option<String>,
    /// The environment variable a stdio server gets --secret in
    #[arg(long, value_name = "VAR", requires = "secret")]
    pub secret_env: Option<String>,
    /// An auth grant (e.g. from an OAuth login) sent as its header
    #[arg(long, value_name = "GRANT_ID")]
    pub grant: Option<String>,
    /// Only these tools (repeat); default all
    #[arg(long, value_name = "TOOL")]
    pub allow: Vec<String>,
    /// Never these tools (repeat)
    #[arg(long, value_name = "TOOL")]
    pub deny: Vec<String>,
    /// Longest tool call, in milliseconds (default 120000)
    #[arg(long, value_name = "MS")]
    pub call_timeout_ms: Option<u64>,
}

#[derive(Debug, Clone, Args)]
pub struct VfsArgs {
    /// Print JSON
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: VfsCommand,
}

#[derive(Debug, Clone, Subcommand)]
pub enum VfsCommand {
    /// Upload a directory (honouring .gitignore, skipping .git, symlinks and
    /// secret files) as a snapshot; prints its snapshotRef
    Snapshot {
        #[arg(value_name = "DIR")]
        dir: PathBuf,
        /// Also upload .env files, private keys and credential files
        #[arg(long)]
        include_secrets: bool,
    },
    /// Write a snapshot's files under DIR, downloading only what differs; refuses
    /// snapshots with .git/ (or other VCS metadata) or Windows-unsafe names
    Materialize {
        #[arg(value_name = "SNAPSHOT_REF")]
        snapshot_ref: String,
        #[arg(value_name = "DIR")]
        dir: PathBuf,
        /// Apply the snapshot's executable bits (by default no file is made executable)
        #[arg(long)]
        keep_modes: bool,
    },
    /// Create, read, update and delete workspaces
    #[command(subcommand)]
    Workspace(WorkspaceCommand),
    /// Mount workspaces and snapshots into sessions
    #[command(subcommand)]
    Mount(MountCommand),
}

#[derive(Debug, Clone, Subcommand)]
pub enum WorkspaceCommand {
    /// Create a workspace at a snapshot (default: empty)
    Create {
        #[arg(value_name = "SNAPSHOT_REF")]
        snapshot_ref: Option<String>,
        /// Choose the workspace id
        #[arg(long, value_name = "ID")]
        id: Option<String>,
    },
    /// Show a workspace's head
    Read {
        #[arg(value_name = "WORKSPACE_ID")]
        workspace_id: String,
    },
    /// Move a workspace's head to a snapshot
    Update {
        /// Update only at this revision [default: the current one]
        #[arg(long, value_name = "N")]
        expected_revision: Option<u64>,
        #[arg(value_name = "WORKSPACE_ID")]
        workspace_id: String,
        #[arg(value_name = "SNAPSHOT_REF")]
        snapshot_ref: String,
    },
    /// Delete a workspace
    Delete {
        /// Delete only at this revision
        #[arg(long, value_name = "N")]
        expected_revision: Option<u64>,
        #[arg(value_name = "WORKSPACE_ID")]
        workspace_id: String,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum MountCommand {
    /// Mount a workspace (read-write unless --read-only) or a snapshot (read-only)
    /// at a session path
    Put {
        #[arg(long, value_name = "SESSION_ID")]
        session: String,
        #[arg(long, value_name = "PATH")]
        path: String,
        #[arg(long, value_name = "WORKSPACE_ID", conflicts_with = "snapshot")]
        workspace: Option<String>,
        #[arg(long, value_name = "SNAPSHOT_REF")]
        snapshot: Option<String>,
        /// Mount a workspace read-only
        #[arg(long)]
        read_only: bool,
    },
    /// Remove the mount at a session path
    Delete {
        #[arg(long, value_name = "SESSION_ID")]
        session: String,
        #[arg(long, value_name = "PATH")]
        path: String,
    },
    /// List a session's mounts
    List {
        #[arg(long, value_name = "SESSION_ID")]
        session: String,
    },
}

/// Parses the process's command line, exiting with usage (status 2) on errors.
pub fn parse() -> Cli {
    match parse_from(std::env::args_os()) {
        Ok(cli) => cli,
        Err(err) => err.exit(),
    }
}

/// Parses `args` (the first is the program name).
pub fn parse_from<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let matches = Cli::command().try_get_matches_from(args)?;
    let mut cli = Cli::from_arg_matches(&matches)?;
    if let (Command::Chat(chat), Some(("chat", sub))) = (&mut cli.command, matches.subcommand()) {
        chat.typed = typed_flags(sub);
    }
    Ok(cli)
}

fn typed_flags(matches: &ArgMatches) -> TypedFlags {
    let typed = |id: &str| matches.value_source(id) == Some(ValueSource::CommandLine);
    TypedFlags {
        model: typed("model"),
        provider: typed("provider"),
        api_kind: typed("api_kind"),
        effort: typed("effort"),
        max_tokens: typed("max_tokens"),
    }
}

/// The value unless it is absent or empty.
pub(crate) fn non_empty(value: &Option<String>) -> Option<&str> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_flags_and_trailing_message() {
        let cli = parse_from([
            "lightspeed",
            "chat",
            "--session",
            "s1",
            "--model",
            "m",
            "hello",
            "there",
        ])
        .unwrap();
        let Command::Chat(chat) = cli.command else {
            panic!("not chat")
        };
        assert_eq!(chat.session.as_deref(), Some("s1"));
        assert_eq!(chat.message().as_deref(), Some("hello there"));
        assert!(chat.typed.model);
        assert!(!chat.typed.effort);
    }

    #[test]
    fn new_and_session_conflict() {
        assert!(parse_from(["lightspeed", "chat", "--new", "--session", "s"]).is_err());
    }

    #[test]
    fn empty_connection_values_fall_back() {
        let args = ConnectionArgs {
            api_url: Some(String::new()),
            api_key: Some(" ".into()),
        };
        assert_eq!(args.api_url(), API_URL_DEFAULT);
        assert_eq!(args.api_key(), None);
    }
}
