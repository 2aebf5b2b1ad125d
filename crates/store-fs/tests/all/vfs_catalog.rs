//! The VFS catalog on disk: the shared conformance suite, records that survive a
//! reopen, and compare-and-set across separate store instances.

use vfs::{Snapshot, VfsCatalog, VfsError, WorkspaceId};

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn catalog_conforms_and_survives_a_reopen() {
    let (dir, store) = store();
    test_support::vfs_conformance::catalog_suite(&store, &store)
        .await
        .unwrap();
    let reopened = FsStore::open(dir.path()).unwrap();
    test_support::vfs_conformance::catalog_suite(&reopened, &reopened)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn records_live_under_vfs_and_decode_strictly() {
    let (_dir, store) = store();
    let empty = Snapshot::new()
        .store(&store, &vfs::Limits::default())
        .await
        .unwrap();
    let id = WorkspaceId::new("ws-1").unwrap();
    store.workspace_create(&id, &empty).await.unwrap();
    let record = store.root().join("vfs/workspaces/ws-1.json");
    let text = fs::read_to_string(&record).unwrap();
    assert_eq!(
        text,
        format!("{{\"id\":\"ws-1\",\"revision\":1,\"snapshot\":\"{empty}\"}}")
    );
    // A fresh instance reads the same head.
    let other = FsStore::open(store.root()).unwrap();
    assert_eq!(
        other.workspace_read(&id).await.unwrap().unwrap().revision,
        1
    );
    fs::write(&record, b"{\"id\":").unwrap();
    match store.workspace_read(&id).await {
        Err(VfsError::Store(StoreError::Corrupt { .. })) => {}
        other => panic!("a damaged record must be Corrupt, got {other:?}"),
    }
}

/// Writers, each with its own store instance (as separate processes would have),
/// race to move one workspace head from the revision they read. Every move that
/// succeeded is one revision; no two writers won the same revision.
#[test]
fn separate_instances_never_both_win_a_revision() {
    const WRITERS: usize = 6;
    const MOVES_PER_WRITER: usize = 10;
    let dir = tempfile::tempdir().unwrap();
    let id = WorkspaceId::new("raced").unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let setup = FsStore::open(dir.path()).unwrap();
    let empty = runtime
        .block_on(Snapshot::new().store(&setup, &vfs::Limits::default()))
        .unwrap();
    runtime
        .block_on(setup.workspace_create(&id, &empty))
        .unwrap();
    let barrier = Arc::new(Barrier::new(WRITERS));
    let threads: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let (root, id, barrier) = (dir.path().to_owned(), id.clone(), Arc::clone(&barrier));
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap();
                let store = FsStore::open(root).unwrap();
                barrier.wait();
                let mut won = Vec::new();
                let mut conflicts = 0;
                while won.len() < MOVES_PER_WRITER {
                    let head = runtime
                        .block_on(store.workspace_read(&id))
                        .unwrap()
                        .unwrap();
                    let mine = BlobRef::of_bytes(format!("{writer}-{}", won.len()).as_bytes());
                    match runtime.block_on(store.workspace_set_head(&id, head.revision, &mine)) {
                        Ok(moved) => won.push(moved.revision),
                        Err(VfsError::Conflict { .. }) => conflicts += 1,
                        Err(other) => panic!("{other}"),
                    }
                }
                (won, conflicts)
            })
        })
        .collect();
    let mut revisions = BTreeSet::new();
    for thread in threads {
        let (won, _conflicts) = thread.join().unwrap();
        for revision in won {
            assert!(revisions.insert(revision), "revision {revision} won twice");
        }
    }
    let total = (WRITERS * MOVES_PER_WRITER) as u64;
    assert_eq!(revisions, (2..=total + 1).collect::<BTreeSet<u64>>());
    let head = runtime
        .block_on(setup.workspace_read(&id))
        .unwrap()
        .unwrap();
    assert_eq!(head.revision, total + 1);
}
