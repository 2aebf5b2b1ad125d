//! API conformance cases, the VFS methods: snapshots (canonical, paged), workspaces (moved by revision),
//! mounts (validated, listed, removed), and the errors each gives.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};

use super::client::{Conn, Harness};
use super::{Case, case};

pub(super) const CASES: [Case; 3] = [
    case!(
        snapshots_commit_canonically_and_page,
        ["blob/put", "vfs/snapshot/commit", "vfs/snapshot/read"]
    ),
    case!(
        workspaces_move_by_revision,
        [
            "blob/put",
            "vfs/snapshot/commit",
            "vfs/workspace/create",
            "vfs/workspace/read",
            "vfs/workspace/update",
            "vfs/workspace/delete"
        ]
    ),
    case!(
        mounts_are_validated_listed_and_removed,
        [
            "blob/put",
            "vfs/snapshot/commit",
            "vfs/workspace/create",
            "vfs/workspace/delete",
            "vfs/mount/put",
            "vfs/mount/list",
            "vfs/mount/delete"
        ]
    ),
];

fn absent_ref() -> String {
    format!("sha256:{}", "0".repeat(64))
}

fn one_entry(path: &str, blob: &str, size: u64) -> Value {
    json!({"entries": [{"path": path, "blobRef": blob, "sizeBytes": size}]})
}

pub(super) async fn snapshots_commit_canonically_and_page(h: Harness) -> anyhow::Result<()> {
    let ctx = h.start(json!({"turns": []})).await?;
    let a = ctx.a();
    let readme = a.put_blob(b"hello\n").await;
    let main = a.put_blob(b"fn main() {}\n").await;
    let entries = json!([
        {"path": "src/main.rs", "blobRef": main, "sizeBytes": 13, "executable": true},
        {"path": "README.md", "blobRef": readme, "sizeBytes": 6}
    ]);
    let view = a
        .call("vfs/snapshot/commit", json!({"entries": entries}))
        .await;
    assert_eq!(
        (view["fileCount"].as_u64(), view["totalBytes"].as_u64()),
        (Some(2), Some(19))
    );
    // The same tree, listed in another order, is the same snapshot.
    let reversed = json!({"entries": [entries[1], entries[0]]});
    let again = a.call("vfs/snapshot/commit", reversed).await;
    assert_eq!(again["snapshotRef"], view["snapshotRef"]);
    let empty = a.call("vfs/snapshot/commit", json!({"entries": []})).await;
    assert_eq!(empty["fileCount"], 0);

    let snapshot_ref = view["snapshotRef"].as_str().unwrap();
    let first = a
        .call(
            "vfs/snapshot/read",
            json!({"snapshotRef": snapshot_ref, "limit": 1}),
        )
        .await;
    assert_eq!(
        (first["fileCount"].as_u64(), first["totalBytes"].as_u64()),
        (Some(2), Some(19))
    );
    assert_eq!(
        first["entries"][0]["path"], "README.md",
        "in byte order of paths"
    );
    assert_eq!(first["entries"][0]["executable"], false);
    let cursor = first["nextCursor"].as_str().unwrap();
    let second = a
        .call(
            "vfs/snapshot/read",
            json!({"snapshotRef": snapshot_ref, "cursor": cursor}),
        )
        .await;
    assert_eq!(second["entries"], json!([entries[0]]));
    assert!(second.get("nextCursor").is_none(), "{second}");
    let whole = a
        .call("vfs/snapshot/read", json!({"snapshotRef": snapshot_ref}))
        .await;
    assert_eq!(
        whole["entries"],
        json!([first["entries"][0], second["entries"][0]]),
        "pages add up to the whole"
    );

    snapshot_refusals(&a, &readme, &main).await;
    Ok(())
}

async fn snapshot_refusals(a: &Conn, readme: &str, main: &str) {
    let absent = absent_ref();
    let commit = "vfs/snapshot/commit";
    a.refused(commit, one_entry("a", &absent, 1), -32004, "blobNotFound")
        .await;
    for bad in ["../x", "/abs", "a/./b", "a//b", "a\\b", "a\u{0}b", ""] {
        a.refused(commit, one_entry(bad, readme, 6), -32602, "invalidPath")
            .await;
    }
    a.refused(commit, one_entry("a", readme, 7), -32602, "sizeMismatch")
        .await;
    let twice = json!({"entries": [
        {"path": "a", "blobRef": readme, "sizeBytes": 6},
        {"path": "a", "blobRef": main, "sizeBytes": 13}]});
    a.refused(commit, twice, -32602, "invalidSnapshot").await;
    let file_and_dir = json!({"entries": [
        {"path": "a", "blobRef": readme, "sizeBytes": 6},
        {"path": "a/b", "blobRef": main, "sizeBytes": 13}]});
    a.refused(commit, file_and_dir, -32602, "invalidSnapshot")
        .await;
    a.refused(
        "vfs/snapshot/read",
        json!({"snapshotRef": absent}),
        -32004,
        "snapshotNotFound",
    )
    .await;
    a.invalid(
        "vfs/snapshot/read",
        json!({"snapshotRef": "nope"}),
        "snapshotRef",
        Some("invalidBlobRef"),
    )
    .await;
}

