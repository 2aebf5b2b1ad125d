//! Environments end to end, every part a real process: `server gateway` and
//! `server worker` apart over Postgres and Temporal, the fake provider playing the
//! model, and `lightspeed env serve` lending a temporary directory. The model's
//! commands run as real processes on the daemon; the tool activity completes
//! asynchronously (the gateway completes it when the daemon answers).
//!
//! - commands: a passing and a failing one, 10 MB of output (bounded for the model,
//!   whole in the CAS), a timeout that kills the whole process group, an interactive
//!   one driven by `write_stdin`, and the file tools on `/env/NAME`;
//! - faults: the worker SIGKILLed while a 20 s command runs (it runs once and its
//!   result reaches the run), the daemon SIGKILLed mid-command (a typed error, no
//!   hang), the gateway restarted while a call waits (delivered once it is back);
//! - scale: 50 long commands across 50 sessions on one worker with 10 activity
//!   slots, while a short run in another session finishes promptly.
//!
//! Needs the local stack (Postgres, S3, Temporal) like `postgres.rs`, and the
//! `lightspeed` binary next to `server` (`cargo test --workspace` builds both).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use jsonrpsee::core::client::ClientT;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use serde_json::{Value, json};
use temporal_server::devserver;
use test_support::fake_provider::{FakeProvider, FakeProviderConfig, RunningFakeProvider};
use test_support::rpc_client::{bearer_headers, params};
use tokio::process::{Child, Command};
use uuid::Uuid;

use crate::harness::temporal_address;
use crate::postgres::{mint_key, server, stack_env, wait_healthy};

const RUN_DEADLINE: Duration = Duration::from_secs(240);

/// The `lightspeed` binary, built by the same `cargo test --workspace`.
fn lightspeed_bin() -> PathBuf {
    let path = Path::new(env!("CARGO_BIN_EXE_server")).with_file_name("lightspeed");
    assert!(
        path.exists(),
        "{} is missing: build it with `cargo build -p cli` (cargo test --workspace does)",
        path.display()
    );
    path
}

/// One test's stack: its own task queue, universe and fake provider.
struct Stack {
    stack: Vec<(&'static str, String)>,
    temporal: String,
    task_queue: String,
    provider: RunningFakeProvider,
    bind: String,
    key: String,
    gateway: Child,
    worker: Child,
    worker_slots: Option<usize>,
    tool_timeout_ms: Option<u64>,
}

impl Stack {
    async fn start(script: Value, worker_slots: Option<usize>) -> Option<Self> {
        Self::start_with(script, worker_slots, None).await
    }

    async fn start_with(
        script: Value,
        worker_slots: Option<usize>,
        tool_timeout_ms: Option<u64>,
    ) -> Option<Self> {
        let stack = stack_env()?;
        let temporal = temporal_address().await?;
        let universe = Uuid::new_v4().to_string();
        let task_queue = format!("env-test-{universe}");
        let key = mint_key(&stack, &temporal, &task_queue, &universe).await;
        let provider = FakeProvider::start(FakeProviderConfig {
            script: Some(serde_json::from_value(script).unwrap()),
            ..FakeProviderConfig::default()
        })
        .await
        .unwrap();
        let bind = format!("127.0.0.1:{}", devserver::free_port().unwrap());
        let mut this = Self {
            worker: spawn_worker(&stack, &temporal, &task_queue, &provider, worker_slots),
            gateway: spawn_gateway(&stack, &temporal, &task_queue, &bind, tool_timeout_ms),
            stack,
            temporal,
            task_queue,
            provider,
            bind,
            key,
            worker_slots,
            tool_timeout_ms,
        };
        wait_healthy(&this.bind.clone(), &mut this.gateway).await;
        Some(this)
    }

    fn client(&self) -> HttpClient {
        HttpClientBuilder::default()
            .set_headers(bearer_headers(&self.key))
            .request_timeout(Duration::from_secs(60))
            .build(format!("http://{}/rpc", self.bind))
            .unwrap()
    }

    async fn call(&self, method: &str, args: Value) -> Value {
        self.client()
            .request(method, params(args))
            .await
            .unwrap_or_else(|err| panic!("{method}: {err}"))
    }

