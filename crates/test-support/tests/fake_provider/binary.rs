//! The `fake-provider` binary: address on the first stdout line, serving until killed,
//! clear failures for bad scripts.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_fake-provider");

/// Kills the child when dropped, so a failed assertion leaks no process.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(args: &[&str]) -> (Running, SocketAddr) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr_text = line
        .strip_suffix('\n')
        .expect("the first line ends with a newline");
    assert!(addr_text.starts_with("127.0.0.1:"), "{line:?}");
    let addr: SocketAddr = addr_text.parse().unwrap();
    assert_ne!(addr.port(), 0);
    (Running(child), addr)
}

#[tokio::test]
async fn prints_the_address_serves_the_script_and_records() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("script.json");
    std::fs::write(&script, r#"{"turns": [{"text": "from the binary"}]}"#).unwrap();
    let record = dir.path().join("record.jsonl");
    let (_child, addr) = spawn(&[
        "--port",
        "0",
        "--script",
        script.to_str().unwrap(),
        "--record",
        record.to_str().unwrap(),
    ]);
    let response = reqwest::Client::new()
        .post(format!("http://{addr}/v1/chat/completions"))
        .header("authorization", "Bearer secret")
        .json(&json!({"messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], "from the binary");
    let recorded: Value =
        serde_json::from_str(std::fs::read_to_string(&record).unwrap().trim()).unwrap();
    assert_eq!(recorded["path"], "/v1/chat/completions");
    assert_eq!(recorded["headers"]["authorization"], "[redacted]");
}

#[tokio::test]
async fn echoes_without_a_script() {
    let (_child, addr) = spawn(&["--port", "0"]);
    let response = reqwest::Client::new()
        .post(format!("http://{addr}/v1/messages"))
        .json(&json!({"messages": [{"role": "user", "content": "ping"}]}))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["content"][0]["text"], "echo: ping");
}

#[test]
fn a_bad_script_exits_non_zero_naming_the_file_and_the_json_error() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("bad-script.json");
    std::fs::write(&script, "{\"turns\": [{\"text\": \"a\"},]}").unwrap();
    let output = Command::new(BIN)
        .args(["--port", "0", "--script", script.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("invalid script file"), "{stderr}");
    assert!(stderr.contains("bad-script.json"), "{stderr}");
    assert!(stderr.contains("line 1 column"), "{stderr}");

    let missing = dir.path().join("missing.json");
    let output = Command::new(BIN)
        .args(["--port", "0", "--script", missing.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        String::from_utf8(output.stderr)
            .unwrap()
            .contains("missing.json")
    );
}

#[test]
fn script_and_replay_conflict() {
    let output = Command::new(BIN)
        .args(["--port", "0", "--script", "a.json", "--replay", "dir"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        String::from_utf8(output.stderr)
            .unwrap()
            .contains("cannot be used with")
    );
}
