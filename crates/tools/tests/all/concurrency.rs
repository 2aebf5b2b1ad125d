//! Concurrent writers on one workspace. A catalog that lets a competing write win
//! just before each of ours makes the race deterministic.

use std::sync::Mutex;

use engine::SessionId;
use vfs::{VfsError, Workspace};

use super::*;

/// A catalog in which another writer commits `rival` right before each of our
/// head moves, `races` times.
struct Racing {
    inner: MemoryCatalog,
    rival: Mutex<Option<BlobRef>>,
    races: Mutex<u32>,
}

impl VfsCatalog for Racing {
    async fn workspace_create(
        &self,
        id: &WorkspaceId,
        snapshot: &BlobRef,
    ) -> Result<Workspace, VfsError> {
        self.inner.workspace_create(id, snapshot).await
    }

    async fn workspace_read(&self, id: &WorkspaceId) -> Result<Option<Workspace>, VfsError> {
        self.inner.workspace_read(id).await
    }

    async fn workspace_set_head(
        &self,
        id: &WorkspaceId,
        expected_revision: u64,
        snapshot: &BlobRef,
    ) -> Result<Workspace, VfsError> {
        let rival = self.rival.lock().unwrap().clone();
        let race = {
            let mut races = self.races.lock().unwrap();
            let race = *races > 0;
            *races = races.saturating_sub(1);
            race
        };
        if let (true, Some(rival)) = (race, rival) {
            self.inner
                .workspace_set_head(id, expected_revision, &rival)
                .await?;
        }
        self.inner
            .workspace_set_head(id, expected_revision, snapshot)
            .await
    }

    async fn workspace_delete(
        &self,
        id: &WorkspaceId,
        expected: Option<u64>,
    ) -> Result<(), VfsError> {
        self.inner.workspace_delete(id, expected).await
    }

    async fn mount_put(
        &self,
        session: &SessionId,
        mount: &Mount,
        max: usize,
    ) -> Result<(), VfsError> {
        self.inner.mount_put(session, mount, max).await
    }

    async fn mount_delete(
        &self,
        session: &SessionId,
        path: &SessionPath,
    ) -> Result<bool, VfsError> {
        self.inner.mount_delete(session, path).await
    }

    async fn mount_list(&self, session: &SessionId) -> Result<Vec<Mount>, VfsError> {
        self.inner.mount_list(session).await
    }
}

/// The fixture's workspace plus `rival.txt`, as the rival writer commits it.
async fn racing(fixture: &Fixture, races: u32) -> Racing {
    let mut with_rival: Vec<(&str, &[u8])> = WORK.to_vec();
    with_rival.push(("rival.txt", b"the other writer\n"));
    let rival = snapshot_of(&fixture.blobs, &with_rival).await;
    let inner = MemoryCatalog::new();
    let head = fixture
        .catalog
        .workspace_read(&ws())
        .await
        .unwrap()
        .unwrap();
    inner.workspace_create(&ws(), &head.snapshot).await.unwrap();
    Racing {
        inner,
        rival: Mutex::new(Some(rival)),
        races: Mutex::new(races),
    }
}

async fn call_racing(
    fixture: &Fixture,
    catalog: &Racing,
    tool: &str,
    args: Value,
) -> (ToolStatus, String) {
    let toolbox = Toolbox {
        mounts: &fixture.mounts,
        catalog,
        blobs: &fixture.blobs,
        mode: Mode::Edit,
        limits: &fixture.limits,
    };
    let outcome = toolbox
        .invoke(tool, &serde_json::to_vec(&args).unwrap())
        .await
        .unwrap();
    (outcome.status, String::from_utf8(outcome.output).unwrap())
}

async fn files_of(fixture: &Fixture, catalog: &Racing) -> (Vec<String>, u64) {
    let head = catalog.workspace_read(&ws()).await.unwrap().unwrap();
    let tree = Snapshot::load(&fixture.blobs, &head.snapshot)
        .await
        .unwrap();
    (
        tree.files().map(|(p, _)| p.to_string()).collect(),
        head.revision,
    )
}

#[tokio::test]
async fn a_losing_write_re_reads_and_loses_nothing() {
    let fixture = fixture().await;
    let catalog = racing(&fixture, 1).await;
    let (status, output) = call_racing(
        &fixture,
        &catalog,
        "write_file",
        json!({"path": "mine.txt", "content": "mine"}),
    )
    .await;
    assert_eq!(status, ToolStatus::Ok, "{output}");
    let (files, revision) = files_of(&fixture, &catalog).await;
    assert!(
        files.contains(&"mine.txt".to_owned()) && files.contains(&"rival.txt".to_owned()),
        "{files:?}"
    );
    assert_eq!(revision, 3, "the rival's commit, then ours");

    // An edit retried after losing is re-checked against the new head.
    let catalog = racing(&fixture, 1).await;
    let patch = "*** Begin Patch\n*** Update File: notes.txt\n@@\n-alpha\n+ALPHA\n*** End Patch";
    let (status, output) =
        call_racing(&fixture, &catalog, "apply_patch", json!({"input": patch})).await;
    assert_eq!(status, ToolStatus::Ok, "{output}");
    let (files, _) = files_of(&fixture, &catalog).await;
    assert!(files.contains(&"rival.txt".to_owned()), "{files:?}");
}

#[tokio::test]
async fn a_write_that_keeps_losing_reports_the_conflict() {
    let fixture = fixture().await;
    let catalog = racing(&fixture, u32::MAX).await;
    let (status, output) = call_racing(
        &fixture,
        &catalog,
        "edit_file",
        json!({"path": "notes.txt", "old_string": "alpha", "new_string": "x"}),
    )
    .await;
    assert_eq!(status, ToolStatus::Error, "{output}");
    assert!(
        output.contains("kept changing under this write (3 attempts)"),
        "{output}"
    );
    let (files, revision) = files_of(&fixture, &catalog).await;
    assert!(files.contains(&"rival.txt".to_owned()));
    assert_eq!(revision, 4, "three rival commits, none of ours");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_tool_writes_all_land() {
    let fixture = std::sync::Arc::new(fixture().await);
    let writers: Vec<_> = (0..8)
        .map(|n| {
            let fixture = fixture.clone();
            tokio::spawn(async move {
                let mut toolbox_limits = fixture.limits;
                toolbox_limits.write_attempts_max = 100;
                let toolbox = Toolbox {
                    mounts: &fixture.mounts,
                    catalog: &fixture.catalog,
                    blobs: &fixture.blobs,
                    mode: Mode::Edit,
                    limits: &toolbox_limits,
                };
                let args = json!({"path": format!("w{n}.txt"), "content": n.to_string()});
                let outcome = toolbox
                    .invoke("write_file", &serde_json::to_vec(&args).unwrap())
                    .await
                    .unwrap();
                assert_eq!(outcome.status, ToolStatus::Ok);
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    let (tree, revision) = fixture.tree().await;
    assert_eq!(revision, 9);
    for n in 0..8 {
        assert_eq!(tree[&format!("w{n}.txt")], n.to_string());
    }
}
