//! `lightspeed vfs ...` and `chat --mount` through the built binary.

use std::path::Path;

use api::types::vfs::{VfsFileEntry, VfsSnapshotCommitParams};
use serde_json::{Value, json};

use super::stack::stack;

fn write(path: &Path, content: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

/// A directory with nested files, an executable, ignored files, `.git` and a link.
fn source_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(&root.join("a.txt"), "alpha\n");
    write(&root.join("sub/b.txt"), "beta\n");
    write(&root.join("run.sh"), "#!/bin/sh\necho hi\n");
    write(&root.join(".gitignore"), "*.log\n");
    write(&root.join("debug.log"), "ignored\n");
    write(&root.join(".git/config"), "[core]\n");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let script = root.join("run.sh");
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::os::unix::fs::symlink(root.join("a.txt"), root.join("link.txt")).unwrap();
    }
    dir
}

fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o111 != 0
}

#[tokio::test(flavor = "multi_thread")]
async fn snapshot_and_materialize_round_trip() {
    let stack = stack(json!({"turns": []})).await;
    let source = source_dir();
    let run = stack
        .lightspeed(&["vfs", "snapshot", path_str(source.path())])
        .await;
    assert_eq!(run.code, Some(0), "{run:?}");
    let snapshot_ref = run.stdout.trim().to_owned();
    assert!(snapshot_ref.starts_with("sha256:"), "{run:?}");
    #[cfg(unix)]
    assert!(run.stderr.contains("link.txt: a symlink"), "{run:?}");

    // Again: same tree, same ref, nothing to upload.
    let again = stack
        .lightspeed(&["vfs", "snapshot", "--json", path_str(source.path())])
        .await;
    let summary: Value = serde_json::from_str(&again.stdout).unwrap();
    assert_eq!(summary["snapshotRef"], snapshot_ref.as_str());
    assert_eq!(
        summary["fileCount"], 4,
        "a.txt, sub/b.txt, run.sh, .gitignore: {summary}"
    );
    assert_eq!(summary["blobsUploaded"], 0);

    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("copy");
    let run = stack
        .lightspeed(&["vfs", "materialize", &snapshot_ref, path_str(&dest)])
        .await;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.contains("4 downloaded"), "{run:?}");
    assert_eq!(
        std::fs::read_to_string(dest.join("sub/b.txt")).unwrap(),
        "beta\n"
    );
    assert!(!dest.join("debug.log").exists() && !dest.join(".git").exists());
    #[cfg(unix)]
    {
        assert!(!is_executable(&dest.join("run.sh")), "no modes by default");
        assert!(!dest.join("link.txt").exists());
        let kept = out.path().join("kept");
        let run = stack
            .lightspeed(&[
                "vfs",
                "materialize",
                "--keep-modes",
                &snapshot_ref,
                path_str(&kept),
            ])
            .await;
        assert_eq!(run.code, Some(0), "{run:?}");
        assert!(
            is_executable(&kept.join("run.sh")),
            "--keep-modes applies it"
        );
        assert!(!is_executable(&kept.join("a.txt")));
    }

    // Only what differs is downloaded.
    std::fs::write(dest.join("a.txt"), "changed").unwrap();
    let run = stack
        .lightspeed(&[
            "vfs",
            "materialize",
            "--json",
            &snapshot_ref,
            path_str(&dest),
        ])
        .await;
    let summary: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        (
            summary["downloaded"].as_u64(),
            summary["unchanged"].as_u64()
        ),
        (Some(1), Some(3))
    );
    assert_eq!(
        std::fs::read_to_string(dest.join("a.txt")).unwrap(),
        "alpha\n"
    );

    // A symlink planted in the destination is never written through.
    #[cfg(unix)]
    {
        let outside = out.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::fs::remove_dir_all(dest.join("sub")).unwrap();
        std::os::unix::fs::symlink(&outside, dest.join("sub")).unwrap();
        let run = stack
            .lightspeed(&["vfs", "materialize", &snapshot_ref, path_str(&dest)])
            .await;
        assert_eq!(run.code, Some(2), "{run:?}");
        assert!(run.stderr.contains("symlink"), "{run:?}");
        assert!(!outside.join("b.txt").exists(), "nothing escaped");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn workspaces_and_mounts() {
    let stack = stack(json!({"turns": []})).await;
    let source = source_dir();
    let first = stack
        .lightspeed(&["vfs", "snapshot", path_str(source.path())])
        .await
        .stdout
        .trim()
        .to_owned();
    write(&source.path().join("new.txt"), "new\n");
    let second = stack
        .lightspeed(&["vfs", "snapshot", path_str(source.path())])
        .await
        .stdout
        .trim()
        .to_owned();
    assert_ne!(first, second);

    let created = stack
        .lightspeed(&["vfs", "workspace", "create", &first, "--id", "ws-test"])
        .await;
    assert_eq!(created.code, Some(0), "{created:?}");
    assert!(created.stdout.contains("workspace  ws-test"), "{created:?}");
    assert!(created.stdout.contains("revision   1"), "{created:?}");
    let updated = stack
        .lightspeed(&[
            "vfs",
            "workspace",
            "update",
            "--expected-revision",
            "1",
            "ws-test",
            &second,
        ])
        .await;
    assert!(updated.stdout.contains("revision   2"), "{updated:?}");
    let stale = stack
        .lightspeed(&[
            "vfs",
            "workspace",
            "update",
            "--expected-revision",
            "1",
            "ws-test",
            &first,
        ])
        .await;
    assert_eq!(stale.code, Some(2), "{stale:?}");
    assert!(stale.stderr.contains("revisionConflict"), "{stale:?}");
    // Without --expected-revision: at the current one.
    let updated = stack
        .lightspeed(&["vfs", "workspace", "update", "ws-test", &first])
        .await;
    assert!(updated.stdout.contains("revision   3"), "{updated:?}");
    let read = stack
        .lightspeed(&["vfs", "--json", "workspace", "read", "ws-test"])
        .await;
    let view: Value = serde_json::from_str(&read.stdout).unwrap();
    assert_eq!(view["snapshotRef"], first.as_str());

    let put = stack
        .lightspeed(&[
            "vfs",
            "mount",
            "put",
            "--session",
            "s-1",
            "--path",
            "/workspace",
            "--workspace",
            "ws-test",
        ])
        .await;
    assert_eq!(put.code, Some(0), "{put:?}");
    assert_eq!(put.stdout, "/workspace  read-write  workspace ws-test\n");
    stack
        .lightspeed(&[
            "vfs",
            "mount",
            "put",
            "--session",
            "s-1",
            "--path",
            "/ref",
            "--snapshot",
            &second,
        ])
        .await;
    let list = stack
        .lightspeed(&["vfs", "mount", "list", "--session", "s-1"])
        .await;
    assert_eq!(
        list.stdout,
        format!("/ref  read-only  snapshot {second}\n/workspace  read-write  workspace ws-test\n")
    );
    let deleted = stack
        .lightspeed(&[
            "vfs",
            "mount",
            "delete",
            "--session",
            "s-1",
            "--path",
            "/ref",
        ])
        .await;
    assert_eq!(deleted.stdout, "unmounted /ref\n");
    let deleted = stack
        .lightspeed(&["vfs", "workspace", "delete", "ws-test"])
        .await;
    assert_eq!(deleted.stdout, "deleted workspace ws-test\n");
    let missing = stack
        .lightspeed(&["vfs", "workspace", "read", "ws-test"])
        .await;
    assert_eq!(missing.code, Some(2), "{missing:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn chat_with_a_mounted_directory() {
    let stack = stack(json!({"turns": [
        {"tool_calls": [{"name": "read_file", "arguments": {"path": "/workspace/sub/b.txt"}}]},
        {"tool_calls": [{"name": "write_file", "arguments": {"path": "/workspace/answer.txt", "content": "42\n"}}]},
        {"text": "Read and wrote."}
    ]}))
    .await;
    let source = source_dir();
    let run = stack
        .lightspeed(&[
            "chat",
            "--new",
            "--json",
            "--mount",
            path_str(source.path()),
            "read b",
        ])
        .await;
    assert_eq!(run.code, Some(0), "{run:?}");
    let report: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(report["text"], "Read and wrote.");
    let calls = report["toolCalls"].as_array().unwrap();
    assert_eq!(calls[0]["result"]["status"], "ok", "{report:#}");
    assert!(
        calls[0]["result"]["output"]
            .as_str()
            .unwrap()
            .contains("beta"),
        "{report:#}"
    );
    assert_eq!(calls[1]["result"]["status"], "ok", "{report:#}");

    let session_id = report["sessionId"].as_str().unwrap();
    let list = stack
        .lightspeed(&["vfs", "--json", "mount", "list", "--session", session_id])
        .await;
    let mounts: Value = serde_json::from_str(&list.stdout).unwrap();
    let mount = &mounts["mounts"][0];
    assert_eq!(
        (mount["mountPath"].as_str(), mount["mode"].as_str()),
        (Some("/workspace"), Some("readWrite"))
    );
    // The write went to the workspace, not to the local directory.
    let workspace_id = mount["source"]["workspaceId"].as_str().unwrap();
    let read = stack
        .lightspeed(&["vfs", "--json", "workspace", "read", workspace_id])
        .await;
    let workspace: Value = serde_json::from_str(&read.stdout).unwrap();
    assert_eq!(workspace["revision"], 2, "{workspace}");
    assert!(!source.path().join("answer.txt").exists());
    let out = tempfile::tempdir().unwrap();
    let snapshot_ref = workspace["snapshotRef"].as_str().unwrap();
    stack
        .lightspeed(&["vfs", "materialize", snapshot_ref, path_str(out.path())])
        .await;
    assert_eq!(
        std::fs::read_to_string(out.path().join("answer.txt")).unwrap(),
        "42\n"
    );

    let text = stack
        .lightspeed(&["chat", "--new", "--mount", path_str(source.path()), "again"])
        .await;
    assert!(
        text.stderr.contains("mounted ") && text.stderr.contains(" at /workspace read-write"),
        "{text:?}"
    );
}

/// Regression: the agent (steered by injected text, say) writes `.git/config` with a
/// `core.fsmonitor` command into its workspace; materializing that workspace used to
/// plant it in the user's checkout, to run at the next `git status`. Now the whole
/// snapshot is refused and nothing is written. Windows-unsafe names likewise.
#[tokio::test(flavor = "multi_thread")]
async fn materialize_refuses_vcs_metadata_and_windows_names() {
    let config = "[core]\n\tfsmonitor = touch /tmp/pwned\n";
    let stack = stack(json!({"turns": [
        {"tool_calls": [{"name": "write_file", "arguments": {"path": "/workspace/.git/config", "content": config}}]},
        {"text": "Configured."},
    ]}))
    .await;
    let source = source_dir();
    write(&source.path().join(".env"), "OPENAI_API_KEY=sk-secret\n");
    let run = stack
        .lightspeed(&[
            "chat",
            "--new",
            "--json",
            "--mount",
            path_str(source.path()),
            "go",
        ])
        .await;
    assert_eq!(run.code, Some(0), "{run:?}");
    // `--mount` leaves secrets behind too, and says so.
    assert!(run.stderr.contains(".env: an environment file"), "{run:?}");
    let report: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    let session_id = report["sessionId"].as_str().unwrap();
    let snapshot_ref = mounted_snapshot(&stack, session_id).await;

    let out = tempfile::tempdir().unwrap();
    let run = stack
        .lightspeed(&["vfs", "materialize", &snapshot_ref, path_str(out.path())])
        .await;
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains(".git/config"), "{run:?}");
    assert!(run.stderr.contains("version-control metadata"), "{run:?}");
    assert!(!out.path().join(".git").exists(), "nothing of .git written");
    assert!(!out.path().join("a.txt").exists(), "nothing written at all");

    for (name, why) in [
        ("C:evil", "Windows does not allow"),
        ("notes.txt:stream", "Windows does not allow"),
        ("sub/CON.txt", "device name"),
        ("dots...", "dot or space"),
        ("sub/.HG/hgrc", "version-control metadata"),
    ] {
        let snapshot_ref = snapshot_with(&stack, name).await;
        let run = stack
            .lightspeed(&["vfs", "materialize", &snapshot_ref, path_str(out.path())])
            .await;
        assert_eq!(run.code, Some(2), "{name}: {run:?}");
        assert!(run.stderr.contains(why), "{name}: {run:?}");
    }
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);
}

