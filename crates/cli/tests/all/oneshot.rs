//! `lightspeed chat MESSAGE` and `--json` through the built binary.

use serde_json::{Value, json};

use super::stack::{connected_session, run_binary, stack};

#[tokio::test(flavor = "multi_thread")]
async fn one_shot_streams_the_answer_and_exits_zero() {
    let answer = "Event sourcing stores every change as an event.";
    let stack = stack(json!({"turns": [{"text": answer, "delay_ms": 150}]})).await;
    let run = stack
        .lightspeed(&["chat", "--new", "What", "is", "event", "sourcing?"])
        .await;
    assert_eq!(run.code, Some(0), "{run:?}");
    let session_id = connected_session(&run.stdout);
    assert!(session_id.starts_with("session_"), "{run:?}");
    // The answer comes once: streamed deltas are not printed again when committed.
    assert_eq!(run.stdout.matches(answer).count(), 1, "{run:?}");
    assert!(run.stdout.ends_with(&format!("{answer}\n")), "{run:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn resuming_a_session_continues_it() {
    let stack =
        stack(json!({"turns": [{"text": "first answer"}, {"text": "second answer"}]})).await;
    let first = stack.lightspeed(&["chat", "hello"]).await;
    assert_eq!(first.code, Some(0), "{first:?}");
    let session_id = connected_session(&first.stdout);
    let second = stack
        .lightspeed(&[
            "chat",
            "--session",
            &session_id,
            "--effort",
            "high",
            "again",
        ])
        .await;
    assert_eq!(second.code, Some(0), "{second:?}");
    assert_eq!(connected_session(&second.stdout), session_id);
    assert!(second.stdout.contains("second answer"), "{second:?}");
    let read = stack.lightspeed(&["sessions", "read", &session_id]).await;
    for text in ["> hello", "first answer", "> again", "second answer"] {
        assert!(read.stdout.contains(text), "{text}: {read:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn json_reports_tool_calls_text_and_usage() {
    let stack = stack(json!({"turns": [
        {"reasoning": "Use the tool.", "tool_calls": [{"name": "read_file", "arguments": {"path": "/workspace/numbers.txt"}}]},
        {"text": "The sum is 5.", "usage": {"input_tokens": 120, "output_tokens": 7, "cached_input_tokens": 0}}
    ]}))
    .await;
    // The model only gets the tools the session registered: the file tools of
    // the mounted directory.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("numbers.txt"), "2 3\n").unwrap();
    let mount = dir.path().to_str().unwrap();
    let run = stack
        .lightspeed(&["chat", "--new", "--json", "--mount", mount, "add 2 and 3"])
        .await;
    assert_eq!(run.code, Some(0), "{run:?}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "one JSON object and nothing else: {run:?}");
    let report: Value = serde_json::from_str(lines[0]).unwrap();
    assert!(
        report["sessionId"]
            .as_str()
            .unwrap()
            .starts_with("session_")
    );
    assert!(report["runId"].as_str().unwrap().starts_with("run_"));
    assert_eq!(report["status"], "completed");
    assert_eq!(report["text"], "The sum is 5.");
    assert_eq!(report["turns"], 2);
    let calls = report["toolCalls"].as_array().unwrap();
    assert_eq!(calls.len(), 1, "{report:#}");
    assert_eq!(calls[0]["name"], "read_file");
    assert_eq!(
        serde_json::from_str::<Value>(calls[0]["arguments"].as_str().unwrap()).unwrap(),
        json!({"path": "/workspace/numbers.txt"})
    );
    assert_eq!(calls[0]["result"]["status"], "ok", "{report:#}");
    let output = calls[0]["result"]["output"].as_str().unwrap();
    assert!(output.contains("2 3"), "{report:#}");
    assert!(report["usage"]["inputTokens"].as_u64().unwrap() >= 120);
    assert!(report["usage"]["outputTokens"].as_u64().unwrap() >= 7);
    assert!(report.get("failure").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cost_budget_stops_a_looping_run_and_its_cost_is_printed() {
    // Each turn asks for a tool again and costs 0.002 USD (the fake model's prices).
    let looping = json!({"tool_calls": [{"name": "echo", "arguments": {}}],
                         "usage": {"input_tokens": 1_000, "output_tokens": 100}});
    let stack = stack(json!({"turns": [looping.clone(), looping.clone(), looping]})).await;
    let run = stack
        .lightspeed(&["chat", "--new", "--max-cost-usd", "0.003", "loop"])
        .await;
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr.contains("(limitExceeded: cost)"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("cost $0.0040"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_run_exits_one_with_the_reason() {
    let stack = stack(json!({"turns": [
        {"error": {"status": 400, "message": "the scripted request is invalid"}}
    ]}))
    .await;
    let run = stack.lightspeed(&["chat", "--new", "hi"]).await;
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.contains("failed"), "{run:?}");
    assert!(
        run.stderr.contains("the scripted request is invalid"),
        "{run:?}"
    );

    let stack = super::stack::stack(json!({"turns": [{"error": {"status": 400}}]})).await;
    let json = stack.lightspeed(&["chat", "--json", "hi"]).await;
    assert_eq!(json.code, Some(1), "{json:?}");
    let report: Value = serde_json::from_str(json.stdout.trim()).unwrap();
    assert_eq!(report["status"], "failed");
    assert_eq!(report["failure"]["reason"], "generationFailed");
}

#[tokio::test(flavor = "multi_thread")]
async fn usage_and_connection_errors_exit_two() {
    let stack = stack(json!({"turns": []})).await;
    // A flag clap does not know.
    let run = stack.lightspeed(&["chat", "--frobnicate"]).await;
    assert_eq!(run.code, Some(2), "{run:?}");
    // Values checked by the CLI.
    let run = stack
        .lightspeed(&["chat", "--effort", "extreme", "hi"])
        .await;
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("reasoning effort"), "{run:?}");
    let run = stack.lightspeed(&["chat", "--json"]).await;
    assert_eq!(run.code, Some(2), "{run:?}");
    // A session that does not exist.
    let run = stack.lightspeed(&["chat", "--session", "nope", "hi"]).await;
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("sessionNotFound"), "{run:?}");
    // A wrong key: the gateway says so.
    let mut env = stack.env();
    env.retain(|(name, _)| *name != "LIGHTSPEED_API_KEY");
    env.push(("LIGHTSPEED_API_KEY", "lsk_wrong".into()));
    let run = run_binary(&["chat", "hi"], env).await;
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("unknownKey"), "{run:?}");
    assert!(!run.stderr.contains("lsk_wrong"), "the key is not echoed");
    // Nothing listening.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let run = run_binary(&["--api-url", &url, "chat", "hi"], Vec::new()).await;
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("cannot reach the gateway"), "{run:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_websockets_the_answer_comes_by_long_poll() {
    let stack = stack(json!({"turns": [{"text": "Polled, not streamed.", "delay_ms": 200}]})).await;
    let proxy = super::stack::http_only_proxy(stack.addr()).await;
    let mut env = stack.env();
    env.retain(|(name, _)| *name != "LIGHTSPEED_API_URL");
    env.push(("LIGHTSPEED_API_URL", proxy));
    let run = run_binary(&["chat", "--new", "hi"], env.clone()).await;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.ends_with("Polled, not streamed.\n"), "{run:?}");
    let json = run_binary(&["chat", "--json", "hi"], env).await;
    assert_eq!(json.code, Some(0), "{json:?}");
    let report: Value = serde_json::from_str(json.stdout.trim()).unwrap();
    assert_eq!(report["status"], "completed");
}
