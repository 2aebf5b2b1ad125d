//! File tools through Temporal: a session started with `filesystem: edit` over the
//! gateway gets the file tools, the worker runs them on the session's mounts, and
//! what the model wrote is visible through the `vfs/*` methods.

use std::sync::Arc;

use base64::Engine as _;
use jsonrpsee::core::client::ClientT;
use serde_json::{Value, json};
use temporal_server::deltas::DeltaHub;

use crate::gateway::{call, config, follow_until_finished, http, params, serve};
use crate::harness::{Env, fast_settings};

/// Every tool result of `events`: (name, status, output).
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

async fn file_text(client: &impl ClientT, snapshot_ref: &Value, path: &str) -> String {
    let tree = call(
        client,
        "vfs/snapshot/read",
        json!({"snapshotRef": snapshot_ref}),
        "VfsSnapshotReadResult",
    )
    .await;
    let entry = tree["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["path"] == path)
        .unwrap_or_else(|| panic!("no {path} in {tree:#}"));
    let blob = call(
        client,
        "blob/get",
        json!({"blobRef": entry["blobRef"]}),
        "BlobGetResult",
    )
    .await;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(blob["dataBase64"].as_str().unwrap())
        .unwrap();
    String::from_utf8(bytes).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn file_tools_write_and_read_a_mounted_workspace() {
    let script = json!({"turns": [
        {"text": "Writing.", "tool_calls": [
            {"name": "write_file", "arguments": {"path": "/work/notes.md", "content": "written by the model\n"}}
        ]},
        {"tool_calls": [
            {"name": "read_file", "arguments": {"path": "/work/notes.md"}},
            // Not a tool of this session: refused by the worker, not run.
            {"name": "echo", "arguments": {"a": 1}}
        ]},
        {"text": "Done."}
    ]});
    let Some(env) = Env::start("files", script, fast_settings()).await else {
        return;
    };
    let (gateway, key) = serve(&env, Arc::new(DeltaHub::default())).await;
    let client = http(&gateway, &key);
    let init = call(
        &client,
        "initialize",
        json!({"clientName": "test"}),
        "InitializeResult",
    )
    .await;
    let methods = init["methods"].as_array().unwrap();
    assert!(methods.iter().any(|m| m == "vfs/mount/put"), "{init:#}");

    call(
        &client,
        "vfs/workspace/create",
        json!({"workspaceId": "ws-files"}),
        "VfsWorkspaceView",
    )
    .await;
    call(
        &client,
        "vfs/mount/put",
        json!({"sessionId": "s-files", "mountPath": "/work", "mode": "readWrite",
               "source": {"type": "workspace", "workspaceId": "ws-files"}}),
        "VfsMountView",
    )
    .await;
    let mounts = call(
        &client,
        "vfs/mount/list",
        json!({"sessionId": "s-files"}),
        "VfsMountListResult",
    )
    .await;
    assert_eq!(mounts["mounts"].as_array().unwrap().len(), 1);

    let mut session_config = config();
    session_config["tools"] = json!({"filesystem": "edit"});
    let view = call(
        &client,
        "session/start",
        json!({"sessionId": "s-files", "config": session_config}),
        "SessionView",
    )
    .await;
    assert_eq!(view["config"]["filesystem"], "edit");
    // Starting again keeps the tools it has.
    let again = call(
        &client,
        "session/start",
        json!({"sessionId": "s-files", "config": session_config}),
        "SessionView",
    )
    .await;
    assert_eq!(again["config"]["filesystem"], "edit");

    let run = call(
        &client,
        "run/start",
        json!({"sessionId": "s-files", "submissionId": "sub-1",
               "input": [{"type": "text", "text": "Take notes."}]}),
        "RunStartResult",
    )
    .await;
    let events = follow_until_finished(&client, "s-files", run["runId"].as_str().unwrap()).await;
    assert_eq!(events.last().unwrap()["run"]["status"], "completed");
    let results = tool_results(&events);
    // The calls of one batch run concurrently: results are recorded as they finish.
    let mut summary: Vec<(&str, &str)> = results
        .iter()
        .map(|(name, status, _)| (name.as_str(), status.as_str()))
        .collect();
    summary.sort_unstable();
    assert_eq!(
        summary,
        [("echo", "error"), ("read_file", "ok"), ("write_file", "ok")],
        "{results:?}"
    );
    let output = |tool: &str| {
        let found = results.iter().find(|(name, _, _)| name == tool);
        found.map(|(_, _, output)| output.clone()).unwrap()
    };
    assert!(
        output("read_file").contains("written by the model"),
        "{results:?}"
    );
    assert!(
        output("echo").contains("not available in this session"),
        "{results:?}"
    );

    // The write moved the workspace head; the file is there through vfs/*.
    let head = call(
        &client,
        "vfs/workspace/read",
        json!({"workspaceId": "ws-files"}),
        "VfsWorkspaceView",
    )
    .await;
    assert_eq!(head["revision"], 2, "{head:#}");
    assert_eq!(head["fileCount"], 1);
    assert_eq!(
        file_text(&client, &head["snapshotRef"], "notes.md").await,
        "written by the model\n"
    );

    // A read-only session gets no writing tools.
    let mut read_only = config();
    read_only["tools"] = json!({"filesystem": "readOnly"});
    let view = call(
        &client,
        "session/start",
        json!({"sessionId": "s-read-only", "config": read_only}),
        "SessionView",
    )
    .await;
    assert_eq!(view["config"]["filesystem"], "readOnly");
    let err = client
        .request::<Value, _>(
            "vfs/workspace/read",
            params(json!({"workspaceId": "missing"})),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("workspaceNotFound"), "{err}");
    gateway.shutdown().await;
    env.shutdown().await;
}
