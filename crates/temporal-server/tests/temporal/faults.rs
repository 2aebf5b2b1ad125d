//! Service faults on the deployed shape (`server worker` and `server gateway`
//! processes, the fake provider): Postgres restarted mid-run, S3 down while a large
//! blob is written (ridden out in place, and longer than the retry budget), and the
//! Temporal server restarted with sessions open. Each test stops and starts private
//! instances of the service it breaks (`private_stack`), never the shared local
//! stack; what a test does not break it takes from the local stack (Postgres) and
//! the test binary's Temporal dev server. docs/operating/faults.md says
//! what each fault does to the product.

use std::path::PathBuf;
use std::time::Duration;

use engine::core::event::CoreEvent;
use engine::core::run::{RunFailure, RunOutcome};
use engine::store::SessionLog as _;
use engine::{LogEntry, SessionId};
use jsonrpsee::core::client::ClientT;
use jsonrpsee::http_client::HttpClient;
use serde_json::{Value, json};
use store_pg::{ObjectStore, PgConfig, PgDatabase, PgStore};
use test_support::fake_provider::{FakeProvider, RunningFakeProvider};
use test_support::rpc_client::params;
use tokio::process::Child;
use uuid::Uuid;

use crate::agents::read_until;
use crate::crash::assert_entries_intact;
use crate::harness::{assistant_texts, events, temporal_address};
use crate::postgres::{gateway_process, mint_key, rpc_client, stack_env, worker_command};
use crate::private_stack::{PrivatePostgres, PrivateS3, PrivateTemporal};

