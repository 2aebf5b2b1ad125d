//! API conformance cases, keys and universes: no key or an unknown key gets
//! `unauthorized` (over a WebSocket opened without a key, for any first call but
//! `auth/hello`); universe B's key gets not-found (never data, never a conflict that
//! would reveal existence) for everything universe A owns, and changes none of it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};

use super::client::{Conn, Ctx, Harness, expect_error};
use super::fixtures::{finished_status, session_config, text_input};
use super::{Case, GET_BLOB_ROUTE, case};

pub(super) const CASES: [Case; 2] = [
    case!(
        missing_and_unknown_keys_are_refused,
        ["initialize", "session/list"]
    ),
    case!(
        another_universe_gets_not_found_never_data,
        [
            "initialize",
            "session/start",
            "session/read",
            "session/list",
            "session/update",
            "session/close",
            "session/events/read",
            "run/start",
            "run/cancel",
            "run/steer",
            "blob/put",
            "blob/get",
            "blob/has_many",
            GET_BLOB_ROUTE,
            "vfs/snapshot/commit",
            "vfs/snapshot/read",
            "vfs/workspace/create",
            "vfs/workspace/read",
            "vfs/workspace/update",
            "vfs/workspace/delete",
            "vfs/mount/put",
            "vfs/mount/list",
            "vfs/mount/delete",
            "session/subscribe"
        ]
    ),
];

pub(super) async fn missing_and_unknown_keys_are_refused(h: Harness) -> anyhow::Result<()> {
    let ctx = h.start(json!({"turns": []})).await?;
    for (key, reason) in [
        (None, "missingKey"),
        (Some("lsk_not-a-real-key"), "unknownKey"),
    ] {
        let http = ctx.http(key);
        http.refused("initialize", json!({}), -32000, reason).await;
        let config = session_config("none");
        let start = json!({"sessionId": "s-anon", "config": config});
        let err = http.refusal("session/start", start).await;
        expect_error(&err, -32000, Some(reason));
        match key {
            // A WebSocket with a wrong key is refused before it is upgraded, so no
            // socket is held.
            Some(_) => assert_eq!(ctx.ws_upgrade_refusal(key).await, Some(401), "{key:?}"),
            // Without the header (browsers cannot send one) the socket must
            // authenticate with `auth/hello` first; any other first call is refused,
            // and the socket closed.
            None => {
                let ws = ctx.ws(None).await;
                ws.refused("initialize", json!({}), -32000, "authRequired")
                    .await;
            }
        }
    }
    let list = ctx.a().call("session/list", json!({})).await;
    assert_eq!(list["sessions"], json!([]), "refused calls created nothing");
    Ok(())
}

/// What universe A owns, for B to try.
struct Owned {
    run_id: String,
    blob_ref: String,
    snapshot_ref: String,
    session: Value,
    workspace: Value,
}

async fn set_up_universe_a(a: &Conn) -> Owned {
    let blob_ref = a.put_blob(b"secret\n").await;
    let snapshot_ref = a.commit(&[("secret.txt", "secret\n")]).await;
    let workspace = json!({"workspaceId": "ws-private", "snapshotRef": snapshot_ref});
    let workspace = a.call("vfs/workspace/create", workspace).await;
    let mount = json!({"sessionId": "s-private", "mountPath": "/work", "mode": "readWrite",
                       "source": {"type": "workspace", "workspaceId": "ws-private"}});
    a.call("vfs/mount/put", mount).await;
    let config = session_config("edit");
    a.call(
        "session/start",
        json!({"sessionId": "s-private", "config": config}),
    )
    .await;
    let run_id = a.start_run("s-private", "sub-1", "private work").await;
    a.wait_generating("s-private", &run_id).await;
    let session = a
        .call("session/read", json!({"sessionId": "s-private"}))
        .await;
    Owned {
        run_id,
        blob_ref,
        snapshot_ref,
        session,
        workspace,
    }
}

pub(super) async fn another_universe_gets_not_found_never_data(h: Harness) -> anyhow::Result<()> {
    // A's run is slow, so B's cancel and steer aim at a live run.
    let ctx = h
        .start(json!({"turns": [{"text": "A's answer", "delay_ms": 2_000}]}))
        .await?;
    let (a, b) = (ctx.a(), ctx.b());
    let init_b = b.call("initialize", json!({})).await;
    assert_eq!(init_b["universeId"], ctx.stack().b.universe_id.as_str());
    assert_ne!(ctx.stack().a.universe_id, ctx.stack().b.universe_id);
    let owned = set_up_universe_a(&a).await;

    sessions_are_not_found(&ctx, &b, &owned).await;
    blobs_and_vfs_are_not_found(&ctx, &b, &owned).await;

    // A's run went on untouched by B's cancel and steer.
    let events = a.follow("s-private", &owned.run_id).await;
    assert_eq!(finished_status(&events, &owned.run_id), "completed");
    assert!(
        !events
            .iter()
            .any(|e| e["kind"] == "lightspeed.core.run.steered")
    );
    // Session ids are per universe: B may use A's id for a session of its own.
    let mut config = session_config("none");
    config["model"]["model"] = json!("b-model");
    let theirs = b
        .call(
            "session/start",
            json!({"sessionId": "s-private", "config": config}),
        )
        .await;
    assert_eq!(theirs["config"]["model"]["model"], "b-model");
    let last = events.last().unwrap()["cursor"].as_u64().unwrap();
    let ours = a.read_session_at("s-private", last).await;
    assert_eq!(
        ours["config"], owned.session["config"],
        "A's session is unchanged"
    );
    assert_eq!(ours["status"], "idle");
    let workspace = a
        .call("vfs/workspace/read", json!({"workspaceId": "ws-private"}))
        .await;
    assert_eq!(workspace, owned.workspace, "A's workspace is unchanged");
    let mounts = a
        .call("vfs/mount/list", json!({"sessionId": "s-private"}))
        .await;
    assert_eq!(
        mounts["mounts"].as_array().unwrap().len(),
        1,
        "A's mount is still there"
    );
    Ok(())
}

