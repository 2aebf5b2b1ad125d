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

/// `interop/test-servers/oauth-server.mjs`: a real OAuth authorization server
/// (oauth2-mock-server: discovery, dynamic registration, PKCE, refresh, revocation)
/// in front of a real MCP server at `{issuer}/mcp` that accepts only the access
/// tokens it issued. Stops when dropped (its stdin closes, and it is killed).
pub struct OAuthServer {
    child: tokio::process::Child,
    /// `http://localhost:<port>`.
    pub issuer: String,
}

impl OAuthServer {
    pub async fn start() -> anyhow::Result<Self> {
        use tokio::io::AsyncBufReadExt as _;
        let dir = test_servers_dir();
        if !dir.join("node_modules/oauth2-mock-server").exists() {
            bail!(
                "{} has no oauth2-mock-server: run local/up.sh (npm ci in interop/test-servers)",
                dir.display()
            );
        }
        let mut child = tokio::process::Command::new("node")
            .arg(dir.join("oauth-server.mjs"))
            .arg("0")
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("starting node")?;
        let stdout = child.stdout.take().context("the server's stdout")?;
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .context("oauth-server.mjs did not get ready within 30 s")??
            .context("oauth-server.mjs exited before it was ready")?;
        let issuer = ready
            .strip_prefix("ready ")
            .context("oauth-server.mjs printed no issuer")?
            .to_owned();
        Ok(Self { child, issuer })
    }

    /// The protected MCP server's URL.
    pub fn mcp_url(&self) -> String {
        format!("{}/mcp", self.issuer)
    }

    /// Calls one of the server's admin routes (`revoke-refresh-tokens`,
    /// `revoke-access-tokens`).
    pub async fn admin(&self, route: &str) -> anyhow::Result<()> {
        let response = reqwest::Client::new()
            .post(format!("{}/admin/{route}", self.issuer))
            .send()
            .await?;
        anyhow::ensure!(
            response.status().is_success(),
            "admin/{route}: {}",
            response.status()
        );
        Ok(())
    }

    /// What a browser would do with `authorization_url`: the server approves at once
    /// and redirects to the client's redirect URI; the redirect's query (`code`,
    /// `state`) is returned, for the test to deliver to the gateway's callback.
    pub async fn authorize(&self, authorization_url: &str) -> anyhow::Result<String> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let response = client.get(authorization_url).send().await?;
        anyhow::ensure!(
            response.status().is_redirection(),
            "authorize answered {}",
            response.status()
        );
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .context("a redirect without Location")?
            .to_str()?
            .to_owned();
        let query = location
            .split_once('?')
            .map(|(_, query)| query.to_owned())
            .context("a redirect without a query")?;
        Ok(query)
    }
}

impl Drop for OAuthServer {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

impl OAuthServer {
    /// How many refresh-token grants the server answered.
    pub async fn refreshes(&self) -> anyhow::Result<u64> {
        let body: serde_json::Value = reqwest::get(format!("{}/admin/stats", self.issuer))
            .await?
            .json()
            .await?;
        body["refreshes"].as_u64().context("refreshes")
    }

    /// Every token the server issued (access, refresh, id tokens).
    pub async fn issued_tokens(&self) -> anyhow::Result<Vec<String>> {
        let body: serde_json::Value = reqwest::get(format!("{}/admin/tokens", self.issuer))
            .await?
            .json()
            .await?;
        Ok(body["tokens"]
            .as_array()
            .context("tokens")?
            .iter()
            .filter_map(|token| token.as_str().map(str::to_owned))
            .collect())
    }
}
