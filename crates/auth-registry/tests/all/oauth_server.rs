//! Starts `interop/test-servers/oauth-server.mjs` under node on a free loopback port.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

pub(crate) struct OAuthServer {
    pub(crate) issuer: String,
    // Killed on drop; its stdin closing stops it too.
    _child: Child,
}

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

fn servers_dir() -> PathBuf {
    std::env::var_os("LIGHTSPEED_TEST_SERVERS_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../interop/test-servers")
        })
}

impl OAuthServer {
    /// The running server, or `None` after a note when node or the npm packages are
    /// missing (a failure under `CI=true`).
    pub(crate) async fn start(test: &str) -> Option<Self> {
        let dir = servers_dir();
        let missing = if !dir.join("node_modules/oauth2-mock-server").is_dir() {
            Some(format!(
                "{} has no node_modules/oauth2-mock-server",
                dir.display()
            ))
        } else if std::process::Command::new("node")
            .arg("--version")
            .output()
            .is_err()
        {
            Some("node is not on PATH".to_owned())
        } else {
            None
        };
        if let Some(why) = missing {
            assert!(
                !ci(),
                "{test}: {why}, and CI=true forbids skipping (run local/up.sh)"
            );
            eprintln!(
                "skipping {test}: {why} (run local/up.sh or set LIGHTSPEED_TEST_SERVERS_DIR)"
            );
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Command::new("node")
            .arg("oauth-server.mjs")
            .arg(port.to_string())
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start node");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("the OAuth server did not start within 30 s")
            .unwrap()
            .expect("the OAuth server exited before it was ready");
        let issuer = line
            .strip_prefix("ready ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .trim_end_matches('/')
            .to_owned();
        Some(Self {
            issuer,
            _child: child,
        })
    }

    pub(crate) async fn stats(&self) -> serde_json::Value {
        reqwest::get(format!("{}/admin/stats", self.issuer))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub(crate) async fn revoke_refresh_tokens(&self) {
        let response = reqwest::Client::new()
            .post(format!("{}/admin/revoke-refresh-tokens", self.issuer))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
    }
}
