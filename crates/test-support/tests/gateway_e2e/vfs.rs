//! The VFS methods end to end: snapshots, workspaces with revisions, mounts, the
//! errors they give, and universes kept apart; `sessions` runs sessions whose file
//! tools edit a mounted workspace.

mod sessions;

use base64::Engine as _;
use jsonrpsee::http_client::HttpClient;

use super::errors::assert_code;
use super::*;

async fn put_blob(client: &HttpClient, bytes: &[u8]) -> String {
    let data = base64::engine::general_purpose::STANDARD.encode(bytes);
    let put = call(
        client,
        "blob/put",
        json!({"dataBase64": data}),
        "BlobPutResult",
    )
    .await;
    put["blobRef"].as_str().unwrap().to_owned()
}

/// Uploads `files` and commits them as a snapshot; its ref.
async fn commit(client: &HttpClient, files: &[(&str, &str)]) -> String {
    let mut entries = Vec::new();
    for (path, text) in files {
        let blob_ref = put_blob(client, text.as_bytes()).await;
        entries.push(json!({"path": path, "blobRef": blob_ref, "sizeBytes": text.len()}));
    }
    let view = call(
        client,
        "vfs/snapshot/commit",
        json!({"entries": entries}),
        "VfsSnapshotView",
    )
    .await;
    view["snapshotRef"].as_str().unwrap().to_owned()
}

async fn refused(client: &HttpClient, method: &str, params: Value, code: i32, reason: &str) {
    let err = client
        .request::<Value, _>(method, params_of(params.clone()))
        .await
        .unwrap_err();
    assert_code(&err, code, Some(reason));
}