/// The snapshot of the workspace mounted at `/workspace` in `session_id`.
async fn mounted_snapshot(stack: &super::stack::Stack, session_id: &str) -> String {
    let list = stack
        .lightspeed(&["vfs", "--json", "mount", "list", "--session", session_id])
        .await;
    let mounts: Value = serde_json::from_str(&list.stdout).unwrap();
    let workspace_id = mounts["mounts"][0]["source"]["workspaceId"]
        .as_str()
        .unwrap()
        .to_owned();
    let read = stack
        .lightspeed(&["vfs", "--json", "workspace", "read", &workspace_id])
        .await;
    let workspace: Value = serde_json::from_str(&read.stdout).unwrap();
    workspace["snapshotRef"].as_str().unwrap().to_owned()
}

/// A snapshot holding one file at `path`, committed the way any client can.
async fn snapshot_with(stack: &super::stack::Stack, path: &str) -> String {
    let client = stack.client();
    client.blob_upload(EMPTY_BLOB, Vec::new()).await.unwrap();
    let entries = vec![VfsFileEntry {
        path: path.to_owned(),
        blob_ref: EMPTY_BLOB.to_owned(),
        size_bytes: 0,
        executable: false,
    }];
    let view = client
        .vfs_snapshot_commit(&VfsSnapshotCommitParams { entries })
        .await
        .unwrap();
    view.snapshot_ref
}

