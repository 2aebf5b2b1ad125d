//! `server`: the host binary of the Temporal runtime.
//!
//! Subcommands, one module each:
//! - `api-keys create` ([`api_keys`]): mint a gateway API key.
//! - `worker`, `gateway`, none (both in one process) and `dev` (a Temporal dev server
//!   child, store-fs, worker and gateway) ([`serve`]).
//! - `gc` ([`gc`]): collect unreferenced blobs now.
//!
//! This file only parses the command line and dispatches; the worker and gateway
//! backend live in the `temporal_server` library.
//!
//! What this binary must not do: hold gateway or worker logic itself, or print
//! anything but the command's result on stdout (logs go to stderr).

mod api_keys;
mod gateway_limits;
mod gc;
mod metrics_server;
mod serve;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "server",
    version,
    about = "Lightspeed server: gateway, worker and admin",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// With no subcommand: run worker and gateway in one process.
    #[command(flatten)]
    serve: serve::ServeArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Manage the gateway's API keys.
    #[command(subcommand)]
    ApiKeys(api_keys::ApiKeysCommand),
    /// Run the Temporal worker (session workflows and activities).
    Worker(Box<serve::WorkerArgs>),
    /// Run the gateway (JSON-RPC, WebSocket, blobs) over the session workflows.
    /// (Boxed, like `Dev` and `Worker`: their limits and quotas make them far larger
    /// than the other commands.)
    Gateway(Box<serve::ServeArgs>),
    /// The embedded default: a Temporal dev server, store-fs, worker and gateway.
    Dev(Box<serve::DevArgs>),
    /// Collect unreferenced blobs now (every universe, or those named), with
    /// progress on stderr and a JSON report per universe on stdout.
    Gc(Box<gc::GcArgs>),
}

/// Logs go to stderr, filtered by `RUST_LOG` (default `info`), in the format
/// `LIGHTSPEED_LOG_FORMAT` names: `compact` (default), `pretty` or `json` (one object
/// per line, for log collectors).
fn init_logging() -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours only for a person watching; log files stay plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let format = std::env::var("LIGHTSPEED_LOG_FORMAT").unwrap_or_default();
    match format.as_str() {
        "" | "compact" => builder.compact().init(),
        "pretty" => builder.pretty().init(),
        "json" => builder.json().init(),
        other => {
            anyhow::bail!("LIGHTSPEED_LOG_FORMAT is {other:?}; expected compact, pretty or json")
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Both ring and aws-lc-rs end up linked; pick one before any TLS use.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    init_logging()?;
    let cli = Cli::parse();
    // Traces only for the serving roles (docs/operating/traces.md); `service.name`
    // says which role a span came from unless OTEL_SERVICE_NAME names it.
    let service = match &cli.command {
        Some(Command::Worker(_)) => Some("lightspeed-worker"),
        Some(Command::Gateway(_)) => Some("lightspeed-gateway"),
        Some(Command::Dev(_)) | None => Some("lightspeed-server"),
        Some(Command::ApiKeys(_) | Command::Gc(_)) => None,
    };
    let traces = match service {
        Some(service) => temporal_server::traces::install_from_env(service)?,
        None => None,
    };
    let result = match cli.command {
        Some(Command::ApiKeys(command)) => api_keys::run(command).await,
        Some(Command::Worker(args)) => serve::worker(*args).await,
        Some(Command::Gateway(args)) => serve::gateway(*args).await,
        Some(Command::Dev(args)) => serve::dev(*args).await,
        Some(Command::Gc(args)) => gc::run(*args).await,
        None => serve::both(cli.serve).await,
    };
    // The last batch of spans (those of the runs that finished while stopping).
    if let Some(traces) = traces {
        tokio::task::spawn_blocking(move || traces.shutdown()).await?;
    }
    result
}
