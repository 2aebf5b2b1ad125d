//! API conformance cases, runs with tool calls: the file tools a session gets from `tools.filesystem`,
//! working on a mounted workspace whose head the writes move; and tools the session
//! was not offered, which must not run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};

use super::client::{Conn, Harness};
use super::fixtures::{finished_status, session_config, tool_results};
use super::{Case, case};

pub(super) const CASES: [Case; 3] = [
    case!(
        file_tools_edit_a_mounted_workspace,
        [
            "blob/put",
            "vfs/snapshot/commit",
            "vfs/workspace/create",
            "vfs/mount/put",
            "session/start",
            "run/start",
            "session/events/read",
            "vfs/workspace/read",
            "vfs/snapshot/read",
            "blob/get"
        ]
    ),
    case!(
        read_only_file_tools_cannot_write,
        [
            "blob/put",
            "vfs/snapshot/commit",
            "vfs/workspace/create",
            "vfs/mount/put",
            "session/start",
            "run/start",
            "session/events/read",
            "vfs/workspace/read"
        ]
    ),
    case!(
        tools_not_offered_to_the_session_are_refused,
        [
            "blob/put",
            "vfs/snapshot/commit",
            "vfs/workspace/create",
            "vfs/mount/put",
            "session/start",
            "run/start",
            "session/events/read",
            "vfs/workspace/read"
        ]
    ),
];

/// A workspace `repo` holding `files`, mounted read-write at `/work` of
/// `session_id`, which starts with `filesystem` file tools and runs once; the
/// run's events.
async fn run_on_workspace(
    a: &Conn,
    session_id: &str,
    filesystem: &str,
    files: &[(&str, &str)],
) -> Vec<Value> {
    let snapshot = a.commit(files).await;
    let created = a
        .call(
            "vfs/workspace/create",
            json!({"workspaceId": "repo", "snapshotRef": snapshot}),
        )
        .await;
    assert_eq!(created["revision"], 1);
    // Mounted before the session starts: the tools read the mounts at each call.
    let mount = json!({"sessionId": session_id, "mountPath": "/work", "mode": "readWrite",
                       "source": {"type": "workspace", "workspaceId": "repo"}});
    a.call("vfs/mount/put", mount).await;
    let args = json!({"sessionId": session_id, "config": session_config(filesystem)});
    let view = a.call("session/start", args.clone()).await;
    assert_eq!(view["config"]["filesystem"], filesystem);
    // Starting again keeps the tools it has.
    let again = a.call("session/start", args).await;
    assert_eq!(again["config"]["filesystem"], filesystem);
    let run_id = a.start_run(session_id, "sub-1", "Work on the files.").await;
    let events = a.follow(session_id, &run_id).await;
    assert_eq!(finished_status(&events, &run_id), "completed");
    events
}

/// The result of the call of `tool` (calls of one batch may finish in any order).
fn result_of<'r>(
    results: &'r [(String, String, String)],
    tool: &str,
) -> &'r (String, String, String) {
    let found = results.iter().find(|(name, _, _)| name == tool);
    found.unwrap_or_else(|| panic!("no result of {tool}: {results:?}"))
}

/// The statuses of `results`: (name, status).
fn statuses(results: &[(String, String, String)]) -> Vec<(&str, &str)> {
    results
        .iter()
        .map(|(name, status, _)| (name.as_str(), status.as_str()))
        .collect()
}