    async fn restart_worker(&mut self) {
        self.worker = spawn_worker(
            &self.stack,
            &self.temporal,
            &self.task_queue,
            &self.provider,
            self.worker_slots,
        );
    }

    async fn restart_gateway(&mut self) {
        self.gateway = spawn_gateway(
            &self.stack,
            &self.temporal,
            &self.task_queue,
            &self.bind,
            self.tool_timeout_ms,
        );
        wait_healthy(&self.bind.clone(), &mut self.gateway).await;
    }

    /// Creates environment `name` and lends `dir` to it with a daemon.
    async fn lend(&self, name: &str, dir: &Path) -> (String, Child) {
        let created = self
            .call("environments/create", json!({"name": name}))
            .await;
        let token = created["token"].as_str().unwrap().to_owned();
        let daemon = self.daemon(name, &token, dir);
        self.wait_online(name).await;
        (token, daemon)
    }

    fn daemon(&self, name: &str, token: &str, dir: &Path) -> Child {
        Command::new(lightspeed_bin())
            .args(["env", "serve", "--name", name, "--sandbox", "landlock"])
            .arg("--dir")
            .arg(dir)
            .env("LIGHTSPEED_API_URL", format!("http://{}", self.bind))
            .env("LIGHTSPEED_ENV_TOKEN", token)
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap()
    }

