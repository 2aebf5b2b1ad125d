//! Runs one case once against a gateway: sets up the workspace, session and memory,
//! sends each user message as a run, follows the session's events to the end of each
//! run, and reads back the workspace. Everything goes through JSON-RPC.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use crate::EvalError;
use crate::case::Case;
use crate::matchers::{Outcome, ToolCallSeen};
use crate::rpc::{RpcClient, str_field};

/// How one case run is configured.
#[derive(Debug, Clone)]
pub struct RunSpec {
    pub session_id: String,
    /// The model route (`SessionConfigInput.model`), unless overrides set one.
    pub model: Value,
    /// A configuration's overrides, merged over the case's `session`.
    pub overrides: Map<String, Value>,
    pub timeout: Duration,
    /// Offline: the fake provider's `--record` file, read after the run.
    pub record_file: Option<std::path::PathBuf>,
}

/// The session config: a default `tools` from the setup, then the case's `session`,
/// then the configuration's overrides; `tools` objects merge key by key.
pub fn session_config(case: &Case, spec: &RunSpec) -> Value {
    let mut config = Map::new();
    config.insert("model".into(), spec.model.clone());
    let tools = case
        .setup
        .tools
        .clone()
        .or_else(|| (!case.setup.files.is_empty()).then(|| json!({"filesystem": "edit"})));
    if let Some(tools) = tools {
        config.insert("tools".into(), tools);
    }
    for layer in [&case.session, &spec.overrides] {
        for (key, value) in layer {
            match (config.get_mut(key), value) {
                (Some(Value::Object(have)), Value::Object(add)) if key == "tools" => {
                    have.extend(add.clone());
                }
                _ => {
                    config.insert(key.clone(), value.clone());
                }
            }
        }
    }
    Value::Object(config)
}

fn wants_mount(config: &Value, case: &Case) -> bool {
    let filesystem = config
        .pointer("/tools/filesystem")
        .and_then(Value::as_str)
        .unwrap_or("none");
    !case.setup.files.is_empty() || filesystem != "none"
}

/// Runs the case once. Harness failures end up in `Outcome::error`, so one broken
/// case never stops the suite.
pub async fn run_case(client: &RpcClient, case: &Case, spec: &RunSpec) -> Outcome {
    let started = Instant::now();
    let mut outcome = Outcome::default();
    let result = tokio::time::timeout(spec.timeout, drive(client, case, spec, &mut outcome)).await;
    match result {
        Ok(Ok(())) => {}
        Ok(Err(err)) => outcome.error = Some(err.to_string()),
        Err(_) => {
            outcome.error = Some(format!(
                "timed out after {} s (session {})",
                spec.timeout.as_secs(),
                spec.session_id
            ))
        }
    }
    outcome.latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    if let Some(path) = &spec.record_file {
        // Each line is one request as JSON; its `raw_body` is the request exactly as
        // sent (JSON text, so a needle with quotes or newlines must be escaped).
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let bodies: Vec<String> = text
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter_map(|v| v.get("raw_body").and_then(Value::as_str).map(str::to_owned))
            .collect();
        outcome.provider_requests = Some(bodies.join("\n"));
    }
    outcome
}

async fn drive(
    client: &RpcClient,
    case: &Case,
    spec: &RunSpec,
    outcome: &mut Outcome,
) -> Result<(), EvalError> {
    let config = session_config(case, spec);
    let workspace = if wants_mount(&config, case) {
        Some(upload_workspace(client, &case.setup.files).await?)
    } else {
        None
    };
    client
        .call(
            "session/start",
            json!({"sessionId": spec.session_id, "config": config}),
        )
        .await?;
    if let Some(workspace_id) = &workspace {
        client
            .call(
                "vfs/mount/put",
                json!({"sessionId": spec.session_id, "mountPath": case.mount_path(),
                       "source": {"type": "workspace", "workspaceId": workspace_id},
                       "mode": "readWrite"}),
            )
            .await?;
    }
    for server in &case.setup.mcp_servers {
        let server = with_cwd(server);
        let name = str_field(&server, "name", "mcp/servers/put")?;
        client.call("mcp/servers/put", server).await?;
        client
            .call(
                "session/mcp/link",
                json!({"sessionId": spec.session_id, "server": name}),
            )
            .await?;
    }
    for block in &case.setup.memory_blocks {
        let created = client
            .call(
                "memory/blocks/create",
                json!({"label": block.label, "description": block.description,
                       "value": block.value}),
            )
            .await;
        // Blocks belong to the universe: another run of the suite may have made it.
        if let Err(err) = created
            && !err.to_string().contains("-32009")
        {
            return Err(err);
        }
        client
            .call(
                "session/memory/attach",
                json!({"sessionId": spec.session_id, "label": block.label}),
            )
            .await?;
    }
    let mut follower = Follower::default();
    for (index, message) in case.messages().iter().enumerate() {
        let started = client
            .call(
                "run/start",
                json!({"sessionId": spec.session_id, "submissionId": format!("eval-{index}"),
                       "input": [{"type": "text", "text": message}]}),
            )
            .await?;
        let run_id = str_field(&started, "runId", "run/start")?;
        follower
            .follow(client, &spec.session_id, &run_id, outcome)
            .await?;
    }
    let mut calls: Vec<(usize, ToolCallSeen)> = follower.calls.into_values().collect();
    calls.sort_by_key(|(order, _)| *order);
    outcome.tool_calls = calls.into_iter().map(|(_, call)| call).collect();
    if let Some(workspace_id) = &workspace
        && !case.expect.files.is_empty()
    {
        outcome.files = read_workspace(client, workspace_id).await?;
    }
    Ok(())
}