#[tokio::test(flavor = "multi_thread")]
async fn snapshots_commit_canonically_and_page() {
    let stack = stack(json!({"turns": []})).await;
    let client = stack.http(Some(&stack.key_a));
    let readme = put_blob(&client, b"hello\n").await;
    let main = put_blob(&client, b"fn main() {}\n").await;
    let entries = json!([
        {"path": "src/main.rs", "blobRef": main, "sizeBytes": 13, "executable": true},
        {"path": "README.md", "blobRef": readme, "sizeBytes": 6}
    ]);
    let view = call(
        &client,
        "vfs/snapshot/commit",
        json!({"entries": entries}),
        "VfsSnapshotView",
    )
    .await;
    assert_eq!(
        (view["fileCount"].as_u64(), view["totalBytes"].as_u64()),
        (Some(2), Some(19))
    );
    // The same tree, listed in another order, is the same snapshot.
    let reversed = json!({"entries": [entries[1], entries[0]]});
    let again = call(&client, "vfs/snapshot/commit", reversed, "VfsSnapshotView").await;
    assert_eq!(again["snapshotRef"], view["snapshotRef"]);

    let snapshot_ref = view["snapshotRef"].as_str().unwrap();
    let first = call(
        &client,
        "vfs/snapshot/read",
        json!({"snapshotRef": snapshot_ref, "limit": 1}),
        "VfsSnapshotReadResult",
    )
    .await;
    assert_eq!(first["entries"][0]["path"], "README.md");
    assert_eq!(first["entries"][0]["executable"], false);
    let cursor = first["nextCursor"].as_str().unwrap();
    let second = call(
        &client,
        "vfs/snapshot/read",
        json!({"snapshotRef": snapshot_ref, "cursor": cursor}),
        "VfsSnapshotReadResult",
    )
    .await;
    assert_eq!(second["entries"], json!([entries[0]]));
    assert!(second.get("nextCursor").is_none());

    let entry = |path: &str, blob: &str, size: u64| json!({"entries": [{"path": path, "blobRef": blob, "sizeBytes": size}]});
    let missing = format!("sha256:{}", "0".repeat(64));
    refused(
        &client,
        "vfs/snapshot/commit",
        entry("a", &missing, 1),
        -32004,
        "blobNotFound",
    )
    .await;
    for bad in ["../x", "/abs", "a/./b", "a//b", "a\\b", "a\u{0}b", ""] {
        refused(
            &client,
            "vfs/snapshot/commit",
            entry(bad, &readme, 6),
            -32602,
            "invalidPath",
        )
        .await;
    }
    refused(
        &client,
        "vfs/snapshot/commit",
        entry("a", &readme, 7),
        -32602,
        "sizeMismatch",
    )
    .await;
    let twice = json!({"entries": [
        {"path": "a", "blobRef": readme, "sizeBytes": 6},
        {"path": "a", "blobRef": main, "sizeBytes": 13}]});
    refused(
        &client,
        "vfs/snapshot/commit",
        twice,
        -32602,
        "invalidSnapshot",
    )
    .await;
    let file_and_dir = json!({"entries": [
        {"path": "a", "blobRef": readme, "sizeBytes": 6},
        {"path": "a/b", "blobRef": main, "sizeBytes": 13}]});
    refused(
        &client,
        "vfs/snapshot/commit",
        file_and_dir,
        -32602,
        "invalidSnapshot",
    )
    .await;
    refused(
        &client,
        "vfs/snapshot/read",
        json!({"snapshotRef": missing}),
        -32004,
        "snapshotNotFound",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn workspaces_move_by_revision_and_stay_in_their_universe() {
    let stack = stack(json!({"turns": []})).await;
    let client = stack.http(Some(&stack.key_a));
    let one = commit(&client, &[("a.txt", "one")]).await;
    let two = commit(&client, &[("a.txt", "two"), ("b.txt", "b")]).await;
    let create = json!({"workspaceId": "ws-1", "snapshotRef": one});
    let created = call(
        &client,
        "vfs/workspace/create",
        create.clone(),
        "VfsWorkspaceView",
    )
    .await;
    assert_eq!(created["revision"], 1);
    // A retried create returns the workspace; a different one conflicts.
    let retried = call(&client, "vfs/workspace/create", create, "VfsWorkspaceView").await;
    assert_eq!(retried, created);
    refused(
        &client,
        "vfs/workspace/create",
        json!({"workspaceId": "ws-1", "snapshotRef": two}),
        -32009,
        "workspaceExists",
    )
    .await;
    let generated = call(
        &client,
        "vfs/workspace/create",
        json!({}),
        "VfsWorkspaceView",
    )
    .await;
    assert_eq!(generated["fileCount"], 0);
    assert!(
        generated["workspaceId"]
            .as_str()
            .unwrap()
            .starts_with("ws_")
    );

    let update = json!({"workspaceId": "ws-1", "expectedRevision": 1, "snapshotRef": two});
    let moved = call(
        &client,
        "vfs/workspace/update",
        update.clone(),
        "VfsWorkspaceView",
    )
    .await;
    assert_eq!(
        (moved["revision"].as_u64(), moved["fileCount"].as_u64()),
        (Some(2), Some(2))
    );
    let err = client
        .request::<Value, _>("vfs/workspace/update", params_of(update))
        .await
        .unwrap_err();
    assert_code(&err, -32009, Some("revisionConflict"));
    let jsonrpsee::core::ClientError::Call(object) = err else {
        unreachable!()
    };
    let data: Value = serde_json::from_str(object.data().unwrap().get()).unwrap();
    assert_eq!(data["currentRevision"], 2);
    let read = call(
        &client,
        "vfs/workspace/read",
        json!({"workspaceId": "ws-1"}),
        "VfsWorkspaceView",
    )
    .await;
    assert_eq!(read, moved);

    // Another universe sees none of it.
    let other = stack.http(Some(&stack.key_b));
    refused(
        &other,
        "vfs/workspace/read",
        json!({"workspaceId": "ws-1"}),
        -32004,
        "workspaceNotFound",
    )
    .await;
    refused(
        &other,
        "vfs/snapshot/read",
        json!({"snapshotRef": two}),
        -32004,
        "snapshotNotFound",
    )
    .await;

    refused(
        &client,
        "vfs/workspace/delete",
        json!({"workspaceId": "ws-1", "expectedRevision": 1}),
        -32009,
        "revisionConflict",
    )
    .await;
    let deleted = call(
        &client,
        "vfs/workspace/delete",
        json!({"workspaceId": "ws-1", "expectedRevision": 2}),
        "VfsWorkspaceDeleteResult",
    )
    .await;
    assert_eq!(deleted["workspaceId"], "ws-1");
    refused(
        &client,
        "vfs/workspace/read",
        json!({"workspaceId": "ws-1"}),
        -32004,
        "workspaceNotFound",
    )
    .await;
    refused(
        &client,
        "vfs/workspace/create",
        json!({"workspaceId": "../x"}),
        -32602,
        "invalidId",
    )
    .await;
    refused(
        &client,
        "vfs/workspace/update",
        json!({"workspaceId": "nope", "expectedRevision": 1, "snapshotRef": one}),
        -32004,
        "workspaceNotFound",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mounts_are_validated_listed_and_removed() {
    let stack = stack(json!({"turns": []})).await;
    let client = stack.http(Some(&stack.key_a));
    let snapshot = commit(&client, &[("doc.md", "docs")]).await;
    call(
        &client,
        "vfs/workspace/create",
        json!({"workspaceId": "ws-m"}),
        "VfsWorkspaceView",
    )
    .await;
    let put = |path: &str, source: Value, mode: &str| json!({"sessionId": "s-m", "mountPath": path, "source": source, "mode": mode});
    let workspace = json!({"type": "workspace", "workspaceId": "ws-m"});
    let snap = json!({"type": "snapshot", "snapshotRef": snapshot});
    let view = call(
        &client,
        "vfs/mount/put",
        put("/src/../work/", workspace.clone(), "readWrite"),
        "VfsMountView",
    )
    .await;
    assert_eq!(view["mountPath"], "/work", "normalised");
    call(
        &client,
        "vfs/mount/put",
        put("/docs", snap.clone(), "readOnly"),
        "VfsMountView",
    )
    .await;
    let listed = call(
        &client,
        "vfs/mount/list",
        json!({"sessionId": "s-m"}),
        "VfsMountListResult",
    )
    .await;
    let paths: Vec<&str> = listed["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["mountPath"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["/docs", "/work"]);
    assert_eq!(listed["mounts"][1]["mode"], "readWrite");

    refused(
        &client,
        "vfs/mount/put",
        put("/snap", snap, "readWrite"),
        -32602,
        "snapshotMountReadOnly",
    )
    .await;
    let unknown = json!({"type": "workspace", "workspaceId": "ws-unknown"});
    refused(
        &client,
        "vfs/mount/put",
        put("/x", unknown, "readOnly"),
        -32004,
        "workspaceNotFound",
    )
    .await;
    for bad in ["relative", "/../escape", "/a\u{0}b"] {
        refused(
            &client,
            "vfs/mount/put",
            put(bad, workspace.clone(), "readOnly"),
            -32602,
            "invalidPath",
        )
        .await;
    }
    let bad_session = json!({"sessionId": "a/b", "mountPath": "/w", "source": workspace});
    refused(&client, "vfs/mount/put", bad_session, -32602, "invalidId").await;

    let other = stack.http(Some(&stack.key_b));
    let theirs = call(
        &other,
        "vfs/mount/list",
        json!({"sessionId": "s-m"}),
        "VfsMountListResult",
    )
    .await;
    assert_eq!(theirs["mounts"], json!([]), "mounts belong to a universe");

    let delete = json!({"sessionId": "s-m", "mountPath": "/docs"});
    let first = call(
        &client,
        "vfs/mount/delete",
        delete.clone(),
        "VfsMountDeleteResult",
    )
    .await;
    let second = call(&client, "vfs/mount/delete", delete, "VfsMountDeleteResult").await;
    assert_eq!(
        (first["deleted"].as_bool(), second["deleted"].as_bool()),
        (Some(true), Some(false))
    );
}
