//! The environment daemon behind `lightspeed env serve`: it lends a machine to
//! agents. It dials the Lightspeed gateway over WebSocket (so it works behind
//! NAT, and holds no database or Temporal credential), authenticates with an
//! environment token, and serves the calls of [`env_protocol`]: commands
//! and file operations confined to one directory, sandboxed.
//!
//! - [`Server::start`] opens the directory, creates a private temp directory and
//!   probes the sandbox; it refuses to start when the sandbox cannot be enforced.
//! - [`Server::run`] connects, serves, and reconnects with backoff until its
//!   shutdown future completes, then kills every process group it started.
//! - [`sandbox::exec_main`] is the Landlock launcher's body, which the
//!   `lightspeed` binary runs for its hidden `env sandbox-exec` subcommand.
//!
//! Modules: `connection` (dial, hello, reconnect), `daemon` (calls to work),
//! `calls` (at-most-once by call id, attach and replay), `process` (process
//! groups, output, stdin, timeouts), `output` (bounded output buffers), `files`
//! (operations beneath the directory), [`sandbox`].
//!
//! What this crate must not do: depend on any crate of ours but `env-protocol`
//! (the frames); run a call id twice while it is remembered; touch anything outside the directory
//! (and its private temp directory) through any path or symlink; start with a
//! sandbox the kernel cannot enforce; put the token in a log, an error, an event
//! or a child's environment.

mod calls;
mod config;
mod connection;
mod daemon;
mod error;
mod files;
mod output;
mod process;
pub mod sandbox;
#[cfg(feature = "testing")]
pub mod testing;

use std::future::Future;
use std::sync::Arc;

use env_protocol::HostInfo;

pub use config::{Launcher, Limits, Sandbox, SandboxKind, ServeConfig};
pub use connection::Event;
pub use error::ServeError;

/// A started daemon: directory open, sandbox probed, not yet connected.
#[derive(Debug)]
pub struct Server {
    daemon: Arc<daemon::Daemon>,
    dialer: connection::Dialer,
}

impl Server {
    /// Checks everything that can be checked before connecting: the directory,
    /// the gateway URL and token, and the sandbox (by running a command in it).
    pub async fn start(config: ServeConfig) -> Result<Self, ServeError> {
        let dialer = connection::Dialer::new(&config.gateway_url, &config.token)?;
        let daemon = daemon::Daemon::start(&config).await?;
        Ok(Self { daemon, dialer })
    }

    /// What the daemon reports in every `hello`.
    pub fn host(&self) -> &HostInfo {
        self.daemon.host()
    }

    /// The WebSocket URL dialled.
    pub fn url(&self) -> &str {
        self.dialer.url()
    }

    /// Serves until `shutdown` completes, reporting connection changes to
    /// `on_event`; then kills every process group still running.
    pub async fn run<F>(self, on_event: impl Fn(Event) + Send + Sync, shutdown: F)
    where
        F: Future<Output = ()>,
    {
        tokio::select! {
            () = connection::run(Arc::clone(&self.daemon), &self.dialer, &on_event) => {}
            () = shutdown => {}
        }
        self.daemon.shutdown();
    }
}
