//! `lightspeed sessions list|read`.

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
