//! What `lightspeed env serve` is started with: [`ServeConfig`], its [`Limits`]
//! (every bound the daemon keeps, with documented defaults) and the [`Sandbox`]
//! commands run in.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;

/// Everything the daemon needs to serve one environment.
#[derive(Debug)]
pub struct ServeConfig {
    /// The environment's name; the gateway checks it against the token's.
    pub name: String,
    /// The directory commands and file operations are confined to. Canonicalised
    /// by [`crate::Server::start`]; it must exist.
    pub dir: PathBuf,
    /// The gateway's base URL (`http://`, `https://`, `ws://` or `wss://`);
    /// [`env_protocol::CONNECT_PATH`] is appended.
    pub gateway_url: String,
    /// The environment token, sent as `Authorization: Bearer` on the upgrade and
    /// nowhere else (never logged, never in an error, never in a child's
    /// environment).
    pub token: SecretString,
    pub sandbox: Sandbox,
    pub limits: Limits,
}

/// How commands are confined. There is no default: `None` only when asked for.
#[derive(Debug, Clone)]
pub struct Sandbox {
    pub kind: SandboxKind,
    /// Whether commands may use the network (`--no-network` clears it).
    pub network: bool,
    /// Extra paths commands may read (and execute), besides the system's.
    pub allow_read: Vec<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SandboxKind {
    /// Every command is started through `launcher`, which applies Landlock to
    /// itself and then executes the command ([`crate::sandbox::exec_main`]).
    Landlock { launcher: Launcher },
    /// Every command is wrapped in bubblewrap (`bwrap` found on `PATH`).
    Bwrap,
    /// No confinement but the directory of file operations: commands run as the
    /// daemon's user with its view of the machine.
    None,
}

impl SandboxKind {
    /// The name reported in `Hello.host.sandbox.kind`.
    pub fn name(&self) -> &'static str {
        match self {
            SandboxKind::Landlock { .. } => "landlock",
            SandboxKind::Bwrap => "bwrap",
            SandboxKind::None => "none",
        }
    }
}

/// The program that runs [`crate::sandbox::exec_main`]: for `lightspeed`, its own
/// executable with the hidden `env sandbox-exec` subcommand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launcher {
    pub program: PathBuf,
    /// Arguments before the launcher's own (`["env", "sandbox-exec"]`).
    pub args: Vec<OsString>,
}

/// Every bound the daemon keeps. Units last; defaults in [`Limits::default`].
#[derive(Debug, Clone)]
pub struct Limits {
    /// Processes running at once (beyond: `busy`). Default 64.
    pub processes_max: usize,
    /// Output one call keeps in memory: the first half is streamed live, the
    /// rest is a ring of the last half, sent when the call ends; what falls out
    /// between is counted in `output_dropped`. Default 32 MiB.
    pub output_bytes_max: usize,
    /// Calls running at once, of any kind (beyond: `busy`). Default 256.
    pub calls_running_max: usize,
    /// Finished calls remembered, so a re-delivered call is answered, not run
    /// again. Default 1,024.
    pub calls_remembered_max: usize,
    /// How long a finished call is remembered. Default 15 minutes.
    pub call_memory: Duration,
    /// Output of remembered finished calls kept in all; beyond it the oldest
    /// are forgotten. Default 256 MiB.
    pub remembered_output_bytes_max: usize,
    /// Bytes one `read` returns at most. Default 1 MiB.
    pub read_bytes_max: u64,
    /// Content of one `write`, bytes. Default 4 MiB.
    pub write_bytes_max: usize,
    /// Entries one `list` returns at most. Default 10,000.
    pub list_entries_max: u32,
    /// Matches one `search` returns at most. Default 1,000.
    pub search_matches_max: u32,
    /// Paths one `glob` returns at most. Default 10,000.
    pub glob_paths_max: u32,
    /// Directory entries one `list`, `search` or `glob` visits at most.
    /// Default 100,000.
    pub walk_entries_max: usize,
    /// Bytes of one file a `search` scans (its head). Default 4 MiB.
    pub search_file_bytes_max: u64,
    /// Bytes one `search` scans in all. Default 64 MiB.
    pub search_bytes_max: u64,
    /// Longest process lifetime a call may ask for. Default 7 days.
    pub timeout_max: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            processes_max: 64,
            output_bytes_max: 32 * 1024 * 1024,
            calls_running_max: 256,
            calls_remembered_max: 1024,
            call_memory: Duration::from_secs(15 * 60),
            remembered_output_bytes_max: 256 * 1024 * 1024,
            read_bytes_max: 1024 * 1024,
            write_bytes_max: 4 * 1024 * 1024,
            list_entries_max: 10_000,
            search_matches_max: 1_000,
            glob_paths_max: 10_000,
            walk_entries_max: 100_000,
            search_file_bytes_max: 4 * 1024 * 1024,
            search_bytes_max: 64 * 1024 * 1024,
            timeout_max: Duration::from_secs(7 * 24 * 3600),
        }
    }
}
