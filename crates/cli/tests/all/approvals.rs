//! `lightspeed chat --timers --ask`, answered from another shell with
//! `lightspeed approve` and `lightspeed deny`.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::stack::{Stack, stack};

/// The id of the only session once its run waits for approval.
async fn awaiting(stack: &Stack) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let list = stack.lightspeed(&["sessions", "list", "--json"]).await;
        let list: Value = serde_json::from_str(&list.stdout).unwrap_or(Value::Null);
        if let Some(id) = list["sessions"][0]["sessionId"].as_str() {
            let read = stack.lightspeed(&["sessions", "read", "--json", id]).await;
            let read: Value = serde_json::from_str(&read.stdout).unwrap_or(Value::Null);
            if read["session"]["activeRun"]["status"] == "awaitingApproval" {
                return id.to_owned();
            }
        }
        assert!(Instant::now() < deadline, "no run waited for approval");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn approve_and_deny_answer_a_waiting_call_from_another_shell() {
    let stack = stack(json!({"turns": [
        {"tool_calls": [{"name": "sleep", "arguments": {"seconds": 0}}]},
        {"tool_calls": [{"name": "sleep", "arguments": {"seconds": 0}}]},
        {"text": "Slept once, then stopped."}
    ]}))
    .await;
    let chat = stack.lightspeed(&["chat", "--timers", "--ask", "sleep", "take two naps"]);
    let decide = async {
        let session = awaiting(&stack).await;
        let approve = stack.lightspeed(&["approve", &session]).await;
        assert_eq!(approve.code, Some(0), "{approve:?}");
        assert!(approve.stdout.contains("approved call_"), "{approve:?}");
        assert!(approve.stdout.contains(" sleep "), "{approve:?}");
        let session = awaiting(&stack).await;
        let deny = stack
            .lightspeed(&["deny", &session, "--message", "one nap is enough"])
            .await;
        assert_eq!(deny.code, Some(0), "{deny:?}");
        assert!(deny.stdout.contains("denied: run_1 continues"), "{deny:?}");
        session
    };
    let (chat, session) = tokio::join!(chat, decide);
    assert_eq!(chat.code, Some(0), "{chat:?}");
    assert!(
        chat.stdout.contains("Slept once, then stopped."),
        "{chat:?}"
    );
    let read = stack.lightspeed(&["sessions", "read", &session]).await;
    assert!(read.stdout.contains("one nap is enough"), "{read:?}");
    // Nothing waits any more.
    let again = stack.lightspeed(&["approve", &session]).await;
    assert_ne!(again.code, Some(0), "{again:?}");
}