pub(super) async fn file_tools_edit_a_mounted_workspace(h: Harness) -> anyhow::Result<()> {
    let ctx = h
        .start(json!({"turns": [
            {"tool_calls": [
                {"name": "read_file", "arguments": {"path": "/work/README.md"}},
                {"name": "write_file", "arguments": {"path": "/work/notes/todo.txt", "content": "ship it\n"}}
            ]},
            {"tool_calls": [
                {"name": "edit_file", "arguments": {"path": "/work/README.md", "old_string": "draft", "new_string": "final"}},
                {"name": "read_file", "arguments": {"path": "/work/notes/todo.txt"}}
            ]},
            {"text": "Done."}
        ]}))
        .await?;
    let a = ctx.a();
    let events = run_on_workspace(&a, "s-files", "edit", &[("README.md", "# A draft\n")]).await;
    let results = tool_results(&events);
    assert_eq!(results.len(), 4, "{results:?}");
    // The calls of one batch may run concurrently: results are recorded as they
    // finish, so each batch is compared as a set.
    let (first, second) = results.split_at(2);
    let sorted = |batch: &[(String, String, String)]| {
        let mut statuses = statuses(batch);
        statuses.sort_unstable();
        statuses
            .into_iter()
            .map(|(n, s)| (n.to_owned(), s.to_owned()))
            .collect::<Vec<_>>()
    };
    let expect = |pairs: [(&str, &str); 2]| pairs.map(|(n, s)| (n.to_owned(), s.to_owned()));
    assert_eq!(
        sorted(first),
        expect([("read_file", "ok"), ("write_file", "ok")]),
        "{results:?}"
    );
    assert_eq!(
        sorted(second),
        expect([("edit_file", "ok"), ("read_file", "ok")]),
        "{results:?}"
    );
    let read_output = |batch: &[(String, String, String)]| {
        let read = batch.iter().find(|(name, _, _)| name == "read_file");
        read.map(|(_, _, output)| output.clone())
            .unwrap_or_default()
    };
    assert!(read_output(first).contains("# A draft"), "{results:?}");
    assert!(read_output(second).contains("ship it"), "{results:?}");

    let head = a
        .call("vfs/workspace/read", json!({"workspaceId": "repo"}))
        .await;
    assert_eq!(head["revision"], 3, "one commit per write: {head}");
    assert_eq!(head["fileCount"], 2);
    let files = a.files(&head["snapshotRef"]).await;
    let expected = [
        ("README.md", "# A final\n"),
        ("notes/todo.txt", "ship it\n"),
    ]
    .map(|(path, text)| (path.to_owned(), text.to_owned()));
    assert_eq!(files, expected);
    Ok(())
}

pub(super) async fn read_only_file_tools_cannot_write(h: Harness) -> anyhow::Result<()> {
    let ctx = h
        .start(json!({"turns": [
            {"tool_calls": [
                {"name": "read_file", "arguments": {"path": "/work/a.txt"}},
                {"name": "write_file", "arguments": {"path": "/work/x.txt", "content": "x"}}
            ]},
            {"text": "Could not write."}
        ]}))
        .await?;
    let a = ctx.a();
    let events = run_on_workspace(&a, "s-ro", "readOnly", &[("a.txt", "alpha\n")]).await;
    let results = tool_results(&events);
    assert_eq!(results.len(), 2, "{results:?}");
    let read = result_of(&results, "read_file");
    assert_eq!(read.1, "ok", "{results:?}");
    assert!(read.2.contains("alpha"), "{results:?}");
    assert_ne!(
        result_of(&results, "write_file").1,
        "ok",
        "a read-only session cannot write: {results:?}"
    );
    let head = a
        .call("vfs/workspace/read", json!({"workspaceId": "repo"}))
        .await;
    assert_eq!(head["revision"], 1, "nothing written");
    Ok(())
}

/// A session is offered the tools of its config and nothing else: a call of any
/// other tool (here `echo`, which some hosts have for their own tests) is answered
/// as an error and does not run.
pub(super) async fn tools_not_offered_to_the_session_are_refused(h: Harness) -> anyhow::Result<()> {
    let ctx = h
        .start(json!({"turns": [
            {"tool_calls": [
                {"name": "echo", "arguments": {"a": 1}},
                {"name": "no_such_tool", "arguments": {}},
                {"name": "list_dir", "arguments": {"path": "/work"}}
            ]},
            {"text": "Done."}
        ]}))
        .await?;
    let a = ctx.a();
    let events = run_on_workspace(&a, "s-offered", "edit", &[("a.txt", "alpha\n")]).await;
    let results = tool_results(&events);
    let mut names: Vec<&str> = statuses(&results).iter().map(|(name, _)| *name).collect();
    names.sort_unstable();
    assert_eq!(names, ["echo", "list_dir", "no_such_tool"], "{results:?}");
    // `error` or `notExecuted`: the contract only promises it did not succeed.
    let echo = result_of(&results, "echo");
    assert_ne!(echo.1, "ok", "echo was not offered: {results:?}");
    assert_ne!(result_of(&results, "no_such_tool").1, "ok", "{results:?}");
    let listed = result_of(&results, "list_dir");
    assert_eq!(listed.1, "ok", "{results:?}");
    assert!(listed.2.contains("a.txt"), "{results:?}");
    let head = a
        .call("vfs/workspace/read", json!({"workspaceId": "repo"}))
        .await;
    assert_eq!(head["revision"], 1, "nothing written");
    Ok(())
}
