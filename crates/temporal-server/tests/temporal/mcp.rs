//! Linked MCP tools on real Temporal, against a real server: server-everything over
//! stdio (the worker spawns `node`, allowed by its stdio policy). The model calls
//! echo, a tool returning an image, a long-running tool that reports progress, and
//! echo with arguments the server refuses; every result is in the log (the image as
//! a CAS ref), and every payload in history stays within 4 KiB with nothing spilled.

use std::collections::BTreeMap;

use engine::core::command::CoreCommand;
use engine::core::event::CoreEvent;
use engine::core::run::{RunOutcome, ToolStatus};
use engine::store::BlobStore;
use mcp_registry::catalog::{PutCondition, SERVERS_MAX};
use mcp_registry::link::LINKS_PER_SESSION_MAX;
use mcp_registry::{McpCatalog, McpServerSpec, McpTransport, ServerName, StdioPolicy, ToolFilter};
use serde_json::{Value, json};

use std::time::Duration;

use engine::SessionId;
use temporal_workflow::PhaseView;

use crate::harness::{Env, UNIVERSE, WorkerKind, events, fast_settings, history_payloads};

const PAYLOAD_BYTES_MAX: usize = 4 * 1024;

#[tokio::test(flavor = "multi_thread")]
async fn a_model_calls_tools_of_a_stdio_mcp_server() {
    let Some((command, args)) = everything() else {
        return;
    };
    let script = json!({"turns": [
        {"tool_calls": [
            {"name": "everything__echo", "arguments": {"message": "hello from Temporal"}},
            {"name": "everything__get-tiny-image", "arguments": {}},
            {"name": "everything__trigger-long-running-operation",
             "arguments": {"duration": 1, "steps": 3}}
        ]},
        {"tool_calls": [{"name": "everything__echo", "arguments": {"wrong": 1}}]},
        {"text": "Done."}
    ]});
    let Some(env) = Env::start("mcp-stdio", script, fast_settings()).await else {
        return;
    };
    let session = env.open("s-mcp").await;

    link_everything(&env, &session, command, args).await;

    let mut deltas = env.deltas.subscribe(UNIVERSE, session.as_str());
    let run = env.request_run(&session, "sub-0", "use the tools").await;
    assert_eq!(env.outcome(&session, &run).await, RunOutcome::Completed);
    // The long-running tool's progress reached the session's live deltas.
    let mut progress = Vec::new();
    while let Ok(delta) = deltas.try_recv() {
        if delta.kind == llm_runtime::DeltaKind::ToolProgress {
            progress.push(delta.text);
        }
    }
    assert!(progress.len() >= 2, "{progress:?}");
    assert!(
        progress
            .iter()
            .all(|line| line.starts_with("everything__trigger-long-running-operation: ")),
        "{progress:?}"
    );

    let log = env.log(&session).await;
    let mut results = Vec::new();
    for event in events(&log) {
        if let CoreEvent::ToolResultRecorded(recorded) = event {
            let bytes = env.store.get(&recorded.item.content_ref).await.unwrap();
            let output: Value = serde_json::from_slice(&bytes).unwrap();
            results.push((recorded.status, output));
        }
    }
    assert_eq!(results.len(), 4, "{results:#?}");
    let text_of = |output: &Value| output["content"].to_string();
    assert!(
        results
            .iter()
            .any(|(status, output)| *status == ToolStatus::Ok
                && text_of(output).contains("hello from Temporal"))
    );
    let image = results
        .iter()
        .find_map(|(_, output)| {
            output["content"]
                .as_array()?
                .iter()
                .find(|block| block["type"] == "image")
                .cloned()
        })
        .expect("an image block");
    assert_eq!(image["mimeType"], "image/png");
    let png = env
        .store
        .get(&engine::BlobRef::parse(image["blobRef"].as_str().unwrap()).unwrap())
        .await
        .unwrap();
    assert!(
        png.starts_with(b"\x89PNG"),
        "the image's bytes are in the CAS"
    );
    assert!(
        results
            .iter()
            .any(|(status, output)| *status == ToolStatus::Ok
                && text_of(output).contains("Long running operation completed"))
    );
    assert!(
        results
            .iter()
            .any(|(status, _)| *status == ToolStatus::Error),
        "the refused arguments are an error result: {results:#?}"
    );

    let payloads = history_payloads(&env.history(&session).await);
    let oversized: Vec<_> = payloads
        .iter()
        .filter(|p| p.bytes > PAYLOAD_BYTES_MAX || p.spilled > 0)
        .collect();
    assert!(oversized.is_empty(), "{oversized:?}");
}