pub(super) async fn workspaces_move_by_revision(h: Harness) -> anyhow::Result<()> {
    let ctx = h.start(json!({"turns": []})).await?;
    let a = ctx.a();
    let one = a.commit(&[("a.txt", "one")]).await;
    let two = a.commit(&[("a.txt", "two"), ("b.txt", "b")]).await;
    let create = json!({"workspaceId": "ws-1", "snapshotRef": one});
    let created = a.call("vfs/workspace/create", create.clone()).await;
    assert_eq!(created["revision"], 1);
    assert_eq!(
        (
            created["snapshotRef"].as_str(),
            created["fileCount"].as_u64()
        ),
        (Some(one.as_str()), Some(1))
    );
    // A retried create returns the workspace; a different one conflicts.
    assert_eq!(a.call("vfs/workspace/create", create).await, created);
    let other = json!({"workspaceId": "ws-1", "snapshotRef": two});
    a.refused("vfs/workspace/create", other, -32009, "workspaceExists")
        .await;
    let generated = a.call("vfs/workspace/create", json!({})).await;
    assert_eq!(
        (
            generated["fileCount"].as_u64(),
            generated["revision"].as_u64()
        ),
        (Some(0), Some(1))
    );
    assert_ne!(generated["workspaceId"], "ws-1");

    let update = json!({"workspaceId": "ws-1", "expectedRevision": 1, "snapshotRef": two});
    let moved = a.call("vfs/workspace/update", update.clone()).await;
    assert_eq!(
        (moved["revision"].as_u64(), moved["fileCount"].as_u64()),
        (Some(2), Some(2))
    );
    let data = a
        .refused("vfs/workspace/update", update, -32009, "revisionConflict")
        .await;
    assert_eq!(data["currentRevision"], 2);
    let read = a
        .call("vfs/workspace/read", json!({"workspaceId": "ws-1"}))
        .await;
    assert_eq!(read, moved);

    let stale = json!({"workspaceId": "ws-1", "expectedRevision": 1});
    let data = a
        .refused("vfs/workspace/delete", stale, -32009, "revisionConflict")
        .await;
    assert_eq!(data["currentRevision"], 2);
    let delete = json!({"workspaceId": "ws-1", "expectedRevision": 2});
    let deleted = a.call("vfs/workspace/delete", delete.clone()).await;
    assert_eq!(deleted["workspaceId"], "ws-1");
    let gone = json!({"workspaceId": "ws-1"});
    a.refused(
        "vfs/workspace/read",
        gone.clone(),
        -32004,
        "workspaceNotFound",
    )
    .await;
    a.refused("vfs/workspace/delete", gone, -32004, "workspaceNotFound")
        .await;
    // Deleting without a revision deletes whatever the head is.
    let plain = a
        .call(
            "vfs/workspace/delete",
            json!({"workspaceId": generated["workspaceId"]}),
        )
        .await;
    assert_eq!(plain["workspaceId"], generated["workspaceId"]);

    workspace_refusals(&a, &one).await;
    Ok(())
}

/// Unknown workspaces and snapshots, and ids that are not ids.
async fn workspace_refusals(a: &Conn, one: &str) {
    let missing = json!({"workspaceId": "nope", "expectedRevision": 1, "snapshotRef": one});
    a.refused("vfs/workspace/update", missing, -32004, "workspaceNotFound")
        .await;
    let bad_snapshot = json!({"workspaceId": "ws-2", "snapshotRef": absent_ref()});
    a.refused(
        "vfs/workspace/create",
        bad_snapshot,
        -32004,
        "snapshotNotFound",
    )
    .await;
    a.invalid(
        "vfs/workspace/create",
        json!({"workspaceId": "../x"}),
        "workspaceId",
        Some("invalidId"),
    )
    .await;
}

