//! A Temporal dev server (`temporal server start-dev`) as a child process, for
//! `server dev` and the live tests.
//!
//! Written here rather than using `temporalio-sdk-core`'s `ephemeral-server`: that
//! one gives the server 5 s to come up, which a cold start on a loaded machine
//! exceeds; this one waits [`READY_WAIT_DEFAULT`] and reports the server's own
//! output when it never answers.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use temporalio_client::{Connection, ConnectionOptions, Url};
use tokio::process::{Child, Command};

/// How long a starting dev server has to answer.
pub const READY_WAIT_DEFAULT: Duration = Duration::from_secs(60);
/// Where `local/` installs binaries unless `LIGHTSPEED_CACHE_DIR` says otherwise
/// (under the home directory).
const CACHE_DIR_DEFAULT: &str = ".cache/lightspeed";
/// The Temporal CLI release [`download_binary`] fetches: the one `local/up.sh` builds.
pub const CLI_VERSION: &str = "v1.5.1";

#[derive(Debug, thiserror::Error)]
pub enum DevServerError {
    #[error(
        "no `temporal` binary found (looked in $TEMPORAL_BIN, $PATH and the cache, \
         $LIGHTSPEED_CACHE_DIR/bin or ~/{CACHE_DIR_DEFAULT}/bin); \
         run local/up.sh once (it installs the Temporal CLI), or put `temporal` on PATH"
    )]
    BinaryNotFound,
    #[error(
        "no `temporal` binary found, and downloading the Temporal CLI {version} failed: {reason}. \
         Offline, run local/up.sh once (it builds the CLI with Go) or put `temporal` on PATH"
    )]
    Download {
        version: &'static str,
        reason: String,
    },
    #[error("finding a free port failed: {0}")]
    Port(#[source] std::io::Error),
    #[error("starting {binary} failed: {source}")]
    Spawn {
        binary: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the Temporal dev server did not answer within {waited:?}; its output:\n{output}")]
    NotReady { waited: Duration, output: String },
}

/// Finds the Temporal CLI: `$TEMPORAL_BIN`, then `$PATH`, then the `local/` cache.
pub fn find_binary() -> Option<PathBuf> {
    if let Some(explicit) = std::env::var_os("TEMPORAL_BIN") {
        let path = PathBuf::from(explicit);
        return path.is_file().then_some(path);
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("temporal"))
            .find(|candidate| candidate.is_file())
    });
    on_path.or_else(|| {
        let cached = cache_bin_dir()?.join("temporal");
        cached.is_file().then_some(cached)
    })
}

/// `$LIGHTSPEED_CACHE_DIR/bin`, else `~/.cache/lightspeed/bin` (as in `local/lib.sh`).
fn cache_bin_dir() -> Option<PathBuf> {
    match std::env::var_os("LIGHTSPEED_CACHE_DIR") {
        Some(cache) => Some(PathBuf::from(cache).join("bin")),
        None => Some(
            Path::new(&std::env::var_os("HOME")?)
                .join(CACHE_DIR_DEFAULT)
                .join("bin"),
        ),
    }
}

