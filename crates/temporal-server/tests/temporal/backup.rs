//! Backup and restore with the scripts (docs/operating/backup.md): a session runs on
//! the process stack over a database and a bucket of its own (one input over 64 KiB,
//! so it lives in S3); `local/backup.sh` backs them up, `local/restore.sh` restores
//! them into a fresh database and bucket, and a new gateway and worker on the
//! restored data, with a Temporal of their own, continue the session: the model is
//! sent the earlier conversation, the large input read back from the restored bucket.
//! Needs the local stack's Postgres and S3 and the directory s3s-fs serves
//! (`LIGHTSPEED_S3_DATA_DIR`, default `.local/data/s3`).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use base64::Engine as _;
use jsonrpsee::core::client::ClientT;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use serde_json::{Value, json};
use temporal_server::devserver::{self, DevServer, DevServerConfig};
use test_support::fake_provider::{FakeProvider, FakeProviderConfig, RunningFakeProvider};
use test_support::rpc_client::{bearer_headers, params};
use uuid::Uuid;

use crate::agents::read_until;
use crate::harness::temporal_address;
use crate::postgres::{mint_key, server, stack_env, wait_healthy, worker_process};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The directory s3s-fs serves buckets from, or `None` (skip) outside CI when
/// it is not there.
pub(crate) fn s3_data_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("LIGHTSPEED_S3_DATA_DIR")
        .map_or_else(|| repo_root().join(".local/data/s3"), PathBuf::from);
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true but {} is not the s3s-fs directory (set LIGHTSPEED_S3_DATA_DIR)",
        dir.display()
    );
    eprintln!("SKIPPED: no s3s-fs directory {}", dir.display());
    None
}

/// Two databases and two buckets of this test, removed when it ends (even failing).
struct Scratch {
    server_url: String,
    databases: [String; 2],
    s3_dir: PathBuf,
    buckets: [String; 2],
}

impl Scratch {
    fn database_url(&self, index: usize) -> String {
        let (base, _) = self.server_url.rsplit_once('/').unwrap();
        format!("{base}/{}", self.databases[index])
    }

    fn bucket_dir(&self, index: usize) -> PathBuf {
        self.s3_dir.join(&self.buckets[index])
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        for bucket in &self.buckets {
            let _ = std::fs::remove_dir_all(self.s3_dir.join(bucket));
            // s3s-fs keeps each object's metadata beside the buckets, named by them.
            let prefix = format!(
                ".bucket-{}.",
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bucket)
            );
            for entry in std::fs::read_dir(&self.s3_dir).into_iter().flatten() {
                let entry = entry.unwrap();
                if entry.file_name().to_string_lossy().starts_with(&prefix) {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        let url = self.server_url.clone();
        let statements = self
            .databases
            .iter()
            .map(|database| format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
            .collect();
        // Drop cannot await; a thread of its own runs the statements.
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(execute_all(&url, statements));
        });
        let _ = dropped.join();
    }
}

/// Runs `statements` on the server at `url`: statements of this test's own making
/// over names of letters, digits and `_`.
async fn execute_all(url: &str, statements: Vec<String>) {
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    for statement in statements {
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&pool)
            .await
            .unwrap();
    }
    pool.close().await;
}