const EMPTY_BLOB: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Regression: `.env` files, private keys and credential files were uploaded (and
/// from there reachable by the model). They are skipped and reported unless
/// `--include-secrets`.
#[tokio::test(flavor = "multi_thread")]
async fn snapshot_skips_secrets_unless_asked() {
    let stack = stack(json!({"turns": []})).await;
    let source = tempfile::tempdir().unwrap();
    let root = source.path();
    write(&root.join("main.rs"), "fn main() {}\n");
    write(&root.join(".env.example"), "TOKEN=\n");
    let secrets = [
        ".env",
        "app/.env.local",
        "id_ed25519",
        "tls/server.pem",
        "tls/server.key",
        ".npmrc",
        ".netrc",
        "conf/credentials.json",
        ".ssh/config",
    ];
    for secret in secrets {
        write(&root.join(secret), "secret\n");
    }
    let run = stack
        .lightspeed(&["vfs", "snapshot", "--json", path_str(root)])
        .await;
    assert_eq!(run.code, Some(0), "{run:?}");
    let summary: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        summary["fileCount"], 2,
        "main.rs and .env.example: {summary}"
    );
    for secret in secrets {
        assert!(
            run.stderr.contains(&format!("{secret}: ")),
            "{secret} reported: {run:?}"
        );
    }
    assert!(run.stderr.contains("--include-secrets"), "{run:?}");

    let run = stack
        .lightspeed(&[
            "vfs",
            "snapshot",
            "--json",
            "--include-secrets",
            path_str(root),
        ])
        .await;
    let summary: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(summary["fileCount"], 2 + secrets.len(), "{summary}");
}
