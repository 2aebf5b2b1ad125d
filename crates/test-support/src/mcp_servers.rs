//! Real MCP servers for tests: `@modelcontextprotocol/server-everything` from
//! `interop/test-servers` (installed by `local/up.sh` from its lock file), over
//! stdio or Streamable HTTP.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// The directory holding the npm test servers: `LIGHTSPEED_TEST_SERVERS_DIR`, else
/// the repository's `interop/test-servers`.
pub fn test_servers_dir() -> PathBuf {
    std::env::var_os("LIGHTSPEED_TEST_SERVERS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../interop/test-servers")
        })
}

/// server-everything's entry point; an error naming the fix when it is not installed.
pub fn everything_bin() -> anyhow::Result<PathBuf> {
    let bin = test_servers_dir().join("node_modules/.bin/mcp-server-everything");
    if !bin.exists() {
        bail!(
            "{} is missing: run local/up.sh (npm ci in interop/test-servers)",
            bin.display()
        );
    }
    Ok(bin)
}

/// The stdio command and arguments that start server-everything.
pub fn everything_stdio() -> anyhow::Result<(String, Vec<String>)> {
    let bin = everything_bin()?;
    Ok((
        "node".to_owned(),
        vec![bin.display().to_string(), "stdio".to_owned()],
    ))
}

/// server-everything over Streamable HTTP on a free loopback port; killed on drop.
pub struct EverythingHttp {
    _child: tokio::process::Child,
    /// `http://127.0.0.1:<port>/mcp`.
    pub url: String,
}

impl EverythingHttp {
    pub async fn start() -> anyhow::Result<Self> {
        let bin = everything_bin()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = tokio::process::Command::new("node")
            .arg(&bin)
            .arg("streamableHttp")
            .env("PORT", port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("starting node")?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            if Instant::now() > deadline {
                bail!("server-everything did not listen on port {port} within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(Self {
            _child: child,
            url: format!("http://127.0.0.1:{port}/mcp"),
        })
    }
}