async fn sessions_are_not_found(ctx: &Ctx, b: &Conn, owned: &Owned) {
    let run = owned.run_id.as_str();
    let revision = owned.session["revision"].clone();
    for (method, args) in [
        ("session/read", json!({"sessionId": "s-private"})),
        ("session/events/read", json!({"sessionId": "s-private"})),
        (
            "session/update",
            json!({"sessionId": "s-private", "expectedRevision": revision, "patch": {}}),
        ),
        (
            "run/start",
            json!({"sessionId": "s-private", "submissionId": "x", "input": text_input("hi")}),
        ),
        (
            "run/cancel",
            json!({"sessionId": "s-private", "runId": run}),
        ),
        (
            "run/steer",
            json!({"sessionId": "s-private", "runId": run, "input": text_input("hi")}),
        ),
        ("session/close", json!({"sessionId": "s-private"})),
    ] {
        b.refused(method, args, -32004, "sessionNotFound").await;
    }
    let list = b.call("session/list", json!({})).await;
    assert_eq!(list["sessions"], json!([]), "B lists none of A's sessions");
    let ws_b = ctx.ws(Some(&ctx.stack().b.api_key)).await;
    ws_b.subscribe_refused(json!({"sessionId": "s-private"}), -32004, "sessionNotFound")
        .await;
}

async fn blobs_and_vfs_are_not_found(ctx: &Ctx, b: &Conn, owned: &Owned) {
    let blob = owned.blob_ref.as_str();
    b.refused("blob/get", json!({"blobRef": blob}), -32004, "blobNotFound")
        .await;
    let has = b.call("blob/has_many", json!({"blobRefs": [blob]})).await;
    assert_eq!(
        (&has["present"], &has["missing"]),
        (&json!([]), &json!([blob]))
    );
    let (status, _) = ctx.get_blob_raw(Some(&ctx.stack().b.api_key), blob).await;
    assert_eq!(status, 404, "GET /blobs of A's blob with B's key");

    let snapshot = owned.snapshot_ref.as_str();
    b.refused(
        "vfs/snapshot/read",
        json!({"snapshotRef": snapshot}),
        -32004,
        "snapshotNotFound",
    )
    .await;
    let ws = json!({"workspaceId": "ws-private"});
    b.refused(
        "vfs/workspace/read",
        ws.clone(),
        -32004,
        "workspaceNotFound",
    )
    .await;
    b.refused("vfs/workspace/delete", ws, -32004, "workspaceNotFound")
        .await;
    // Naming A's snapshot too: not found, whichever of the two the host checks first.
    let update =
        json!({"workspaceId": "ws-private", "expectedRevision": 1, "snapshotRef": snapshot});
    expect_error(
        &b.refusal("vfs/workspace/update", update).await,
        -32004,
        None,
    );
    // With a snapshot of B's own, only the workspace can be missing.
    let own = b.commit(&[]).await;
    let update = json!({"workspaceId": "ws-private", "expectedRevision": 1, "snapshotRef": own});
    b.refused("vfs/workspace/update", update, -32004, "workspaceNotFound")
        .await;
    let mounts = b
        .call("vfs/mount/list", json!({"sessionId": "s-private"}))
        .await;
    assert_eq!(mounts["mounts"], json!([]), "B sees none of A's mounts");
    let mount = json!({"sessionId": "s-private", "mountPath": "/steal", "mode": "readOnly",
                       "source": {"type": "workspace", "workspaceId": "ws-private"}});
    b.refused("vfs/mount/put", mount, -32004, "workspaceNotFound")
        .await;
    let delete = json!({"sessionId": "s-private", "mountPath": "/work"});
    let deleted = b.call("vfs/mount/delete", delete).await;
    assert_eq!(deleted["deleted"], false, "B has no mount there to delete");
    // B cannot even commit a snapshot naming A's blob.
    let commit = json!({"entries": [{"path": "x", "blobRef": blob, "sizeBytes": 7}]});
    b.refused("vfs/snapshot/commit", commit, -32004, "blobNotFound")
        .await;
}
