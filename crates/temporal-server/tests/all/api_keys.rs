//! `server api-keys create`: one key on stdout, only its hash on disk, and the
//! gateway accepts it.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use serde_json::{Value, json};

use crate::echo_api::EchoApi;

fn create_key(keys_file: &Path, universe: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_server"));
    command
        .args(["api-keys", "create", "--keys-file"])
        .arg(keys_file)
        .env_remove("LIGHTSPEED_PG_UNIVERSE_ID")
        .env_remove("LIGHTSPEED_KEYS_FILE")
        // The key file, not Postgres (tested in tests/temporal/postgres.rs).
        .env_remove("LIGHTSPEED_POSTGRES_URL");
    if let Some(universe) = universe {
        command.args(["--universe", universe]);
    }
    command.output().unwrap()
}

fn printed_key(output: &Output) -> String {
    assert!(
        output.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout.clone()).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "stdout must hold the key alone: {stdout:?}");
    assert!(stdout.ends_with('\n'));
    lines[0].to_owned()
}

async fn initialize(addr: SocketAddr, key: &str) -> Value {
    let response = reqwest::Client::new()
        .post(format!("http://{addr}/rpc"))
        .bearer_auth(key)
        .header("content-type", "application/json")
        .body(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn create_prints_one_key_stores_its_hash_and_the_gateway_accepts_it() {
    let dir = tempfile::tempdir().unwrap();
    let keys_file = dir.path().join("data/api-keys.json");

    let output = create_key(&keys_file, Some("universe-a"));
    let key = printed_key(&output);
    assert!(key.starts_with(gateway::KEY_PREFIX), "{key}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains(&key), "the key must appear on stdout only");

    let second = printed_key(&create_key(&keys_file, None));
    assert_ne!(key, second);

    let text = std::fs::read_to_string(&keys_file).unwrap();
    assert!(
        !text.contains(&key) && !text.contains(&second),
        "plaintext key on disk"
    );
    let file: Value = serde_json::from_str(&text).unwrap();
    let records = file["keys"].as_array().unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["keyHash"], gateway::hash_key(&key));
    assert_eq!(records[0]["universeId"], "universe-a");
    assert_eq!(
        records[1]["universeId"],
        "00000000-0000-0000-0000-000000000001"
    );

    let store = Arc::new(gateway::FileKeyStore::new(&keys_file));
    let config = gateway::GatewayConfig {
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..gateway::GatewayConfig::default()
    };
    let running = gateway::serve(Arc::new(EchoApi), store, config)
        .await
        .unwrap();
    let answer = initialize(running.local_addr(), &key).await;
    assert_eq!(answer["result"]["universeId"], "universe-a", "{answer}");

    // A key minted while the gateway runs works without a restart.
    let third = printed_key(&create_key(&keys_file, Some("universe-b")));
    let answer = initialize(running.local_addr(), &third).await;
    assert_eq!(answer["result"]["universeId"], "universe-b", "{answer}");

    let answer = initialize(running.local_addr(), "lsk_not-minted").await;
    assert_eq!(answer["error"]["data"]["reason"], "unknownKey", "{answer}");
    running.shutdown().await;
}

#[test]
fn create_reads_its_defaults_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let keys_file = dir.path().join("env-keys.json");
    let output = Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["api-keys", "create"])
        .env("LIGHTSPEED_PG_UNIVERSE_ID", "universe-from-env")
        .env("LIGHTSPEED_KEYS_FILE", &keys_file)
        .env_remove("LIGHTSPEED_POSTGRES_URL")
        .output()
        .unwrap();
    let key = printed_key(&output);
    let file: Value = serde_json::from_str(&std::fs::read_to_string(&keys_file).unwrap()).unwrap();
    assert_eq!(file["keys"][0]["universeId"], "universe-from-env");
    assert_eq!(file["keys"][0]["keyHash"], gateway::hash_key(&key));
}

#[test]
fn create_refuses_an_empty_universe() {
    let dir = tempfile::tempdir().unwrap();
    let keys_file = dir.path().join("keys.json");
    let output = create_key(&keys_file, Some(" "));
    assert!(!output.status.success());
    assert!(output.stdout.is_empty());
    assert!(!keys_file.exists());
}

#[test]
fn the_seam_universe_is_not_a_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let keys_file = dir.path().join("keys.json");
    for spelling in [
        temporal_server::seam::SEAM_UNIVERSE_ID.to_owned(),
        "00000000000000000000000000000000".to_owned(),
        "urn:uuid:00000000-0000-0000-0000-000000000000".to_owned(),
    ] {
        let output = create_key(&keys_file, Some(&spelling));
        assert!(!output.status.success());
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("reserved"),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    assert!(!keys_file.exists(), "no key was written");
}
