//! Sessions started with `tools.filesystem`: their file tools work on the mounts.

use super::*;

/// The tool results of a run's events: (name, status, output).
fn tool_results(events: &[Value]) -> Vec<(String, String, String)> {
    events
        .iter()
        .flat_map(|event| event["items"].as_array().cloned().unwrap_or_default())
        .filter(|item| item["type"] == "toolCall" && item.get("result").is_some())
        .map(|item| {
            let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
            (
                text(&item["name"]),
                text(&item["result"]["status"]),
                text(&item["result"]["output"]),
            )
        })
        .collect()
}

async fn files_session(client: &HttpClient, session_id: &str, filesystem: &str) {
    let mut config = session_config();
    config["tools"] = json!({"filesystem": filesystem});
    let view = call(
        client,
        "session/start",
        json!({"sessionId": session_id, "config": config}),
        "SessionView",
    )
    .await;
    assert_eq!(view["config"]["filesystem"], filesystem);
}

async fn run(client: &HttpClient, session_id: &str) -> Vec<Value> {
    let run = call(
        client,
        "run/start",
        json!({"sessionId": session_id, "submissionId": "sub-1", "input": [{"type": "text", "text": "Edit the files."}]}),
        "RunStartResult",
    )
    .await;
    follow_until_finished(client, session_id, run["runId"].as_str().unwrap()).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_with_file_tools_edits_its_mounted_workspace() {
    let stack = stack(json!({"turns": [
        {"tool_calls": [
            {"name": "read_file", "arguments": {"path": "/work/README.md"}},
            {"name": "write_file", "arguments": {"path": "notes/todo.txt", "content": "ship it\n"}}
        ]},
        {"tool_calls": [{"name": "edit_file", "arguments": {"path": "/work/README.md", "old_string": "draft", "new_string": "final"}}]},
        {"text": "Done."}
    ]}))
    .await;
    let client = stack.http(Some(&stack.key_a));
    let snapshot = commit(&client, &[("README.md", "# A draft\n")]).await;
    call(
        &client,
        "vfs/workspace/create",
        json!({"workspaceId": "repo", "snapshotRef": snapshot}),
        "VfsWorkspaceView",
    )
    .await;
    // Mounted before the session starts: the tools read the mounts at each call.
    call(
        &client,
        "vfs/mount/put",
        json!({"sessionId": "s-files", "mountPath": "/work", "mode": "readWrite",
               "source": {"type": "workspace", "workspaceId": "repo"}}),
        "VfsMountView",
    )
    .await;
    files_session(&client, "s-files", "edit").await;
    let events = run(&client, "s-files").await;
    assert_eq!(events.last().unwrap()["run"]["status"], "completed");
    let results = tool_results(&events);
    let statuses: Vec<(&str, &str)> = results
        .iter()
        .map(|(n, s, _)| (n.as_str(), s.as_str()))
        .collect();
    assert_eq!(
        statuses,
        [
            ("read_file", "ok"),
            ("write_file", "ok"),
            ("edit_file", "ok")
        ],
        "{results:?}"
    );
    assert_eq!(results[0].2, "     1\t# A draft\n");

    let head = call(
        &client,
        "vfs/workspace/read",
        json!({"workspaceId": "repo"}),
        "VfsWorkspaceView",
    )
    .await;
    assert_eq!(head["revision"], 3, "one commit per write");
    let tree = call(
        &client,
        "vfs/snapshot/read",
        json!({"snapshotRef": head["snapshotRef"]}),
        "VfsSnapshotReadResult",
    )
    .await;
    let mut files = Vec::new();
    for entry in tree["entries"].as_array().unwrap() {
        let blob = call(
            &client,
            "blob/get",
            json!({"blobRef": entry["blobRef"]}),
            "BlobGetResult",
        )
        .await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(blob["dataBase64"].as_str().unwrap())
            .unwrap();
        files.push((
            entry["path"].as_str().unwrap().to_owned(),
            String::from_utf8(bytes).unwrap(),
        ));
    }
    let expected = [
        ("README.md", "# A final\n"),
        ("notes/todo.txt", "ship it\n"),
    ]
    .map(|(p, t)| (p.to_owned(), t.to_owned()));
    assert_eq!(files, expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_only_session_cannot_write() {
    let stack = stack(json!({"turns": [
        {"tool_calls": [
            {"name": "list_dir", "arguments": {}},
            {"name": "write_file", "arguments": {"path": "x.txt", "content": "x"}}
        ]},
        {"text": "Could not write."}
    ]}))
    .await;
    let client = stack.http(Some(&stack.key_a));
    call(
        &client,
        "vfs/workspace/create",
        json!({"workspaceId": "ro"}),
        "VfsWorkspaceView",
    )
    .await;
    call(
        &client,
        "vfs/mount/put",
        json!({"sessionId": "s-ro", "mountPath": "/work", "mode": "readWrite",
               "source": {"type": "workspace", "workspaceId": "ro"}}),
        "VfsMountView",
    )
    .await;
    files_session(&client, "s-ro", "readOnly").await;
    let events = run(&client, "s-ro").await;
    let results = tool_results(&events);
    assert_eq!(
        results[0],
        ("list_dir".into(), "ok".into(), "/work is empty.".into())
    );
    assert_eq!(results[1].1, "error");
    assert!(results[1].2.contains("not available"), "{results:?}");
    let head = call(
        &client,
        "vfs/workspace/read",
        json!({"workspaceId": "ro"}),
        "VfsWorkspaceView",
    )
    .await;
    assert_eq!(head["revision"], 1, "nothing written");
}
