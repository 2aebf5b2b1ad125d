//! The VFS catalog in Postgres: the shared conformance suite, plus what only a
//! database can get wrong (writers on separate pools, the mount bound under
//! concurrent puts, universes, rows written by hand).

use std::collections::BTreeSet;

use engine::store::StoreError;
use engine::{BlobRef, SessionId};
use futures::future::join_all;
use store_pg::{PgDatabase, PgStore};
use vfs::{Mount, MountMode, MountSource, SessionPath, VfsCatalog, VfsError, WorkspaceId};

use crate::support::{Services, fresh_session};

#[tokio::test(flavor = "multi_thread")]
async fn catalog_suite_passes() {
    let Some(services) = Services::from_env("catalog_suite_passes") else {
        return;
    };
    let (_db, store) = services.store().await;
    test_support::vfs_conformance::catalog_suite(&store, &store)
        .await
        .unwrap();
    // Again in the same universe: the suite uses fresh ids.
    test_support::vfs_conformance::catalog_suite(&store, &store)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_writers_on_one_head_exactly_one_wins() {
    const ROUNDS: u64 = 12;
    let Some(services) = Services::from_env("two_writers_on_one_head_exactly_one_wins") else {
        return;
    };
    // Each writer has its own pool, as two hosts would.
    let (_db_a, store_a, _db_b, store_b) = two_pools(&services).await;
    let id = fresh_workspace("cas");
    store_a
        .workspace_create(&id, &snapshot("start"))
        .await
        .unwrap();
    for round in 0..ROUNDS {
        let revision = round + 1;
        let wants = [
            snapshot(&format!("{round}-a")),
            snapshot(&format!("{round}-b")),
        ];
        let writers = [(&store_a, &wants[0]), (&store_b, &wants[1])].map(|(store, want)| {
            let (store, id, want) = (store.clone(), id.clone(), want.clone());
            tokio::spawn(async move { store.workspace_set_head(&id, revision, &want).await })
        });
        let [a, b] = writers;
        let outcomes = [a.await.unwrap(), b.await.unwrap()];
        let winner = match &outcomes {
            [Ok(_), Err(VfsError::Conflict { .. })] => 0,
            [Err(VfsError::Conflict { .. }), Ok(_)] => 1,
            other => panic!("round {round}: exactly one writer must win: {other:?}"),
        };
        for (writer, outcome) in outcomes.into_iter().enumerate() {
            match outcome {
                Ok(moved) => {
                    assert_eq!(
                        (moved.revision, &moved.snapshot),
                        (revision + 1, &wants[writer])
                    );
                }
                // The loser learns the revision that beat it.
                Err(VfsError::Conflict {
                    workspace,
                    expected,
                    actual,
                }) => assert_eq!(
                    (workspace, expected, actual),
                    (id.clone(), revision, revision + 1)
                ),
                Err(other) => panic!("round {round}: {other}"),
            }
        }
        let head = store_b.workspace_read(&id).await.unwrap().unwrap();
        assert_eq!(
            (head.revision, head.snapshot),
            (revision + 1, wants[winner].clone())
        );
    }
}

/// Writers on separate pools move one head from the revision each read, until each
/// has won some moves: no revision is won twice, and none is skipped.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writers_on_separate_pools_never_both_win_a_revision() {
    const WRITERS: usize = 4;
    const MOVES_PER_WRITER: usize = 8;
    let Some(services) = Services::from_env("writers_on_separate_pools_never_both_win_a_revision")
    else {
        return;
    };
    let (db, store) = services.store().await;
    let id = fresh_workspace("raced");
    store
        .workspace_create(&id, &snapshot("start"))
        .await
        .unwrap();
    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let own_db = services.database().await;
        let own = own_db.store(store.universe_id(), None).await.unwrap();
        let id = id.clone();
        writers.push(tokio::spawn(async move {
            let mut won = Vec::new();
            while won.len() < MOVES_PER_WRITER {
                let head = own.workspace_read(&id).await.unwrap().unwrap();
                let mine = snapshot(&format!("{writer}-{}", won.len()));
                match own.workspace_set_head(&id, head.revision, &mine).await {
                    Ok(moved) => won.push(moved.revision),
                    Err(VfsError::Conflict { .. }) => {}
                    Err(other) => panic!("writer {writer}: {other}"),
                }
            }
            own_db.close().await;
            won
        }));
    }
    let mut revisions = BTreeSet::new();
    for writer in join_all(writers).await {
        for revision in writer.unwrap() {
            assert!(revisions.insert(revision), "revision {revision} won twice");
        }
    }
    let total = (WRITERS * MOVES_PER_WRITER) as u64;
    assert_eq!(revisions, (2..=total + 1).collect::<BTreeSet<u64>>());
    let head = store.workspace_read(&id).await.unwrap().unwrap();
    assert_eq!(head.revision, total + 1);
    db.close().await;
}

/// Puts at distinct paths race on a session with no mounts yet: the bound holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_mount_puts_never_exceed_the_bound() {
    const PUTS: usize = 8;
    const MOUNTS_MAX: usize = 3;
    let Some(services) = Services::from_env("concurrent_mount_puts_never_exceed_the_bound") else {
        return;
    };
    let (_db, store) = services.store().await;
    let session = fresh_session("mounts");
    let outcomes = join_all((0..PUTS).map(|put| {
        let (store, session) = (store.clone(), session.clone());
        tokio::spawn(async move {
            let mount = snapshot_mount(&format!("/m{put}"));
            store.mount_put(&session, &mount, MOUNTS_MAX).await
        })
    }))
    .await;
    let mut refused = 0;
    for outcome in outcomes {
        match outcome.unwrap() {
            Ok(()) => {}
            Err(VfsError::TooManyMounts { max: MOUNTS_MAX }) => refused += 1,
            Err(other) => panic!("{other}"),
        }
    }
    assert_eq!(refused, PUTS - MOUNTS_MAX);
    let listed = store.mount_list(&session).await.unwrap();
    assert_eq!(listed.len(), MOUNTS_MAX);
    assert!(listed.windows(2).all(|pair| pair[0].path < pair[1].path));
}

