//! The `lightspeed` command-line client of the gateway.
//!
//! | command | what |
//! | --- | --- |
//! | `lightspeed chat` | interactive TUI ([`tui`]) on a new or resumed session |
//! | `lightspeed chat MESSAGE` | one run, answer streamed to stdout ([`oneshot`]) |
//! | `lightspeed chat --json MESSAGE` | one run, one JSON object at the end |
//! | `lightspeed chat --mount DIR` | either, with DIR uploaded and mounted read-write |
//! | `lightspeed chat --mount DIR` | either, with DIR uploaded and mounted read-write |
//! | `lightspeed sessions list\|read` | the universe's sessions ([`sessions`]) |
//! | `lightspeed vfs ...` | snapshots, materializing, workspaces, mounts ([`vfs`]) |
//! | `lightspeed mcp ...` | MCP servers and their links to sessions ([`mcp`]) |
//! | `lightspeed auth ...` | secrets, OAuth logins and grants ([`auth`]) |
//! | `lightspeed memory ...` | memory blocks, attachments, archival memory ([`memory`]) |
//! | `lightspeed schedule ...` | schedules: create, list, read, update, pause, resume, delete ([`schedule`]) |
//! | `lightspeed env serve` | lend this machine to agents: the environment daemon ([`env`]) |
//!
//! Exit codes: 0 success, 1 the run failed or was cancelled, 2 usage or connection
//! errors (including errors the gateway answers with).
//!
//! Layers: [`client`] speaks the contract (typed calls, a followed session that
//! reconnects and resumes from its cursor); [`tui::App`] is a pure state machine fed
//! by key events and notifications, drawn by `tui::render`, so every screen is
//! testable with ratatui's `TestBackend`; the rest wires them to a terminal.
//!
//! What this crate must not do: depend on the engine, a store or anything but the
//! `api` contract (it sees only what any client sees); hold business rules (the
//! gateway decides; the CLI shows the answer); print the API key.

pub mod approvals;
pub mod args;
pub mod auth;
pub mod chat;
pub mod client;
pub mod env;
pub mod error;
pub mod mcp;
pub mod memory;
pub mod models;
pub mod oneshot;
pub mod schedule;
pub mod sessions;
pub mod tui;
pub mod vfs;

use args::{Cli, Command};
pub use error::{CliError, Outcome};

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> Result<Outcome, CliError> {
    let command = match cli.command {
        // The daemon speaks the environment protocol over its own WebSocket.
        Command::Env(command) => return env::run(&cli.connection, command).await,
        command => command,
    };
    let client = client::Client::new(cli.connection.api_url(), cli.connection.api_key())?;
    match command {
        Command::Chat(args) => {
            let settings = chat::ChatSettings::from_args(&args)?;
            match args.message() {
                Some(message) => oneshot::run(&client, &settings, message, args.json).await,
                None if args.json => Err(CliError::Usage(
                    "--json needs a message: lightspeed chat --json \"...\"".into(),
                )),
                None => tui::run(&client, &settings).await,
            }
        }
        Command::Sessions(command) => sessions::run(&client, command).await,
        Command::Fork {
            session_id,
            at,
            fork_session_id,
            json,
        } => sessions::fork(&client, session_id, at, fork_session_id, json).await,
        Command::Approve {
            session_id,
            run,
            calls,
            remember,
            json,
        } => {
            let decision = approvals::Decision::Approve { remember };
            approvals::decide(&client, session_id, run, calls, decision, json).await
        }
        Command::Deny {
            session_id,
            run,
            calls,
            message,
            json,
        } => {
            let decision = approvals::Decision::Deny { message };
            approvals::decide(&client, session_id, run, calls, decision, json).await
        }
        Command::Models { json } => models::run(&client, json).await,
        Command::Vfs(args) => vfs::run(&client, args).await,
        Command::Mcp(args) => mcp::run(&client, args).await,
        Command::Auth(args) => auth::run(&client, args).await,
        Command::Env(command) => env::run(&cli.connection, command).await,
        Command::Memory(args) => memory::run(&client, args).await,
        Command::Schedule(args) => schedule::run(&client, args).await,
    }
}
