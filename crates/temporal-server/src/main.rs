//! `server`: the host binary of the Temporal runtime.
//!
//! Subcommands, one module each:
//! - `api-keys create` ([`api_keys`]): mint a gateway API key.
//!
//! The Temporal work adds `worker`, `gateway`, no subcommand (both in one process)
//! and `dev` (embedded default) as further modules beside `api_keys`; this file only
//! parses the command line and dispatches.
//!
//! What this binary must not do: hold gateway or worker logic itself (those live in
//! their crates and modules), or print anything but the command's result on stdout.
//!
//! No TLS stack is linked yet; when one is (Temporal client, reqwest), install the
//! rustls crypto provider at the top of `main`.

mod api_keys;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "server",
    version,
    about = "Lightspeed server: gateway, worker and admin"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Manage the gateway's API keys.
    #[command(subcommand)]
    ApiKeys(api_keys::ApiKeysCommand),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::ApiKeys(command) => api_keys::run(command).await,
    }
}