/// Downloads the pinned Temporal CLI ([`CLI_VERSION`]) into the cache directory
/// where [`find_binary`] and `local/up.sh` look (`$LIGHTSPEED_CACHE_DIR/bin` or
/// `~/.cache/lightspeed/bin`), and returns its path.
///
/// The download goes through the SDK's ephemeral-server support (temporal.download
/// resolves the release for this platform), which can only fetch as part of starting
/// a server: the server it starts on a free port is stopped at once. Its 5 s
/// readiness limit does not matter here, since only the file is kept.
pub async fn download_binary() -> Result<PathBuf, DevServerError> {
    use temporalio_sdk_core::ephemeral_server::{
        EphemeralExe, EphemeralExeVersion, TemporalDevServerConfig,
    };
    let failed = |reason: String| DevServerError::Download {
        version: CLI_VERSION,
        reason,
    };
    let dir = cache_bin_dir()
        .ok_or_else(|| failed("neither LIGHTSPEED_CACHE_DIR nor HOME is set".into()))?;
    std::fs::create_dir_all(&dir)
        .map_err(|err| failed(format!("creating {}: {err}", dir.display())))?;
    let config = TemporalDevServerConfig::builder()
        .exe(EphemeralExe::CachedDownload {
            version: EphemeralExeVersion::Fixed(CLI_VERSION.to_owned()),
            dest_dir: Some(dir.to_string_lossy().into_owned()),
            ttl: None,
        })
        .port(free_port()?)
        .build();
    let started = config
        .start_server_with_output(Stdio::null(), Stdio::null())
        .await;
    let start_error = match started {
        Ok(mut server) => {
            // Only the downloaded file was wanted.
            let _ = server.shutdown().await;
            None
        }
        Err(err) => Some(err.to_string()),
    };
    // The SDK names its download `temporal-{version}`.
    let downloaded = dir.join(format!("temporal-{CLI_VERSION}"));
    if !downloaded.is_file() {
        return Err(failed(
            start_error.unwrap_or_else(|| "the download left no binary".into()),
        ));
    }
    let binary = dir.join("temporal");
    std::fs::rename(&downloaded, &binary)
        .map_err(|err| failed(format!("moving it to {}: {err}", binary.display())))?;
    Ok(binary)
}

/// A free TCP port on 127.0.0.1 (free when asked; racy by nature, fine for tests).
pub fn free_port() -> Result<u16, DevServerError> {
    Ok(free_ports::<1>()?[0])
}

/// `N` distinct free TCP ports on 127.0.0.1: all are held open until every one is
/// chosen, so none is picked twice.
pub fn free_ports<const N: usize>() -> Result<[u16; N], DevServerError> {
    let mut listeners = Vec::with_capacity(N);
    let mut ports = [0; N];
    for port in &mut ports {
        let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .map_err(DevServerError::Port)?;
        *port = listener.local_addr().map_err(DevServerError::Port)?.port();
        listeners.push(listener);
    }
    Ok(ports)
}

/// Starts tried before giving up when the server lost a race for one of its ports.
const START_ATTEMPTS_MAX: u32 = 3;

/// How to start the dev server.
#[derive(Debug, Clone)]
pub struct DevServerConfig {
    pub binary: PathBuf,
    /// The frontend's gRPC port.
    pub port: u16,
    /// The HTTP API's and the metrics endpoint's ports. Always passed explicitly:
    /// left to the server, it picks them at random and now and then picks the gRPC
    /// port it is about to bind.
    pub http_port: u16,
    pub metrics_port: u16,
    /// SQLite file for persistence across restarts; `None` keeps everything in memory.
    pub db_file: Option<PathBuf>,
    /// Where the server's stdout and stderr go; `None` discards them.
    pub log_file: Option<PathBuf>,
    pub ready_wait: Duration,
}

/// A running dev server; killed on [`DevServer::shutdown`] or drop.
#[derive(Debug)]
pub struct DevServer {
    child: Child,
    address: String,
}

impl DevServer {
    /// The command that runs the server. It goes through `sh` so that a watcher kills
    /// the server when the process that started it dies, however it dies (a SIGKILLed
    /// `server dev` or test binary must not leave Temporal running); the server itself
    /// replaces the shell (`exec`), so killing the child kills the server.
    pub fn command(config: &DevServerConfig) -> Result<std::process::Command, DevServerError> {
        let mut command = std::process::Command::new("sh");
        command
            .arg("-c")
            .arg(
                "parent=$PPID; \
                 (while kill -0 $parent 2>/dev/null && kill -0 $$ 2>/dev/null; do sleep 1; done; \
                  kill $$ 2>/dev/null) & \
                 exec \"$@\"",
            )
            .arg("temporal-dev-server")
            .arg(&config.binary)
            .args(["server", "start-dev", "--headless", "--ip", "127.0.0.1"])
            .args(["--port", &config.port.to_string()])
            .args(["--http-port", &config.http_port.to_string()])
            .args(["--metrics-port", &config.metrics_port.to_string()])
            .args(["--namespace", "default", "--log-level", "warn"])
            .args([
                "--dynamic-config-value",
                "frontend.enableUpdateWorkflowExecution=true",
                "--dynamic-config-value",
                "frontend.enableUpdateWorkflowExecutionAsyncAccepted=true",
            ])
            .stdin(Stdio::null());
        if let Some(db_file) = &config.db_file {
            command.arg("--db-filename").arg(db_file);
        }
        match &config.log_file {
            Some(path) => {
                let open_error = |source| DevServerError::Spawn {
                    binary: path.clone(),
                    source,
                };
                let log = std::fs::File::create(path).map_err(open_error)?;
                let log_err = log.try_clone().map_err(open_error)?;
                command.stdout(log).stderr(log_err);
            }
            None => {
                command.stdout(Stdio::null()).stderr(Stdio::null());
            }
        }
        Ok(command)
    }