type Stack = Vec<(&'static str, String)>;

/// A worker and a gateway of one fresh universe, and a client with its key.
struct Processes {
    universe: Uuid,
    worker: Child,
    worker_log: PathBuf,
    gateway: Child,
    rpc: HttpClient,
}

impl Processes {
    /// Starts both over `stack` and `temporal`; the worker also gets `worker_env`.
    /// Their logs go to files named on stderr (shown with a failing test's output).
    async fn start(
        name: &str,
        stack: &Stack,
        temporal: &str,
        provider: &RunningFakeProvider,
        worker_env: &[(&str, &str)],
    ) -> Self {
        let universe = Uuid::new_v4();
        let task_queue = format!("faults-{}", &universe.simple().to_string()[..12]);
        let key = mint_key(stack, temporal, &task_queue, &universe.to_string()).await;
        let worker_log = log_path(name, "worker");
        let worker = worker_command(stack, temporal, &task_queue, provider)
            .envs(worker_env.iter().copied())
            .stderr(std::fs::File::create(&worker_log).unwrap())
            .spawn()
            .unwrap();
        let gateway_log = std::fs::File::create(log_path(name, "gateway")).unwrap();
        let (gateway, bind) =
            gateway_process(stack, temporal, &task_queue, gateway_log.into()).await;
        let rpc = rpc_client(&bind, &key);
        Self {
            universe,
            worker,
            worker_log,
            gateway,
            rpc,
        }
    }

    /// `method` answered, tried again while the gateway reports an outage (a call
    /// in flight when a service went down), for up to a minute.
    async fn call(&self, method: &str, body: Value) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            match self.rpc.request(method, params(body.clone())).await {
                Ok(answer) => return answer,
                Err(err) if tokio::time::Instant::now() < deadline => {
                    eprintln!("{method} failed, trying again: {err}");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(err) => panic!("{method}: {err}"),
            }
        }
    }

    /// Starts `session` on the fake provider's model, no tools.
    async fn open(&self, session: &str) {
        let config = json!({"model": model_config()});
        self.call(
            "session/start",
            json!({"sessionId": session, "config": config}),
        )
        .await;
    }

    /// Starts a run of `text` in `session`; returns its id.
    async fn start_run(&self, session: &str, submission: &str, text: &str) -> String {
        let run = self
            .call(
                "run/start",
                json!({"sessionId": session, "submissionId": submission,
                       "input": [{"type": "text", "text": text}]}),
            )
            .await;
        run["runId"].as_str().unwrap().to_owned()
    }

    /// Starts a run of `text` in `session` and returns its status once it finished.
    async fn run(&self, session: &str, submission: &str, text: &str) -> Value {
        let run = self.start_run(session, submission, text).await;
        self.finished(session, &run).await
    }

    /// The status of `run` once it finished, as the gateway tells it.
    async fn finished(&self, session: &str, run: &str) -> Value {
        let done = |e: &Value| e["kind"] == "lightspeed.core.run.finished" && e["runId"] == run;
        let events = read_until(&self.rpc, session, done).await;
        events.last().unwrap()["run"]["status"].clone()
    }

    /// Waits until the worker has logged `needle` (it met the fault).
    async fn wait_worker_logged(&self, needle: &str) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while !std::fs::read_to_string(&self.worker_log)
            .unwrap()
            .contains(needle)
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the worker never logged {needle:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Checks the worker is still the one started (it rode out the fault itself,
    /// nobody restarted it), then stops everything.
    async fn stop(mut self, provider: RunningFakeProvider) {
        assert!(
            self.worker.try_wait().unwrap().is_none(),
            "the worker exited"
        );
        let _ = self.worker.kill().await;
        let _ = self.gateway.kill().await;
        provider.shutdown().await;
    }
}

/// Where a process's stderr goes, named on the test's stderr (shown when it fails).
fn log_path(test: &str, process: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("lightspeed-faults-{test}-{process}.log"));
    eprintln!("{test}: {process} log in {}", path.display());
    path
}

async fn provider(script: Value) -> RunningFakeProvider {
    FakeProvider::start_script(script).await.unwrap()
}

/// Waits until the provider has `count` requests: a generation is in flight.
async fn wait_requests(provider: &RunningFakeProvider, count: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while provider.requests().len() < count {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the provider got {} requests, not {count}",
            provider.requests().len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The universe's store in the Postgres at `url` (blobs over 64 KiB in `object_store`).
async fn pg_store(url: &str, universe: Uuid, object_store: Option<ObjectStore>) -> PgStore {
    let db = PgDatabase::connect(&PgConfig::new(url)).await.unwrap();
    db.store(universe, object_store).await.unwrap()
}

/// `session`'s log is intact, its runs ended as `expected` and its assistant
/// messages hold `answers` (see [`assert_answers`]).
async fn assert_session(store: &PgStore, session: &str, expected: &[RunOutcome], answers: &[&str]) {
    let log = intact_log(store, session).await;
    assert_eq!(outcomes(&log), expected);
    assert_answers(store, &log, answers).await;
}

/// `session`'s log, checked intact (no gap, nothing recorded twice, replays).
async fn intact_log(store: &PgStore, session: &str) -> Vec<LogEntry> {
    let log = store
        .read(&SessionId::new(session).unwrap(), 1, 10_000)
        .await
        .unwrap();
    assert_entries_intact(&log);
    log
}

fn outcomes(log: &[LogEntry]) -> Vec<RunOutcome> {
    events(log)
        .into_iter()
        .filter_map(|event| match event {
            CoreEvent::RunFinished(finished) => Some(finished.outcome),
            _ => None,
        })
        .collect()
}

/// The log holds one assistant message per entry of `expected`, in order, each
/// (stored as the provider's native item) holding that text.
async fn assert_answers(store: &PgStore, log: &[LogEntry], expected: &[&str]) {
    let texts = assistant_texts(store, log).await;
    assert_eq!(texts.len(), expected.len(), "{texts:?}");
    for (text, expected) in texts.iter().zip(expected) {
        assert!(text.contains(expected), "{text:?} lacks {expected:?}");
    }
}

fn model_config() -> Value {
    json!({"providerId": "openai", "apiKind": "openai:responses", "model": "m"})
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_restarted_mid_run_loses_and_duplicates_nothing() {
    let Some(temporal) = temporal_address().await else {
        return;
    };
    let Some(pg) = PrivatePostgres::start().await else {
        return;
    };
    let stack: Stack = vec![("LIGHTSPEED_POSTGRES_URL", pg.url())];
    let write = json!({"name": "write_file",
                       "arguments": {"path": "/work/notes.md", "content": "written across a restart\n"}});
    // Postgres goes down while the first answer is on its way. Should that answer be
    // lost with its connection, the generation is tried again and takes the second
    // turn, the same call; otherwise the second turn is one more round of it.
    let provider = provider(json!({"turns": [
        {"tool_calls": [write], "delay_ms": 2_000},
        {"tool_calls": [write]},
        {"text": "Done after the restart."}
    ]}))
    .await;
    let p = Processes::start("pg", &stack, &temporal, &provider, &[]).await;
    p.call("vfs/workspace/create", json!({"workspaceId": "ws"}))
        .await;
    p.call(
        "vfs/mount/put",
        json!({"sessionId": "s-pg", "mountPath": "/work", "mode": "readWrite",
               "source": {"type": "workspace", "workspaceId": "ws"}}),
    )
    .await;
    let config = json!({"model": model_config(), "tools": {"filesystem": "edit"}});
    p.call(
        "session/start",
        json!({"sessionId": "s-pg", "config": config}),
    )
    .await;
    let run = p.start_run("s-pg", "sub-1", "Write the notes.").await;

    wait_requests(&provider, 1).await;
    pg.stop_immediate().await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    pg.start_again().await;

    assert_eq!(p.finished("s-pg", &run).await, "completed");
    // The stack still serves: a second run after the restart.
    assert_eq!(p.run("s-pg", "sub-2", "And again.").await, "completed");
    let head = p
        .call("vfs/workspace/read", json!({"workspaceId": "ws"}))
        .await;
    assert_eq!(head["fileCount"], 1, "{head:#}");

    let store = pg_store(&pg.url(), p.universe, None).await;
    let completed = [RunOutcome::Completed, RunOutcome::Completed];
    let answers = ["Done after the restart.", "echo: And again."];
    assert_session(&store, "s-pg", &completed, &answers).await;
    p.stop(provider).await;
}

/// What the worker logs when an object-store request failed and will be tried again
/// (in every log format; the tests' only object-store requests are puts).
const PUT_RETRIED: &str = "object store request failed; retrying";

/// An answer over 64 KiB: the runtime stores it in S3.
fn large_answer() -> String {
    format!("{}The end.", "A large answer, kept in S3. ".repeat(3_000))
}

/// What the S3 tests need, or `None` to skip: the local stack's Postgres URL, the
/// test binary's Temporal, a private S3, and the servers' variables for both.
async fn s3_stack() -> Option<(String, String, PrivateS3, Stack)> {
    let pg_url = stack_env()?
        .into_iter()
        .find(|(name, _)| *name == "LIGHTSPEED_POSTGRES_URL")?
        .1;
    let temporal = temporal_address().await?;
    let s3 = PrivateS3::start().await?;
    let mut stack: Stack = vec![("LIGHTSPEED_POSTGRES_URL", pg_url.clone())];
    stack.extend(s3.env());
    Some((pg_url, temporal, s3, stack))
}

/// The universe's store, reading large blobs from `s3`.
async fn pg_store_in(pg_url: &str, universe: Uuid, s3: &PrivateS3) -> PgStore {
    let object_store = ObjectStore::connect(&s3.config()).await.unwrap();
    pg_store(pg_url, universe, Some(object_store)).await
}

#[tokio::test(flavor = "multi_thread")]
async fn s3_down_while_a_large_answer_is_stored_is_ridden_out_by_retries() {
    let Some((pg_url, temporal, mut s3, stack)) = s3_stack().await else {
        return;
    };
    let answer = large_answer();
    let provider = provider(json!({"turns": [{"text": answer, "delay_ms": 1_000}]})).await;
    let p = Processes::start("s3", &stack, &temporal, &provider, &[]).await;
    p.open("s-s3").await;
    let run = p.start_run("s-s3", "sub-1", "Say a lot.").await;

    // Down before the answer is stored; back 2 s after the first put failed:
    // within the default retry budget (8 attempts, at least 8 s of backoff).
    wait_requests(&provider, 1).await;
    s3.stop().await;
    p.wait_worker_logged(PUT_RETRIED).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    s3.start_again().await;

    assert_eq!(p.finished("s-s3", &run).await, "completed");
    // The put was retried in place: the generation was not run again.
    assert_eq!(provider.requests().len(), 1);
    let store = pg_store_in(&pg_url, p.universe, &s3).await;
    // Read back through S3, digest verified.
    assert_session(&store, "s-s3", &[RunOutcome::Completed], &[&answer]).await;
    p.stop(provider).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn s3_down_beyond_the_retry_budget_fails_the_run_with_a_typed_error() {
    let Some((pg_url, temporal, mut s3, stack)) = s3_stack().await else {
        return;
    };
    let answer = large_answer();
    // One large answer per attempt of the generation (6 by default), then one for
    // the run after S3 is back.
    let turns: Vec<Value> = (0..7).map(|_| json!({"text": answer})).collect();
    let provider = provider(json!({ "turns": turns })).await;
    // A small store-level budget, so each generation attempt gives up quickly and
    // the generation's own bound (its attempts) is what ends the run.
    let knobs = [
        ("LIGHTSPEED_OBJECT_STORE_ATTEMPTS_MAX", "2"),
        ("LIGHTSPEED_OBJECT_STORE_BACKOFF_INITIAL_MS", "100"),
        ("LIGHTSPEED_OBJECT_STORE_BACKOFF_MAX_MS", "100"),
    ];
    let p = Processes::start("s3-long", &stack, &temporal, &provider, &knobs).await;
    p.open("s-s3-long").await;
    s3.stop().await;
    assert_eq!(p.run("s-s3-long", "sub-1", "Say a lot.").await, "failed");
    let attempts = provider.requests().len();
    assert_eq!(attempts, 6, "one provider call per generation attempt");
    // Each attempt's put was retried in place first.
    p.wait_worker_logged(PUT_RETRIED).await;

    // Back again, the session takes the next run.
    s3.start_again().await;
    assert_eq!(
        p.run("s-s3-long", "sub-2", "Say a lot again.").await,
        "completed"
    );

    let store = pg_store_in(&pg_url, p.universe, &s3).await;
    let log = intact_log(&store, "s-s3-long").await;
    let outcomes = outcomes(&log);
    let RunOutcome::Failed {
        failure: RunFailure::GenerationFailed { error },
    } = &outcomes[0]
    else {
        panic!("{outcomes:?}");
    };
    assert_eq!(error.code, "store", "{error:?}");
    assert_eq!(outcomes[1], RunOutcome::Completed);
    // Only the second run's answer was recorded.
    assert_answers(&store, &log, &[&answer]).await;
    p.stop(provider).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn temporal_restarted_with_sessions_open_resumes_them() {
    let Some(stack) = stack_env() else { return };
    let Some(mut temporal) = PrivateTemporal::start().await else {
        return;
    };
    let slow = "Finished across the restart.";
    // The slow answer twice: should the in-flight attempt's result not reach the
    // restarted server, the generation is tried again.
    let provider = provider(json!({"turns": [
        {"text": "Idle now.", "match": {"last_user_contains": "first"}},
        {"text": slow, "delay_ms": 6_000, "match": {"last_user_contains": "slow"}},
        {"text": slow, "match": {"last_user_contains": "slow"}},
        {"text": "A new run after the restart.", "match": {"last_user_contains": "second"}}
    ]}))
    .await;
    let address = temporal.address();
    let p = Processes::start("temporal", &stack, &address, &provider, &[]).await;
    for session in ["idle", "busy"] {
        p.open(session).await;
    }
    assert_eq!(p.run("idle", "sub-1", "The first run.").await, "completed");
    let busy = p.start_run("busy", "sub-1", "A slow one.").await;
    wait_requests(&provider, 2).await;

    temporal.stop().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    temporal.start_again().await;

    assert_eq!(p.finished("busy", &busy).await, "completed");
    assert_eq!(p.run("idle", "sub-2", "The second run.").await, "completed");

    let store = pg_store(&stack[0].1, p.universe, None).await;
    assert_session(&store, "busy", &[RunOutcome::Completed], &[slow]).await;
    let completed = [RunOutcome::Completed, RunOutcome::Completed];
    let answers = ["Idle now.", "A new run after the restart."];
    assert_session(&store, "idle", &completed, &answers).await;
    // The worker reconnected by itself: it is the one started before the restart.
    p.stop(provider).await;
}