#[tokio::test(flavor = "multi_thread")]
async fn universes_do_not_share_workspaces_or_mounts() {
    let Some(services) = Services::from_env("universes_do_not_share_workspaces_or_mounts") else {
        return;
    };
    let db = services.database().await;
    let first = db.store(uuid::Uuid::new_v4(), None).await.unwrap();
    let second = db.store(uuid::Uuid::new_v4(), None).await.unwrap();
    let id = fresh_workspace("shared-name");
    let session = fresh_session("shared-name");
    first
        .workspace_create(&id, &snapshot("first"))
        .await
        .unwrap();
    let mount = snapshot_mount("/work");
    first.mount_put(&session, &mount, 4).await.unwrap();

    assert_eq!(second.workspace_read(&id).await.unwrap(), None);
    assert!(matches!(
        second.workspace_set_head(&id, 1, &snapshot("x")).await,
        Err(VfsError::WorkspaceNotFound(_))
    ));
    assert!(matches!(
        second.workspace_delete(&id, None).await,
        Err(VfsError::WorkspaceNotFound(_))
    ));
    assert!(second.mount_list(&session).await.unwrap().is_empty());
    assert!(!second.mount_delete(&session, &mount.path).await.unwrap());
    // The same names are free in the second universe, and stay apart.
    second
        .workspace_create(&id, &snapshot("second"))
        .await
        .unwrap();
    second
        .workspace_set_head(&id, 1, &snapshot("moved"))
        .await
        .unwrap();
    second
        .mount_put(&session, &snapshot_mount("/data"), 4)
        .await
        .unwrap();
    let head = first.workspace_read(&id).await.unwrap().unwrap();
    assert_eq!((head.revision, head.snapshot), (1, snapshot("first")));
    let head = second.workspace_read(&id).await.unwrap().unwrap();
    assert_eq!((head.revision, head.snapshot), (2, snapshot("moved")));
    assert_eq!(first.mount_list(&session).await.unwrap(), [mount]);
}

/// A mount path may be longer than a btree key: the table is one row, not one per path.
#[tokio::test(flavor = "multi_thread")]
async fn mount_paths_longer_than_an_index_key_fit() {
    let Some(services) = Services::from_env("mount_paths_longer_than_an_index_key_fit") else {
        return;
    };
    let (_db, store) = services.store().await;
    let session = fresh_session("long");
    let long = format!("/{}", vec!["n".repeat(200); 20].join("/"));
    assert!(long.len() > 4_000);
    let mount = snapshot_mount(&long);
    store.mount_put(&session, &mount, 4).await.unwrap();
    assert_eq!(store.mount_list(&session).await.unwrap(), [mount]);
}

#[tokio::test(flavor = "multi_thread")]
async fn damaged_mount_rows_are_corrupt() {
    let Some(services) = Services::from_env("damaged_mount_rows_are_corrupt") else {
        return;
    };
    let (db, store) = services.store().await;
    let session = fresh_session("damaged");
    store
        .mount_put(&session, &snapshot_mount("/a"), 4)
        .await
        .unwrap();
    let blob = snapshot("x");
    let relative = format!(
        r#"[{{"path":"a","mode":"read_only","source":{{"type":"snapshot","snapshot":"{blob}"}}}}]"#
    );
    let unordered = serde_json::to_string(&[snapshot_mount("/b"), snapshot_mount("/a")]).unwrap();
    for damage in [relative, unordered] {
        overwrite_mounts(&db, &store, &session, &damage).await;
        match store.mount_list(&session).await {
            Err(VfsError::Store(StoreError::Corrupt { .. })) => {}
            other => panic!("{damage}: must be Corrupt, got {other:?}"),
        }
    }
}

async fn two_pools(services: &Services) -> (PgDatabase, PgStore, PgDatabase, PgStore) {
    let (db_a, store_a) = services.store().await;
    let db_b = services.database().await;
    let store_b = db_b.store(store_a.universe_id(), None).await.unwrap();
    (db_a, store_a, db_b, store_b)
}

async fn overwrite_mounts(db: &PgDatabase, store: &PgStore, session: &SessionId, json: &str) {
    sqlx::query(
        "UPDATE vfs_mounts SET mounts = $3::jsonb WHERE universe_id = $1 AND session_id = $2",
    )
    .bind(store.universe_id())
    .bind(session.as_str())
    .bind(json)
    .execute(db.pool())
    .await
    .unwrap();
}

fn fresh_workspace(tag: &str) -> WorkspaceId {
    WorkspaceId::new(format!("{tag}-{}", uuid::Uuid::new_v4().simple())).unwrap()
}

/// A ref the catalog stores as given: it never loads the blob behind it.
fn snapshot(tag: &str) -> BlobRef {
    BlobRef::of_bytes(tag.as_bytes())
}

fn snapshot_mount(path: &str) -> Mount {
    Mount {
        path: SessionPath::parse(path).unwrap(),
        source: MountSource::Snapshot {
            snapshot: snapshot(path),
        },
        mode: MountMode::ReadOnly,
    }
}
