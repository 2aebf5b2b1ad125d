//! `lightspeed auth ...` through the binary: a secret set from stdin and never shown,
//! and an OAuth login against a real authorization server in front of a real MCP
//! server, completed through the gateway's callback while the command waits.

use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use test_support::mcp_servers::OAuthServer;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _};

use super::stack::stack;

#[tokio::test(flavor = "multi_thread")]
async fn secrets_and_an_oauth_login() {
    let oauth = OAuthServer::start().await.unwrap();
    let stack = stack(json!({"turns": []})).await;

    // A secret from stdin: stored, listed by name, never printed.
    let mut set = binary(&stack, &["auth", "secret", "set", "gh-token"]);
    let mut child = set
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"ghp_very_secret_value\n").await.unwrap();
    drop(stdin);
    let output = child.wait_with_output().await.unwrap();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "stored secret gh-token\n"
    );
    let list = stack.lightspeed(&["auth", "secret", "list"]).await;
    assert!(list.stdout.starts_with("gh-token"), "{list:?}");
    assert!(!list.stdout.contains("ghp_very_secret_value"), "{list:?}");

    // An OAuth login: the URL on stdout, the approval delivered to the gateway, the
    // server's auth pointed at the new grant.
    let added = stack
        .lightspeed(&["mcp", "add", "protected", "--url", &oauth.mcp_url()])
        .await;
    assert_eq!(added.code, Some(0), "{added:?}");
    let mut login = binary(&stack, &["auth", "login", "protected", "--wait-secs", "60"]);
    let mut child = login.stdout(Stdio::piped()).spawn().unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let url = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.starts_with("http") {
                return line;
            }
        }
        panic!("no authorization URL")
    })
    .await
    .unwrap();
    let query = oauth.authorize(&url).await.unwrap();
    let callback = reqwest::get(format!("{}/auth/callback?{query}", stack.api_url()))
        .await
        .unwrap();
    assert_eq!(callback.status(), 200);
    let done = lines.next_line().await.unwrap().unwrap();
    assert!(
        done.starts_with("authorized protected: grant grant_"),
        "{done}"
    );
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());
    let servers = stack.lightspeed(&["mcp", "list"]).await;
    assert!(servers.stdout.contains("grant grant_"), "{servers:?}");
    let grants = stack.lightspeed(&["auth", "grants"]).await;
    assert!(
        grants.stdout.contains("protected") && grants.stdout.contains("active"),
        "{grants:?}"
    );
    let grant_id = grants.stdout.split_whitespace().next().unwrap().to_owned();
    let revoked = stack.lightspeed(&["auth", "revoke", &grant_id]).await;
    assert_eq!(revoked.stdout, format!("revoked {grant_id}\n"));
}

fn binary(stack: &super::stack::Stack, args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_lightspeed"));
    command.args(args).kill_on_drop(true);
    for (name, _) in std::env::vars() {
        if name.starts_with("LIGHTSPEED_") {
            command.env_remove(name);
        }
    }
    command.envs(stack.env());
    command
}
