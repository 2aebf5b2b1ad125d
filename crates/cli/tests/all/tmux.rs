//! The real TUI in a real terminal: `lightspeed chat --new` inside a detached tmux
//! server of its own, driven with `send-keys` and read with `capture-pane`.
//!
//! Needs `tmux`. Without it the test fails when `CI=true` and is skipped (with a
//! note) otherwise.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;

use super::stack::stack;

const WAIT: Duration = Duration::from_secs(30);

/// A tmux server on its own socket, killed when dropped.
struct Tmux {
    socket: PathBuf,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> String {
        let output = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn pane(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "cli"])
    }

    fn send_text(&self, text: &str) {
        self.run(&["send-keys", "-t", "cli", "-l", text]);
    }

    fn send_key(&self, key: &str) {
        self.run(&["send-keys", "-t", "cli", key]);
    }

    /// Waits until the pane shows `text`; panics with the pane otherwise.
    fn wait_for(&self, text: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let pane = self.pane();
            if pane.contains(text) {
                return pane;
            }
            assert!(
                Instant::now() < deadline,
                "the pane never showed {text:?}:\n{pane}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        // Only this test's server: it lives on this socket.
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .arg("kill-server")
            .output();
    }
}

fn tmux_available() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|output| output.status.success())
}

fn quoted(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

fn wait_for_file(path: &Path) -> String {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if let Ok(text) = std::fs::read_to_string(path)
            && text.ends_with('\n')
        {
            return text;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{} was never written", path.display());
}

/// `lightspeed chat --new` running in tmux against `stack`.
struct Chat {
    tmux: Tmux,
    exit_file: PathBuf,
    _dir: tempfile::TempDir,
}

/// Starts the chat in tmux, or says why not: `None` when tmux is missing outside CI.
fn launch(stack: &super::stack::Stack, test: &str) -> Option<Chat> {
    if !tmux_available() {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "tmux is required in CI (apt-get install -y tmux)"
        );
        eprintln!("skipping {test}: tmux is not installed");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let exit_file = dir.path().join("exit");
    let mut script = String::from("#!/bin/sh\n");
    for (name, value) in stack.env() {
        script.push_str(&format!("export {name}={}\n", quoted(&value)));
    }
    script.push_str(&format!(
        "{} chat --new\necho \"exit=$?\" > {}\n",
        quoted(env!("CARGO_BIN_EXE_lightspeed")),
        quoted(&exit_file.to_string_lossy())
    ));
    let script_path = dir.path().join("run.sh");
    std::fs::write(&script_path, script).unwrap();
    let tmux = Tmux {
        socket: dir.path().join("tmux.sock"),
    };
    let command = format!("sh {}", quoted(&script_path.to_string_lossy()));
    tmux.run(&[
        "new-session",
        "-d",
        "-s",
        "cli",
        "-x",
        "100",
        "-y",
        "30",
        &command,
    ]);
    tmux.wait_for("Ask anything");
    tmux.wait_for("live");
    Some(Chat {
        tmux,
        exit_file,
        _dir: dir,
    })
}

impl Chat {
    /// Sends `/quit` and checks the CLI exited 0.
    fn quit(self) {
        self.tmux.send_text("/quit");
        self.tmux.send_key("Enter");
        assert_eq!(wait_for_file(&self.exit_file).trim(), "exit=0");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn chat_in_tmux_sends_a_message_and_quits() {
    let stack = stack(json!({"turns": [
        {"reasoning": "Say hello.", "text": "Hello from the **fake** provider, through tmux.", "delay_ms": 300}
    ]}))
    .await;
    tokio::task::spawn_blocking(move || {
        let Some(chat) = launch(&stack, "chat_in_tmux_sends_a_message_and_quits") else {
            return;
        };
        let tmux = &chat.tmux;
        tmux.send_text("say hello");
        tmux.send_key("Enter");
        let pane = tmux.wait_for("Hello from the fake provider, through tmux.");
        assert!(pane.contains("› say hello"), "{pane}");
        let pane = tmux.wait_for("completed");
        assert!(pane.contains("thinking: Say hello."), "{pane}");
        chat.quit();
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn steer_and_interrupt_in_tmux_act_on_the_run() {
    let stack = stack(json!({"turns": [
        {"text": "slow first answer", "delay_ms": 1_500},
        {"text": "answer after the steer"},
        {"text": "an answer cut short", "delay_ms": 3_000},
        {"text": "never sent"}
    ]}))
    .await;
    tokio::task::spawn_blocking(move || {
        let Some(chat) = launch(&stack, "steer_and_interrupt_in_tmux_act_on_the_run") else {
            return;
        };
        let tmux = &chat.tmux;
        tmux.send_text("go");
        tmux.send_key("Enter");
        tmux.wait_for("running");
        tmux.send_text("/steer be polite");
        tmux.send_key("Enter");
        tmux.wait_for("steer sent to");
        tmux.wait_for("↳ steer: be polite");
        let pane = tmux.wait_for("answer after the steer");
        assert!(pane.contains("slow first answer"), "{pane}");
        tmux.wait_for("completed");

        tmux.send_text("again");
        tmux.send_key("Enter");
        tmux.wait_for("running");
        tmux.send_key("Escape");
        tmux.wait_for("interrupt sent to");
        // The generation in flight ends; the run stops at the step after it.
        let pane = tmux.wait_for("run cancelled");
        assert!(pane.contains(" cancelled ·"), "{pane}");
        assert!(!pane.contains("never sent"), "{pane}");
        chat.quit();
    })
    .await
    .unwrap();
}