    async fn wait_online(&self, name: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let read = self.call("environments/read", json!({"name": name})).await;
            if read["status"] == "online" {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{name} never came online: {read}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A session on the fake provider with `name`'s environment attached at `box`.
    async fn session_with(&self, session: &str, environment: &str, filesystem: &str) {
        let config = json!({
            "model": {"providerId": "openai", "apiKind": "openai:responses", "model": "m"},
            "tools": {"filesystem": filesystem}
        });
        self.call(
            "session/start",
            json!({"sessionId": session, "config": config}),
        )
        .await;
        self.call(
            "session/environments/attach",
            json!({"sessionId": session, "environment": environment, "name": "box"}),
        )
        .await;
    }

    async fn run(&self, session: &str, text: &str) -> String {
        let run = self
            .call(
                "run/start",
                json!({"sessionId": session, "submissionId": format!("sub-{}", text.trim()),
                       "input": [{"type": "text", "text": text}]}),
            )
            .await;
        run["runId"].as_str().unwrap().to_owned()
    }

    /// Every event of `session` until `run` finishes.
    async fn follow(&self, session: &str, run: &str) -> Vec<Value> {
        let deadline = Instant::now() + RUN_DEADLINE;
        let mut cursor = 0u64;
        let mut events = Vec::new();
        loop {
            let page = self
                .call(
                    "session/events/read",
                    json!({"sessionId": session, "cursor": cursor, "waitMs": 2_000}),
                )
                .await;
            cursor = page["nextCursor"].as_u64().unwrap();
            for event in page["events"].as_array().unwrap() {
                events.push(event.clone());
                if event["kind"] == "lightspeed.core.run.finished" && event["runId"] == run {
                    return events;
                }
            }
            assert!(
                Instant::now() < deadline,
                "{run} never finished: {events:#?}"
            );
        }
    }
}

fn spawn_worker(
    stack: &[(&'static str, String)],
    temporal: &str,
    task_queue: &str,
    provider: &RunningFakeProvider,
    slots: Option<usize>,
) -> Child {
    let mut worker = server(&["worker"], stack, temporal, task_queue);
    worker
        .env("OPENAI_BASE_URL", provider.openai_base_url())
        .env_remove("OPENAI_API_KEY")
        .stderr(Stdio::null());
    if let Some(slots) = slots {
        worker.env("LIGHTSPEED_WORKER_ACTIVITY_TASK_SLOTS", slots.to_string());
    }
    worker.spawn().unwrap()
}

fn spawn_gateway(
    stack: &[(&'static str, String)],
    temporal: &str,
    task_queue: &str,
    bind: &str,
    tool_timeout_ms: Option<u64>,
) -> Child {
    let mut gateway = server(&["gateway", "--bind", bind], stack, temporal, task_queue);
    gateway.stderr(Stdio::null());
    if let Some(ms) = tool_timeout_ms {
        gateway.env("LIGHTSPEED_TOOL_TIMEOUT_MS", ms.to_string());
    }
    gateway.spawn().unwrap()
}

/// The tool results of `events`: (name, status, output parsed as JSON when it is).
fn tool_results(events: &[Value]) -> Vec<(String, String, Value)> {
    events
        .iter()
        .flat_map(|event| event["items"].as_array().cloned().unwrap_or_default())
        .filter(|item| item["type"] == "toolCall" && item.get("result").is_some())
        .map(|item| {
            let output = item["result"]["output"].as_str().unwrap_or_default();
            (
                item["name"].as_str().unwrap_or_default().to_owned(),
                item["result"]["status"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                serde_json::from_str(output).unwrap_or_else(|_| json!(output)),
            )
        })
        .collect()
}

fn finished_status(events: &[Value], run: &str) -> String {
    events
        .iter()
        .find(|event| event["kind"] == "lightspeed.core.run.finished" && event["runId"] == run)
        .map(|event| {
            event["run"]["status"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .unwrap_or_default()
}

fn sigkill(child: &Child) {
    crate::harness::signal(child, "KILL");
}

/// Waits until `path` exists (a command got that far).
async fn wait_for_file(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_model_runs_commands_on_a_lent_machine() {
    let script = json!({"turns": [
        {"tool_calls": [{"name": "exec_command",
            "arguments": {"cmd": "read a; echo got $a; read b; echo got $b", "yield_time_ms": 1500}}]},
        {"tool_calls": [{"name": "write_stdin",
            "arguments": {"session_id": "box:1", "chars": "one\n", "yield_time_ms": 1500}}]},
        {"tool_calls": [{"name": "write_stdin",
            "arguments": {"session_id": "box:1", "chars": "two\n", "close_stdin": true, "yield_time_ms": 3000}}]},
        {"tool_calls": [
            {"name": "exec_command", "arguments": {"cmd": "echo hello from the box; pwd"}},
            {"name": "exec_command", "arguments": {"cmd": "echo oops >&2; exit 3"}},
            {"name": "exec_command", "arguments": {"cmd": "head -c 10000000 /dev/zero | tr '\\0' x"}},
            {"name": "exec_command", "arguments": {
                "cmd": "sleep 300 & echo $! > grandchild.pid; sleep 300", "timeout_ms": 2000}},
            {"name": "write_file", "arguments": {"path": "/env/box/notes/a.txt", "content": "alpha\nbeta\n"}}
        ]},
        {"tool_calls": [
            {"name": "read_file", "arguments": {"path": "/env/box/notes/a.txt"}},
            {"name": "grep", "arguments": {"pattern": "alpha", "path": "/env/box"}}
        ]},
        {"tool_calls": [
            {"name": "edit_file", "arguments": {"path": "/env/box/notes/a.txt", "old_string": "beta", "new_string": "gamma"}}
        ]},
        {"text": "Done."}
    ]});
    let Some(stack) = Stack::start(script, None).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (_token, mut daemon) = stack.lend("laptop", dir.path()).await;
    stack.session_with("s-env", "laptop", "edit").await;
    let run = stack.run("s-env", "go").await;
    let events = stack.follow("s-env", &run).await;
    assert_eq!(finished_status(&events, &run), "completed", "{events:#?}");
    let results = tool_results(&events);
    assert_eq!(results.len(), 11, "{results:#?}");

    // Interactive: started, fed two lines, exited.
    let (_, status, started) = &results[0];
    assert_eq!(status, "ok", "{started}");
    assert_eq!(started["running"], true, "{started}");
    assert_eq!(started["session_id"], "box:1");
    assert!(
        results[1].2["output"].as_str().unwrap().contains("got one"),
        "{:?}",
        results[1]
    );
    let ended = &results[2].2;
    assert!(
        ended["output"].as_str().unwrap().contains("got two"),
        "{ended}"
    );
    assert_eq!(ended["exit_code"], 0, "{ended}");

    let find = |needle: &str| {
        results
            .iter()
            .find(|(name, _, output)| name == "exec_command" && output.to_string().contains(needle))
            .unwrap_or_else(|| panic!("no result with {needle}: {results:#?}"))
    };
    let passed = find("hello from the box");
    assert_eq!(passed.1, "ok");
    assert_eq!(passed.2["exit_code"], 0);
    assert!(
        passed.2["output"]
            .as_str()
            .unwrap()
            .contains(dir.path().canonicalize().unwrap().to_str().unwrap()),
        "runs in the lent directory: {}",
        passed.2
    );
    let failed = find("oops");
    assert_eq!(
        (failed.1.as_str(), &failed.2["exit_code"]),
        ("error", &json!(3))
    );

    // 10 MB: bounded for the model, whole in the CAS.
    let big = find("bytes of output omitted");
    assert_eq!(big.2["output_bytes"], 10_000_000);
    assert!(big.2["output"].as_str().unwrap().len() < 13_000);
    // Over `blob/get`'s inline bound: fetched raw.
    let raw = reqwest::Client::new()
        .get(format!(
            "http://{}/blobs/{}",
            stack.bind,
            big.2["output_ref"].as_str().unwrap()
        ))
        .bearer_auth(&stack.key)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(raw.len(), 10_000_000);
    assert!(raw.iter().all(|byte| *byte == b'x'));

    // The timeout killed the whole process group, the backgrounded grandchild too.
    let timed_out = results
        .iter()
        .find(|(_, _, output)| output["timed_out"] == true)
        .unwrap_or_else(|| panic!("no timeout: {results:#?}"));
    assert_eq!(timed_out.1, "error");
    let pid: i32 = std::fs::read_to_string(dir.path().join("grandchild.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Path::new(&format!("/proc/{pid}")).exists() {
        assert!(
            Instant::now() < deadline,
            "grandchild {pid} survived the timeout"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The file tools reached the lent directory.
    assert_eq!(
        std::fs::read_to_string(dir.path().join("notes/a.txt")).unwrap(),
        "alpha\ngamma\n"
    );
    let read = results
        .iter()
        .find(|(name, _, _)| name == "read_file")
        .unwrap();
    assert!(read.2.to_string().contains("beta"), "{read:?}");
    let grep = results.iter().find(|(name, _, _)| name == "grep").unwrap();
    assert!(grep.2.to_string().contains("notes/a.txt"), "{grep:?}");

    // Shown online with what the daemon reported.
    let view = stack
        .call("environments/read", json!({"name": "laptop"}))
        .await;
    assert_eq!(view["host"]["sandbox"], "landlock");
    daemon.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_command_survives_a_worker_kill_and_runs_once() {
    let script = json!({"turns": [
        {"tool_calls": [{"name": "exec_command", "arguments": {
            "cmd": "echo started >> started.txt; sleep 20; echo finished >> ran.txt; echo all done",
            "timeout_ms": 120000}}]},
        {"text": "Done."}
    ]});
    let Some(mut stack) = Stack::start(script, None).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (_token, _daemon) = stack.lend("ci", dir.path()).await;
    stack.session_with("s-crash", "ci", "none").await;
    let run = stack.run("s-crash", "build").await;
    wait_for_file(&dir.path().join("started.txt")).await;
    sigkill(&stack.worker);
    let _ = stack.worker.wait().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    stack.restart_worker().await;

    let events = stack.follow("s-crash", &run).await;
    assert_eq!(finished_status(&events, &run), "completed", "{events:#?}");
    let results = tool_results(&events);
    assert_eq!(results.len(), 1, "{results:#?}");
    assert_eq!(results[0].1, "ok", "{results:#?}");
    assert!(
        results[0].2["output"]
            .as_str()
            .unwrap()
            .contains("all done")
    );
    let started = std::fs::read_to_string(dir.path().join("started.txt")).unwrap();
    let ran = std::fs::read_to_string(dir.path().join("ran.txt")).unwrap();
    assert_eq!(
        (started.lines().count(), ran.lines().count()),
        (1, 1),
        "ran once"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_daemon_gives_a_typed_error_and_a_restarted_gateway_delivers() {
    let script = json!({"turns": [
        {"tool_calls": [{"name": "exec_command", "arguments": {
            "cmd": "echo started > first.txt; sleep 60", "timeout_ms": 120000}}],
         "match": {"last_user_contains": "daemon"}},
        {"text": "Noted.", "match": {"last_user_contains": "daemon"}},
        {"tool_calls": [{"name": "exec_command", "arguments": {"cmd": "echo delivered > second.txt; echo ok"}}],
         "delay_ms": 4000, "match": {"last_user_contains": "gateway"}},
        {"text": "Done.", "match": {"last_user_contains": "gateway"}}
    ]});
    let Some(mut stack) = Stack::start(script, None).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (token, daemon) = stack.lend("vm", dir.path()).await;
    stack.session_with("s-faults", "vm", "none").await;

    // The daemon dies mid-command; the one started in its place does not know the
    // call: a typed error, well before the command's deadline.
    let run = stack.run("s-faults", "daemon").await;
    wait_for_file(&dir.path().join("first.txt")).await;
    sigkill(&daemon);
    let began = Instant::now();
    let _daemon = stack.daemon("vm", &token, dir.path());
    let events = stack.follow("s-faults", &run).await;
    assert!(
        began.elapsed() < Duration::from_secs(60),
        "{:?}",
        began.elapsed()
    );
    assert_eq!(finished_status(&events, &run), "completed");
    let results = tool_results(&events);
    assert_eq!(results[0].1, "error");
    assert_eq!(results[0].2["code"], "environmentRestarted", "{results:#?}");

    // The gateway goes away while the model thinks (once the generation has read
    // the environment's context files and asked the model); the call waits for it
    // and is delivered once the daemon has reconnected to the new one.
    let asked = stack.provider.requests().len();
    let run = stack.run("s-faults", "gateway").await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while stack.provider.requests().len() == asked {
        assert!(Instant::now() < deadline, "the model was never asked");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sigkill(&stack.gateway);
    let _ = stack.gateway.wait().await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    stack.restart_gateway().await;
    let events = stack.follow("s-faults", &run).await;
    assert_eq!(finished_status(&events, &run), "completed", "{events:#?}");
    let results = tool_results(&run_events(&events, &run));
    assert_eq!(results.len(), 1, "{results:#?}");
    assert_eq!(results[0].1, "ok", "{results:#?}");
    assert!(dir.path().join("second.txt").exists());
}

/// The events of `run` among `events`.
fn run_events(events: &[Value], run: &str) -> Vec<Value> {
    events
        .iter()
        .filter(|event| event["runId"] == run)
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn long_commands_hold_no_worker_slots() {
    const SESSIONS: usize = 50;
    // Each command outlives the window in which all must begin: were slots held, only
    // 10 could begin before the first ones end. Long enough that starting 50 sessions
    // on a loaded CI machine fits inside it.
    const COMMAND_S: u64 = 90;
    let mut turns = Vec::new();
    for i in 0..SESSIONS {
        turns.push(json!({"tool_calls": [{"name": "exec_command", "arguments": {
            "cmd": format!("echo begun > begun-{i}; sleep {COMMAND_S}; echo done-{i}"), "timeout_ms": 180000}}],
            "match": {"last_user_contains": format!("long-{i} ")}}));
        turns
            .push(json!({"text": "Built.", "match": {"last_user_contains": format!("long-{i} ")}}));
    }
    turns.push(json!({"text": "Quick answer.", "match": {"last_user_contains": "short"}}));
    let Some(stack) = Stack::start(json!({"turns": turns}), Some(10)).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (_token, _daemon) = stack.lend("farm", dir.path()).await;
    let mut runs = Vec::new();
    for i in 0..SESSIONS {
        let session = format!("s-long-{i}");
        stack.session_with(&session, "farm", "none").await;
        runs.push((
            session.clone(),
            stack.run(&session, &format!("long-{i} ")).await,
        ));
    }
    // Every command is running at once on one worker with 10 activity slots.
    let deadline = Instant::now() + Duration::from_secs(COMMAND_S);
    loop {
        let begun = (0..SESSIONS)
            .filter(|i| dir.path().join(format!("begun-{i}")).exists())
            .count();
        if begun == SESSIONS {
            break;
        }
        assert!(Instant::now() < deadline, "only {begun} commands began");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let config =
        json!({"model": {"providerId": "openai", "apiKind": "openai:responses", "model": "m"}});
    stack
        .call(
            "session/start",
            json!({"sessionId": "s-short", "config": config}),
        )
        .await;
    let began = Instant::now();
    let short = stack.run("s-short", "short").await;
    let events = stack.follow("s-short", &short).await;
    assert_eq!(finished_status(&events, &short), "completed");
    let took = began.elapsed();
    let still_running = (0..SESSIONS)
        .filter(|i| !dir.path().join(format!("begun-{i}")).exists())
        .count();
    assert_eq!(still_running, 0);
    assert!(
        took < Duration::from_secs(10),
        "the short run took {took:?}"
    );
    println!("short run finished in {took:?} while {SESSIONS} commands ran");
    for (session, run) in &runs {
        let events = stack.follow(session, run).await;
        assert_eq!(finished_status(&events, run), "completed", "{session}");
        let results = tool_results(&events);
        assert_eq!(results[0].1, "ok", "{session}: {results:#?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn cancelling_a_run_kills_its_command() {
    let script = json!({"turns": [
        {"tool_calls": [{"name": "exec_command", "arguments": {
            "cmd": "echo $$ > leader.pid; sleep 300", "timeout_ms": 600000}}]},
        {"text": "Never reached."}
    ]});
    let Some(stack) = Stack::start(script, None).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (_token, _daemon) = stack.lend("dev", dir.path()).await;
    stack.session_with("s-cancel", "dev", "none").await;
    let run = stack.run("s-cancel", "wait").await;
    let pid_file = dir.path().join("leader.pid");
    wait_for_file(&pid_file).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    stack
        .call(
            "run/cancel",
            json!({"sessionId": "s-cancel", "runId": run, "reason": "changed my mind"}),
        )
        .await;
    let events = stack.follow("s-cancel", &run).await;
    assert_eq!(finished_status(&events, &run), "cancelled");
    // Nobody waits for the command any more: the daemon killed its process group.
    let began = Instant::now();
    while Path::new(&format!("/proc/{pid}")).exists() {
        assert!(
            began.elapsed() < Duration::from_secs(30),
            "the cancelled command {pid} still runs"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "the cancelled command was killed {:?} after its run ended",
        began.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_offline_environment_fails_the_call_at_its_deadline() {
    let script = json!({"turns": [
        {"tool_calls": [{"name": "exec_command", "arguments": {"cmd": "make"}}]},
        {"text": "The machine is away."}
    ]});
    let Some(stack) = Stack::start_with(script, None, Some(20_000)).await else {
        return;
    };
    // Created, never served.
    stack
        .call("environments/create", json!({"name": "asleep"}))
        .await;
    stack.session_with("s-offline", "asleep", "none").await;
    let began = Instant::now();
    let run = stack.run("s-offline", "build").await;
    let events = stack.follow("s-offline", &run).await;
    let waited = began.elapsed();
    assert_eq!(finished_status(&events, &run), "completed", "{events:#?}");
    let results = tool_results(&events);
    assert_eq!(results[0].1, "error");
    assert_eq!(results[0].2["code"], "environmentOffline", "{results:#?}");
    assert!(
        waited >= Duration::from_secs(19) && waited < Duration::from_secs(60),
        "the call waited {waited:?} for a 20 s deadline"
    );
    println!("an offline environment's call failed after {waited:?} (deadline 20 s)");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_environments_agents_md_and_skills_reach_the_first_request() {
    let script = json!({"turns": [{"text": "Noted."}]});
    let Some(stack) = Stack::start(script, None).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("AGENTS.md"), "Use the staging database.").unwrap();
    let skill = dir.path().join(".agents/skills/deploy");
    std::fs::create_dir_all(&skill).unwrap();
    std::fs::write(
        skill.join("SKILL.md"),
        "---\nname: deploy\ndescription: Deploys to staging.\n---\nRun make deploy.\n",
    )
    .unwrap();
    let (_token, _daemon) = stack.lend("dev", dir.path()).await;
    stack.session_with("s-env-context", "dev", "none").await;
    let run = stack.run("s-env-context", "hello").await;
    let events = stack.follow("s-env-context", &run).await;
    assert_eq!(finished_status(&events, &run), "completed");
    let request = &stack.provider.requests()[0];
    let instructions = request.body["instructions"].as_str().unwrap();
    assert!(
        instructions.contains("/env/box/AGENTS.md")
            && instructions.contains("Use the staging database."),
        "{instructions}"
    );
    assert!(
        request
            .raw_body
            .contains("deploy: Deploys to staging. (/env/box/.agents/skills/deploy/SKILL.md)"),
        "{}",
        request.raw_body
    );
}