/// A gateway and a worker over `stack` on `temporal`, and a client of the gateway.
async fn start_stack(
    stack: &[(&'static str, String)],
    temporal: &str,
    task_queue: &str,
    provider: &RunningFakeProvider,
    key: &str,
) -> (tokio::process::Child, tokio::process::Child, HttpClient) {
    let worker = worker_process(stack, temporal, task_queue, provider);
    let bind = format!("127.0.0.1:{}", devserver::free_port().unwrap());
    let mut gateway = server(&["gateway", "--bind", &bind], stack, temporal, task_queue)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_healthy(&bind, &mut gateway).await;
    let rpc = HttpClientBuilder::default()
        .set_headers(bearer_headers(key))
        .request_timeout(Duration::from_secs(60))
        .build(format!("http://{bind}/rpc"))
        .unwrap();
    (worker, gateway, rpc)
}

/// Starts a run of one text input on session `s-backup` and waits for its end.
async fn run_turn(rpc: &HttpClient, submission: &str, text: &str) {
    let run: Value = rpc
        .request(
            "run/start",
            params(json!({"sessionId": "s-backup", "submissionId": submission,
                          "input": [{"type": "text", "text": text}]})),
        )
        .await
        .unwrap();
    let run_id = run["runId"].as_str().unwrap().to_owned();
    let events = read_until(rpc, "s-backup", |e| {
        e["kind"] == "lightspeed.core.run.finished" && e["runId"] == run_id.as_str()
    })
    .await;
    assert_eq!(events.last().unwrap()["run"]["status"], "completed");
}

/// Runs `local/<name>` with `args`: whether it succeeded, and its output.
fn script(name: &str, args: &[&str]) -> (bool, String) {
    let output = std::process::Command::new("bash")
        .arg(repo_root().join("local").join(name))
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!("local/{name}:\n{text}");
    (output.status.success(), text)
}

fn files_in(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                files_in(&entry.path())
            } else {
                1
            }
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_continues_on_a_stack_restored_from_a_backup() {
    let Some(stack) = stack_env() else { return };
    let Some(s3_dir) = s3_data_dir() else { return };
    let Some(temporal) = temporal_address().await else {
        return;
    };
    let unique = Uuid::new_v4().simple().to_string()[..12].to_owned();
    let scratch = Scratch {
        server_url: stack[0].1.clone(),
        databases: [
            format!("ls_backup_{unique}"),
            format!("ls_restore_{unique}"),
        ],
        s3_dir,
        buckets: [
            format!("ls-backup-{unique}"),
            format!("ls-restore-{unique}"),
        ],
    };
    let creates = scratch
        .databases
        .iter()
        .map(|database| format!("CREATE DATABASE {database}"))
        .collect();
    execute_all(&scratch.server_url, creates).await;
    // A bucket of s3s-fs is a directory under its root.
    std::fs::create_dir(scratch.bucket_dir(0)).unwrap();
    let stack_on = |index: usize| -> Vec<(&'static str, String)> {
        stack
            .iter()
            .map(|(name, value)| match *name {
                "LIGHTSPEED_POSTGRES_URL" => (*name, scratch.database_url(index)),
                "LIGHTSPEED_OBJECT_STORE_BUCKET" => (*name, scratch.buckets[index].clone()),
                _ => (*name, value.clone()),
            })
            .collect()
    };

    let provider = FakeProvider::start(FakeProviderConfig {
        script: Some(
            serde_json::from_value(json!({"turns": [
                {"text": "First answer, kept in the backup."},
                {"text": "Second answer, after the restore."}
            ]}))
            .unwrap(),
        ),
        ..FakeProviderConfig::default()
    })
    .await
    .unwrap();
    let universe = Uuid::new_v4().to_string();
    let source = stack_on(0);
    let task_queue = format!("backup-{unique}");
    let key = mint_key(&source, &temporal, &task_queue, &universe).await;
    let (mut worker, mut gateway, rpc) =
        start_stack(&source, &temporal, &task_queue, &provider, &key).await;
    let config =
        json!({"model": {"providerId": "openai", "apiKind": "openai:responses", "model": "m"}});
    let _: Value = rpc
        .request(
            "session/start",
            params(json!({"sessionId": "s-backup", "config": config})),
        )
        .await
        .unwrap();
    // Over 64 KiB, so the input blob lives in S3.
    let marker = format!("backup-marker-{unique}");
    let large_input = format!("{marker} {}", "lorem ipsum ".repeat(7_000));
    run_turn(&rpc, "sub-1", &large_input).await;
    assert!(files_in(&scratch.bucket_dir(0)) >= 1, "nothing went to S3");

    // Backed up while the stack runs; then the stack is gone.
    let backup_root = tempfile::tempdir().unwrap();
    let backup = backup_root.path().join("backup");
    let backup_dir = backup.to_str().unwrap();
    let (ok, output) = script(
        "backup.sh",
        &[
            "--out",
            backup_dir,
            "--database-url",
            &scratch.database_url(0),
            "--objects-dir",
            scratch.bucket_dir(0).to_str().unwrap(),
        ],
    );
    assert!(ok, "{output}");
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(backup.join("manifest.json")).unwrap()).unwrap();
    assert!(
        manifest["schema_version"].as_u64().unwrap() >= 11,
        "{manifest}"
    );
    assert!(
        manifest["object_count"].as_u64().unwrap() >= 1,
        "{manifest}"
    );
    assert!(
        !manifest.to_string().contains("lightspeed:lightspeed@"),
        "the manifest holds the database password: {manifest}"
    );
    let _ = worker.kill().await;
    let _ = gateway.kill().await;

    let restore_url = scratch.database_url(1);
    let restore_dir = scratch.bucket_dir(1);
    let restore_args = [
        "--from",
        backup_dir,
        "--database-url",
        &restore_url,
        "--objects-dir",
        restore_dir.to_str().unwrap(),
    ];
    let (ok, output) = script("restore.sh", &restore_args);
    assert!(ok, "{output}");
    // Restoring over data is refused without --force.
    let (ok, output) = script("restore.sh", &restore_args);
    assert!(!ok && output.contains("not empty"), "{output}");

    // A new stack on the restored data, with a Temporal of its own (the shared one
    // still has the session's workflow, at a head the restored log does not have).
    let [port, http_port, metrics_port] = devserver::free_ports().unwrap();
    let fresh_temporal = DevServer::start(DevServerConfig {
        binary: devserver::find_binary().unwrap(),
        port,
        http_port,
        metrics_port,
        db_file: None,
        log_file: None,
        ready_wait: Duration::from_secs(120),
    })
    .await
    .unwrap();
    let restored = stack_on(1);
    let (mut worker, mut gateway, rpc) = start_stack(
        &restored,
        fresh_temporal.address(),
        &format!("restored-{unique}"),
        &provider,
        // The key was minted into the source database: it is in the backup.
        &key,
    )
    .await;
    run_turn(&rpc, "sub-2", "What did I send you first?").await;
    let requests = provider.requests();
    let last = &requests.last().unwrap().raw_body;
    assert!(
        last.contains(&marker),
        "the large input is not in the request"
    );
    assert!(
        last.contains("lorem ipsum lorem ipsum"),
        "the large input is cut"
    );
    assert!(
        last.contains("First answer, kept in the backup."),
        "{last:.2000}"
    );
    assert!(last.contains("What did I send you first?"), "{last:.2000}");

    let _ = worker.kill().await;
    let _ = gateway.kill().await;
    provider.shutdown().await;
    drop(fresh_temporal);
    drop(scratch);
}