pub(super) async fn mounts_are_validated_listed_and_removed(h: Harness) -> anyhow::Result<()> {
    let ctx = h.start(json!({"turns": []})).await?;
    let a = ctx.a();
    let snapshot = a.commit(&[("doc.md", "docs")]).await;
    a.call("vfs/workspace/create", json!({"workspaceId": "ws-m"}))
        .await;
    let put = |path: &str, source: &Value, mode: &str| json!({"sessionId": "s-m", "mountPath": path, "source": source, "mode": mode});
    let workspace = json!({"type": "workspace", "workspaceId": "ws-m"});
    let snap = json!({"type": "snapshot", "snapshotRef": snapshot});
    // The session need not exist yet: mounts are set up before it starts.
    let view = a
        .call(
            "vfs/mount/put",
            put("/src/../work/", &workspace, "readWrite"),
        )
        .await;
    assert_eq!(view["mountPath"], "/work", "normalised");
    assert_eq!(view["source"], workspace);
    let docs = a
        .call("vfs/mount/put", put("/docs", &snap, "readOnly"))
        .await;
    assert_eq!(docs["mode"], "readOnly");
    let no_mode = json!({"sessionId": "s-m", "mountPath": "/ref", "source": snap});
    let default = a.call("vfs/mount/put", no_mode).await;
    assert_eq!(default["mode"], "readOnly", "the default mode");
    // Putting at the same path replaces the mount there.
    a.call("vfs/mount/put", put("/ref", &workspace, "readOnly"))
        .await;
    let listed = a.call("vfs/mount/list", json!({"sessionId": "s-m"})).await;
    let mounts = listed["mounts"].as_array().unwrap();
    let paths: Vec<&str> = mounts
        .iter()
        .map(|m| m["mountPath"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["/docs", "/ref", "/work"], "ordered by path");
    assert_eq!(mounts[1]["source"], workspace);
    assert_eq!(mounts[2]["mode"], "readWrite");

    mount_refusals(&a, &workspace, &snap).await;

    let delete = json!({"sessionId": "s-m", "mountPath": "/docs"});
    let first = a.call("vfs/mount/delete", delete.clone()).await;
    let second = a.call("vfs/mount/delete", delete).await;
    assert_eq!(
        (first["deleted"].as_bool(), second["deleted"].as_bool()),
        (Some(true), Some(false))
    );
    let listed = a.call("vfs/mount/list", json!({"sessionId": "s-m"})).await;
    assert_eq!(listed["mounts"].as_array().unwrap().len(), 2);
    let none = a
        .call("vfs/mount/list", json!({"sessionId": "s-other"}))
        .await;
    assert_eq!(none["mounts"], json!([]));
    Ok(())
}

async fn mount_refusals(a: &Conn, workspace: &Value, snap: &Value) {
    let put = |path: &str, source: &Value, mode: &str| json!({"sessionId": "s-m", "mountPath": path, "source": source, "mode": mode});
    a.refused(
        "vfs/mount/put",
        put("/snap", snap, "readWrite"),
        -32602,
        "snapshotMountReadOnly",
    )
    .await;
    let unknown = json!({"type": "workspace", "workspaceId": "ws-unknown"});
    a.refused(
        "vfs/mount/put",
        put("/x", &unknown, "readOnly"),
        -32004,
        "workspaceNotFound",
    )
    .await;
    let absent = json!({"type": "snapshot", "snapshotRef": absent_ref()});
    a.refused(
        "vfs/mount/put",
        put("/y", &absent, "readOnly"),
        -32004,
        "snapshotNotFound",
    )
    .await;
    for bad in ["relative", "/../escape", "/a\u{0}b"] {
        a.refused(
            "vfs/mount/put",
            put(bad, workspace, "readOnly"),
            -32602,
            "invalidPath",
        )
        .await;
    }
    let bad_session = json!({"sessionId": "a/b", "mountPath": "/w", "source": workspace});
    a.invalid("vfs/mount/put", bad_session, "sessionId", Some("invalidId"))
        .await;
    // A deleted workspace cannot be mounted until it exists again.
    a.call("vfs/workspace/create", json!({"workspaceId": "ws-gone"}))
        .await;
    a.call("vfs/workspace/delete", json!({"workspaceId": "ws-gone"}))
        .await;
    let gone = json!({"type": "workspace", "workspaceId": "ws-gone"});
    a.refused(
        "vfs/mount/put",
        put("/gone", &gone, "readOnly"),
        -32004,
        "workspaceNotFound",
    )
    .await;
}