/// Links server-everything (stdio) to `session` as `session/mcp/link` does: the
/// server's record, its tools listed through the MCP client and registered on the
/// session by a tool patch, then the link record.
async fn link_everything(env: &Env, session: &SessionId, command: String, args: Vec<String>) {
    let name = ServerName::new("everything").unwrap();
    let spec = McpServerSpec {
        transport: McpTransport::Stdio {
            command,
            args,
            env: BTreeMap::new(),
        },
        auth: Default::default(),
        tools: ToolFilter::default(),
        timeouts: Default::default(),
    };
    let stdio = StdioPolicy::parse("node");
    spec.validate(&stdio).unwrap();
    let server = env
        .store
        .mcp_server_put(&name, &spec, PutCondition::Absent, 1, SERVERS_MAX)
        .await
        .unwrap();
    let tools = test_support::tools::test_mcp_tools_with(stdio).unwrap();
    let link = tools
        .list_link(UNIVERSE, &server, &env.store, 2)
        .await
        .unwrap();
    let upsert = link
        .tools
        .iter()
        .map(|tool| engine::core::tools::ToolSpec {
            name: tool.name.clone(),
            definition_ref: tool.definition_ref.clone(),
            class: None,
        })
        .collect();
    env.admit(
        session,
        CoreCommand::PatchTools {
            // `open` registered the builtin tools at revision 1.
            expected_revision: 1,
            upsert,
            remove: vec![],
        },
    )
    .await;
    env.store
        .mcp_link_put(session, &link, LINKS_PER_SESSION_MAX)
        .await
        .unwrap();
}

/// The stdio command of server-everything; `None` (with a note) outside CI when it
/// is not installed.
fn everything() -> Option<(String, Vec<String>)> {
    match test_support::mcp_servers::everything_stdio() {
        Ok(found) => Some(found),
        Err(err) if std::env::var("CI").is_ok_and(|ci| ci == "true") => panic!("{err}"),
        Err(err) => {
            eprintln!("note: skipping: {err}");
            None
        }
    }
}

/// The worker process is SIGKILLed while a long MCP call runs on its stdio server:
/// a new worker process retries the call (its activity timed out with the worker),
/// the run completes, and the call's result is recorded once.
#[tokio::test(flavor = "multi_thread")]
async fn worker_killed_mid_mcp_call() {
    let Some((command, args)) = everything() else {
        return;
    };
    let script = json!({"turns": [
        {"tool_calls": [{"name": "everything__trigger-long-running-operation",
                         "arguments": {"duration": 4, "steps": 4}}]},
        {"text": "Done after the crash."}
    ]});
    let Some(mut env) =
        Env::start_with("mcp-crash", script, fast_settings(), WorkerKind::Process).await
    else {
        return;
    };
    let session = env.open("s-mcp-crash").await;
    link_everything(&env, &session, command, args).await;
    let run = env.request_run(&session, "sub-1", "go").await;
    env.wait_status(&session, "awaiting tools", |s| {
        s.phase == Some(PhaseView::AwaitingTools)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    env.kill_worker_process().await;
    env.spawn_worker_process();
    assert_eq!(env.outcome(&session, &run).await, RunOutcome::Completed);
    let log = env.log(&session).await;
    let results: Vec<_> = events(&log)
        .into_iter()
        .filter_map(|event| match event {
            CoreEvent::ToolResultRecorded(recorded) => Some(recorded),
            _ => None,
        })
        .collect();
    assert_eq!(results.len(), 1, "recorded once");
    assert_eq!(results[0].status, ToolStatus::Ok);
    for (index, entry) in log.iter().enumerate() {
        assert_eq!(entry.seq, index as u64 + 1, "gap or duplicate at {index}");
    }
    env.shutdown().await;
}
