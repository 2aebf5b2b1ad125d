//! `lightspeed sessions list|read` and `lightspeed fork`.

use serde_json::{Value, json};

use super::stack::{connected_session, stack};

#[tokio::test(flavor = "multi_thread")]
async fn sessions_list_and_read() {
    let stack = stack(json!({"turns": [
        {"tool_calls": [{"name": "list_dir", "arguments": {}}]},
        {"text": "Echoed."},
        {"text": "Second session."}
    ]}))
    .await;
    let empty = stack.lightspeed(&["sessions", "list"]).await;
    assert_eq!(empty.code, Some(0), "{empty:?}");
    assert_eq!(empty.stdout, "no sessions\n");

    // The model only gets the tools the session registered: the read-only file tools.
    let first = stack
        .lightspeed(&["chat", "--filesystem-tools", "read-only", "please list"])
        .await;
    let first_id = connected_session(&first.stdout);
    let second = stack.lightspeed(&["chat", "another"]).await;
    let second_id = connected_session(&second.stdout);

    let list = stack.lightspeed(&["sessions", "list"]).await;
    assert_eq!(list.code, Some(0), "{list:?}");
    let lines: Vec<&str> = list.stdout.lines().collect();
    assert!(lines[0].starts_with("SESSION"), "{list:?}");
    assert_eq!(lines.len(), 3, "{list:?}");
    for id in [&first_id, &second_id] {
        assert!(list.stdout.contains(id.as_str()), "{list:?}");
    }
    assert!(list.stdout.contains("fake-model"), "{list:?}");
    let limited = stack
        .lightspeed(&["sessions", "list", "--limit", "1", "--json"])
        .await;
    let limited: Value = serde_json::from_str(&limited.stdout).unwrap();
    assert_eq!(limited["sessions"].as_array().unwrap().len(), 1);

    let read = stack.lightspeed(&["sessions", "read", &first_id]).await;
    assert_eq!(read.code, Some(0), "{read:?}");
    for text in [
        format!("session   {first_id}"),
        "status    idle".into(),
        "model     fake / openai:responses / fake-model".into(),
        "> please list".into(),
        "[tool] list_dir {} -> error: Error: / is outside every mount".into(),
        "Echoed.".into(),
    ] {
        assert!(read.stdout.contains(&text), "{text}: {read:?}");
    }
    let read = stack
        .lightspeed(&["sessions", "read", "--json", &first_id])
        .await;
    let read: Value = serde_json::from_str(&read.stdout).unwrap();
    assert_eq!(read["session"]["sessionId"], first_id.as_str());
    let kinds: Vec<&str> = read["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["userMessage", "toolCall", "assistantMessage"]);

    let missing = stack.lightspeed(&["sessions", "read", "nope"]).await;
    assert_eq!(missing.code, Some(2), "{missing:?}");
}

/// `lightspeed fork`: a fork at a cursor, read with the history it shares.
#[tokio::test(flavor = "multi_thread")]
async fn fork_at_a_cursor_and_read_the_shared_history() {
    let stack = stack(json!({"turns": [
        {"text": "Answer one.", "match": {"last_user_contains": "first"}},
        {"text": "Answer two.", "match": {"last_user_contains": "second"}},
        {"text": "Fork answer.", "match": {"last_user_contains": "on the fork"}}
    ]}))
    .await;
    let first = stack.lightspeed(&["chat", "first"]).await;
    let source = connected_session(&first.stdout);
    let read = stack
        .lightspeed(&["sessions", "read", "--json", &source])
        .await;
    let read: Value = serde_json::from_str(&read.stdout).unwrap();
    let cursor = read["session"]["eventCursor"].as_u64().unwrap().to_string();
    let second = stack
        .lightspeed(&["chat", "--session", &source, "second"])
        .await;
    assert_eq!(second.code, Some(0), "{second:?}");

    let fork = stack
        .lightspeed(&["fork", &source, "--at", &cursor, "--id", "s-forked"])
        .await;
    assert_eq!(fork.code, Some(0), "{fork:?}");
    assert!(
        fork.stdout
            .contains(&format!("forked {source} at event {cursor} into s-forked")),
        "{fork:?}"
    );
    let on_fork = stack
        .lightspeed(&["chat", "--session", "s-forked", "on the fork"])
        .await;
    assert_eq!(on_fork.code, Some(0), "{on_fork:?}");
    let read = stack.lightspeed(&["sessions", "read", "s-forked"]).await;
    assert_eq!(read.code, Some(0), "{read:?}");
    let text = &read.stdout;
    assert!(
        text.contains(&format!("forked    from {source} at event {cursor}")),
        "{text}"
    );
    let order: Vec<Option<usize>> = ["> first", "Answer one.", "> on the fork", "Fork answer."]
        .iter()
        .map(|needle| text.find(needle))
        .collect();
    assert!(order.iter().all(Option::is_some), "{text}");
    assert!(order.windows(2).all(|pair| pair[0] < pair[1]), "{text}");
    assert!(
        !text.contains("second") && !text.contains("Answer two."),
        "{text}"
    );

    let beyond = stack
        .lightspeed(&["fork", &source, "--at", "100000", "--json"])
        .await;
    assert_ne!(beyond.code, Some(0), "{beyond:?}");
}

/// `lightspeed models`: what `models/list` answers, as a table or JSON.
#[tokio::test(flavor = "multi_thread")]
async fn models_lists_the_servers_providers() {
    let stack = stack(json!({"turns": []})).await;
    let table = stack.lightspeed(&["models"]).await;
    assert_eq!(table.code, Some(0), "{table:?}");
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert!(lines[0].starts_with("PROVIDER"), "{table:?}");
    assert!(
        lines[2].contains("fake-small") && lines[2].contains("16k ctx, 1k (max 2k) out"),
        "{table:?}"
    );
    let listed = stack.lightspeed(&["models", "--json"]).await;
    let listed: Value = serde_json::from_str(&listed.stdout).unwrap();
    assert_eq!(listed["providers"][0]["providerId"], "fake");
    assert_eq!(listed["providers"][0]["models"][0]["model"], "fake-model");
}