/// `value` with `{cwd}` replaced in every string by the working directory.
fn with_cwd(value: &Value) -> Value {
    let cwd = std::env::current_dir()
        .map(|dir| dir.display().to_string())
        .unwrap_or_else(|_| ".".into());
    match value {
        Value::String(s) => Value::String(s.replace("{cwd}", &cwd)),
        Value::Array(items) => Value::Array(items.iter().map(with_cwd).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), with_cwd(v))).collect())
        }
        other => other.clone(),
    }
}

/// Uploads `files` as a snapshot and creates a workspace at it.
async fn upload_workspace(
    client: &RpcClient,
    files: &BTreeMap<String, String>,
) -> Result<String, EvalError> {
    let mut entries = Vec::new();
    for (path, content) in files {
        let blob_ref = client.blob_put(content.as_bytes()).await?;
        entries.push(json!({"path": path, "blobRef": blob_ref,
                            "sizeBytes": content.len(), "executable": false}));
    }
    let params = if entries.is_empty() {
        json!({})
    } else {
        let snapshot = client
            .call("vfs/snapshot/commit", json!({"entries": entries}))
            .await?;
        json!({"snapshotRef": str_field(&snapshot, "snapshotRef", "vfs/snapshot/commit")?})
    };
    let workspace = client.call("vfs/workspace/create", params).await?;
    str_field(&workspace, "workspaceId", "vfs/workspace/create")
}

/// The workspace's files at its head, decoded as UTF-8 (lossily).
async fn read_workspace(
    client: &RpcClient,
    workspace_id: &str,
) -> Result<BTreeMap<String, String>, EvalError> {
    let head = client
        .call("vfs/workspace/read", json!({"workspaceId": workspace_id}))
        .await?;
    let snapshot_ref = str_field(&head, "snapshotRef", "vfs/workspace/read")?;
    let mut files = BTreeMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = client
            .call(
                "vfs/snapshot/read",
                json!({"snapshotRef": snapshot_ref, "cursor": cursor}),
            )
            .await?;
        for entry in page
            .get("entries")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let path = str_field(entry, "path", "vfs/snapshot/read")?;
            let blob_ref = str_field(entry, "blobRef", "vfs/snapshot/read")?;
            let bytes = client.blob_get(&blob_ref).await?;
            files.insert(path, String::from_utf8_lossy(&bytes).into_owned());
        }
        cursor = page
            .get("nextCursor")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    Ok(files)
}

/// Reads a session's events in order and folds them into the outcome.
#[derive(Debug, Default)]
struct Follower {
    cursor: u64,
    /// callId -> (order seen, call); results arrive in later events.
    calls: BTreeMap<String, (usize, ToolCallSeen)>,
}

impl Follower {
    async fn follow(
        &mut self,
        client: &RpcClient,
        session_id: &str,
        run_id: &str,
        outcome: &mut Outcome,
    ) -> Result<(), EvalError> {
        loop {
            let page = client
                .call(
                    "session/events/read",
                    json!({"sessionId": session_id, "cursor": self.cursor,
                           "waitMs": 10_000, "limit": 500}),
                )
                .await?;
            if let Some(next) = page.get("nextCursor").and_then(Value::as_u64) {
                self.cursor = next;
            }
            let events = page.get("events").and_then(Value::as_array);
            for event in events.into_iter().flatten() {
                for item in event
                    .get("items")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    self.item(item, outcome);
                }
                let kind = event.get("kind").and_then(Value::as_str).unwrap_or("");
                let this_run = event.get("runId").and_then(Value::as_str) == Some(run_id);
                if kind.ends_with("run.finished") && this_run {
                    finish(event.get("run").unwrap_or(&Value::Null), outcome);
                    return Ok(());
                }
            }
        }
    }

    fn item(&mut self, item: &Value, outcome: &mut Outcome) {
        let text = |field: &str| item.get(field).and_then(Value::as_str).unwrap_or("");
        match text("type") {
            "assistantMessage" => {
                if !outcome.text.is_empty() {
                    outcome.text.push('\n');
                }
                outcome.text.push_str(text("text"));
            }
            "toolCall" => {
                let order = self.calls.len();
                let entry = self
                    .calls
                    .entry(text("callId").to_owned())
                    .or_insert_with(|| (order, ToolCallSeen::default()));
                let call = &mut entry.1;
                call.name = text("name").to_owned();
                // Arguments arrive as the model's JSON text; keep bad JSON as a string.
                let raw = text("arguments");
                call.arguments = serde_json::from_str(raw).unwrap_or(Value::String(raw.into()));
                if let Some(result) = item.get("result") {
                    call.output = result
                        .get("output")
                        .and_then(Value::as_str)
                        .map(str::to_owned);
                    call.status = result
                        .get("status")
                        .and_then(Value::as_str)
                        .map(str::to_owned);
                }
            }
            _ => {}
        }
    }
}

fn finish(run: &Value, outcome: &mut Outcome) {
    let status = run
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or("unknown");
    outcome.statuses.push(status.to_owned());
    outcome.failure = run.get("failure").filter(|f| !f.is_null()).cloned();
    let turns = run.get("turns").and_then(Value::as_u64).unwrap_or(0);
    outcome.turns += u32::try_from(turns).unwrap_or(u32::MAX);
    let usage = run.get("usage").unwrap_or(&Value::Null);
    let count = |field: &str| usage.get(field).and_then(Value::as_u64).unwrap_or(0);
    outcome.input_tokens += count("inputTokens");
    outcome.output_tokens += count("outputTokens");
    outcome.cost_usd += usage.get("costUsd").and_then(Value::as_f64).unwrap_or(0.0);
}
