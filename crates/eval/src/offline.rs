//! Offline mode: the real `server dev` (embedded Temporal, filesystem store) with one
//! fake provider per case run. Scripts differ per case and a fake provider serves one
//! script, so each case run gets its own fake provider process, and the server gets
//! each as a provider of its own (`eval-N`, through `LIGHTSPEED_PROVIDERS_FILE`):
//! one server for many cases instead of a 5-10 s server start per case.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::EvalError;

/// Providers one server is given at most (the providers file allows 64).
pub const PROVIDERS_PER_SERVER: usize = 60;

/// A child process started in its own process group, stopped with SIGTERM to the
/// group (so `server dev`'s Temporal goes with it) when dropped or stopped.
#[derive(Debug)]
pub struct Process {
    child: Child,
    name: String,
}

impl Process {
    fn spawn(mut command: Command, name: &str) -> Result<Self, EvalError> {
        command.process_group(0).kill_on_drop(true);
        let child = command
            .spawn()
            .map_err(|err| EvalError::Process(format!("cannot start {name}: {err}")))?;
        Ok(Self {
            child,
            name: name.to_owned(),
        })
    }

    fn signal_group(&self, signal: &str) {
        if let Some(pid) = self.child.id() {
            // `kill` the program: the crate forbids unsafe code, so no libc::kill.
            let _ = std::process::Command::new("kill")
                .args([signal, "--", &format!("-{pid}")])
                .stderr(Stdio::null())
                .status();
        }
    }

    /// SIGTERM to the group, then SIGKILL after 10 s.
    pub async fn stop(mut self) {
        self.signal_group("-TERM");
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            self.signal_group("-KILL");
            let _ = self.child.wait().await;
        }
    }

    fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(format!("{} exited: {status}", self.name)),
            Ok(None) => None,
            Err(err) => Some(format!("{}: {err}", self.name)),
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.signal_group("-TERM");
        }
    }
}

/// A running fake provider and its address (`127.0.0.1:PORT`).
#[derive(Debug)]
pub struct FakeProvider {
    pub process: Process,
    pub addr: String,
}

/// Starts `fake-provider --port 0 [--script SCRIPT]`; its first stdout line is the
/// address it bound.
pub async fn start_fake_provider(
    bin: &Path,
    script: Option<&Path>,
    record: &Path,
    log: &Path,
) -> Result<FakeProvider, EvalError> {
    let log_file = std::fs::File::create(log).map_err(|err| EvalError::Io {
        path: log.to_path_buf(),
        source: err,
    })?;
    let mut command = Command::new(bin);
    command
        .args(["--port", "0", "--record"])
        .arg(record)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log_file);
    // Without a script the fake provider echoes the last user text.
    if let Some(script) = script {
        command.arg("--script").arg(script);
    }
    let mut process = Process::spawn(command, "fake-provider")?;
    let stdout = process
        .child
        .stdout
        .take()
        .ok_or_else(|| EvalError::Process("fake-provider: no stdout".into()))?;
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await;
    let addr = match line {
        Ok(Ok(Some(addr))) if !addr.trim().is_empty() => addr.trim().to_owned(),
        _ => {
            let why = std::fs::read_to_string(log).unwrap_or_default();
            return Err(EvalError::Process(format!(
                "fake-provider did not start (script {:?}): {}",
                script,
                why.trim()
            )));
        }
    };
    Ok(FakeProvider { process, addr })
}

/// One provider of the providers file.
#[derive(Debug, Clone)]
pub struct ProviderEntry {
    pub id: String,
    pub api_kind: String,
    pub addr: String,
}

/// The TOML providers file for `entries`: Anthropic base URLs have no `/v1`.
pub fn providers_toml(entries: &[ProviderEntry]) -> String {
    let mut out = String::new();
    for entry in entries {
        let base = if entry.api_kind.starts_with("anthropic") {
            format!("http://{}", entry.addr)
        } else {
            format!("http://{}/v1", entry.addr)
        };
        out.push_str(&format!(
            "[[providers]]\nid = \"{}\"\napi_kind = \"{}\"\nbase_url = \"{}\"\n\n",
            entry.id, entry.api_kind, base
        ));
    }
    out
}

/// A running `server dev`.
#[derive(Debug)]
pub struct Server {
    pub process: Process,
    pub url: String,
    pub key: String,
    pub log: PathBuf,
}

fn free_port() -> Result<u16, EvalError> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|err| EvalError::Process(format!("no free port: {err}")))?;
    listener
        .local_addr()
        .map(|addr| addr.port())
        .map_err(|err| EvalError::Process(format!("no free port: {err}")))
}

/// Starts `server dev` with `providers_file` in `dir` and waits for `GET /health`.
pub async fn start_server(
    bin: &Path,
    providers_file: &Path,
    dir: &Path,
) -> Result<Server, EvalError> {
    let port = free_port()?;
    let temporal_port = free_port()?;
    let key = format!("lsk_eval_{}", uuid::Uuid::new_v4().simple());
    let log = dir.join("server.log");
    let log_file = std::fs::File::create(&log).map_err(|err| EvalError::Io {
        path: log.clone(),
        source: err,
    })?;
    let mut command = Command::new(bin);
    command
        .arg("dev")
        .args(["--bind", &format!("127.0.0.1:{port}")])
        .args(["--temporal-port", &temporal_port.to_string()])
        .arg("--data-dir")
        .arg(dir.join("data"))
        .env("LIGHTSPEED_API_KEY", &key)
        .env("LIGHTSPEED_PROVIDERS_FILE", providers_file)
        // Empty keys: the built-in `openai` / `anthropic` providers must not reach
        // the internet from an offline eval.
        .env("OPENAI_API_KEY", "")
        .env("ANTHROPIC_API_KEY", "")
        .env_remove("OPENAI_BASE_URL")
        // Stdio MCP servers of cases (`setup.mcpServers`) run under node.
        .env("LIGHTSPEED_MCP_STDIO_COMMANDS", "node")
        .env_remove("ANTHROPIC_BASE_URL")
        .env(
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().map_err(|err| EvalError::Io {
            path: log.clone(),
            source: err,
        })?)
        .stderr(log_file);
    let mut process = Process::spawn(command, "server dev")?;
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        if let Ok(response) = http.get(format!("{url}/health")).send().await
            && response.status().is_success()
        {
            break;
        }
        let tail = || {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(20)..].join("\n")
        };
        if let Some(why) = process.exited() {
            return Err(EvalError::Process(format!("{why}; log tail:\n{}", tail())));
        }
        if Instant::now() > deadline {
            return Err(EvalError::Process(format!(
                "server dev did not answer /health in 180 s; log tail:\n{}",
                tail()
            )));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(Server {
        process,
        url,
        key,
        log,
    })
}

/// `$CARGO_TARGET_DIR/debug/NAME` (or `target/debug/NAME`).
pub fn default_bin(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"));
    target.join("debug").join(name)
}