    /// Starts the server and waits until it answers. A start that lost a port to
    /// another process is tried again on fresh HTTP and metrics ports (the gRPC
    /// port is the caller's choice and stays).
    pub async fn start(mut config: DevServerConfig) -> Result<Self, DevServerError> {
        let mut attempt = 1;
        loop {
            match Self::start_once(&config).await {
                Err(DevServerError::NotReady { output, .. })
                    if attempt < START_ATTEMPTS_MAX
                        && output.contains("address already in use") =>
                {
                    tracing::warn!(
                        attempt,
                        "the Temporal dev server lost a port race; retrying"
                    );
                    [config.http_port, config.metrics_port] = free_ports()?;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn start_once(config: &DevServerConfig) -> Result<Self, DevServerError> {
        let mut command = Command::from(Self::command(config)?);
        command.kill_on_drop(true);
        let child = command.spawn().map_err(|source| DevServerError::Spawn {
            binary: config.binary.clone(),
            source,
        })?;
        let mut server = Self {
            child,
            address: format!("127.0.0.1:{}", config.port),
        };
        let child = &mut server.child;
        let exited = move || matches!(child.try_wait(), Ok(Some(_)));
        if wait_until_ready(&server.address, config.ready_wait, exited).await {
            return Ok(server);
        }
        let _ = server.child.kill().await;
        let output = match &config.log_file {
            Some(path) => std::fs::read_to_string(path).unwrap_or_default(),
            None => "(not captured)".to_owned(),
        };
        Err(DevServerError::NotReady {
            waited: config.ready_wait,
            output,
        })
    }

    /// `host:port` of the frontend.
    pub fn address(&self) -> &str {
        &self.address
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Stops the server and waits for it to exit.
    pub async fn shutdown(mut self) {
        let _ = self.child.kill().await;
    }
}

/// Polls `address` until a Temporal frontend answers (`true`), `exited()` says the
/// server process is gone, or `wait` passes (`false`).
pub async fn wait_until_ready(
    address: &str,
    wait: Duration,
    mut exited: impl FnMut() -> bool,
) -> bool {
    let Ok(url) = Url::parse(&format!("http://{address}")) else {
        return false;
    };
    let options = ConnectionOptions::new(url)
        .identity("lightspeed-ready-check".to_owned())
        .connect_timeout(Duration::from_secs(1))
        .build();
    let deadline = tokio::time::Instant::now() + wait;
    while tokio::time::Instant::now() < deadline {
        if exited() {
            return false;
        }
        if Connection::connect(options.clone()).await.is_ok() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_is_given_every_port_and_they_differ() {
        let [port, http_port, metrics_port] = free_ports().unwrap();
        assert!(port != http_port && http_port != metrics_port && port != metrics_port);
        let config = DevServerConfig {
            binary: PathBuf::from("temporal"),
            port,
            http_port,
            metrics_port,
            db_file: None,
            log_file: None,
            ready_wait: READY_WAIT_DEFAULT,
        };
        let command = DevServer::command(&config).unwrap();
        let args: Vec<String> = command
            .get_args()
            .map(|arg| arg.to_string_lossy().into_owned())
            .collect();
        for (flag, value) in [
            ("--port", port),
            ("--http-port", http_port),
            ("--metrics-port", metrics_port),
        ] {
            let at = args.iter().position(|arg| arg == flag).unwrap();
            assert_eq!(args[at + 1], value.to_string(), "{args:?}");
        }
    }
}
