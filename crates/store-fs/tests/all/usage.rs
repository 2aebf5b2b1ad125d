//! What the per-universe quotas count on disk: runs in flight read from the logs of
//! marked sessions, blob bytes from a counter kept by puts, both right across store
//! instances, restarts and stores written before either existed.

use engine::core::event::{RunFinished, RunRequested};

use super::*;

fn run_entry(kind: &str, seq: Seq) -> LogEntry {
    LogEntry {
        seq,
        observed_at_ms: 1_000 + seq,
        joins: Joins::default(),
        event: EventEnvelope {
            kind: kind.into(),
            version: 1,
            payload: json!({}),
        },
    }
}

fn requested(seq: Seq) -> LogEntry {
    run_entry(RunRequested::KIND, seq)
}

fn finished(seq: Seq) -> LogEntry {
    run_entry(RunFinished::KIND, seq)
}

fn markers(dir: &TempDir) -> BTreeSet<String> {
    fs::read_dir(dir.path().join("runs_in_flight"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name != "%marked")
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn quota_counts_conform_here_and_after_a_reopen() {
    let (dir, store) = store();
    conformance::usage_suite(&store).await.unwrap();
    drop(store);
    let reopened = FsStore::open(dir.path()).unwrap();
    conformance::usage_suite(&reopened).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_to_hold_conform_here_and_after_a_reopen() {
    let (dir, store) = store();
    conformance::wake_ups_suite(&store).await.unwrap();
    drop(store);
    let reopened = FsStore::open(dir.path()).unwrap();
    conformance::wake_ups_suite(&reopened).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn deletion_and_collection_conform() {
    let (_dir, store) = store();
    conformance::retention_suite(&store).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn only_sessions_with_runs_in_flight_are_marked() {
    let (dir, store) = store();
    let (busy, idle) = (sid("busy"), sid("."));
    append_ok(&store, &busy, 0, &[requested(1), requested(2)]).await;
    append_ok(&store, &idle, 0, &entries(1..=3, "no runs")).await;
    assert_eq!(markers(&dir), BTreeSet::from(["busy".to_owned()]));
    append_ok(&store, &busy, 2, &[finished(3)]).await;
    assert_eq!(store.runs_in_flight().await.unwrap(), 1);
    assert_eq!(markers(&dir).len(), 1, "one run is still in flight");
    append_ok(&store, &busy, 3, &[finished(4)]).await;
    assert!(markers(&dir).is_empty(), "no run in flight, no marker");

    // A marker a crash left behind names a session whose log has no run in flight:
    // it costs a look, never a count.
    append_ok(&store, &idle, 3, &[requested(4)]).await;
    fs::write(dir.path().join("runs_in_flight/busy"), b"").unwrap();
    assert_eq!(store.runs_in_flight().await.unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn separate_instances_keep_one_count() {
    let (dir, first) = store();
    let second = FsStore::open(dir.path()).unwrap();
    let session = sid("shared");
    append_ok(&first, &session, 0, &[requested(1)]).await;
    assert_eq!(second.runs_in_flight().await.unwrap(), 1);
    append_ok(&second, &session, 1, &[finished(2)]).await;
    assert_eq!(first.runs_in_flight().await.unwrap(), 0);
    assert!(markers(&dir).is_empty());

    // Racing puts of one new blob count it once.
    let bytes: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
    let before = first.stored_bytes().await.unwrap();
    let (a, b) = tokio::join!(first.put(bytes.clone()), second.put(bytes.clone()));
    assert_eq!(a.unwrap(), b.unwrap());
    assert_eq!(
        second.stored_bytes().await.unwrap(),
        before + bytes.len() as u64
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_store_from_before_the_counts_is_counted_once_opened() {
    let (dir, store) = store();
    let session = sid("old");
    append_ok(
        &store,
        &session,
        0,
        &[requested(1), requested(2), finished(3)],
    )
    .await;
    let blob = store.put(b"an old blob".to_vec()).await.unwrap();
    drop(store);
    // As a store written before the counts existed: no markers, no counter.
    fs::remove_dir_all(dir.path().join("runs_in_flight")).unwrap();
    fs::remove_file(dir.path().join("cas/stored_bytes")).unwrap();

    let reopened = FsStore::open(dir.path()).unwrap();
    assert_eq!(reopened.runs_in_flight().await.unwrap(), 1);
    assert_eq!(markers(&dir), BTreeSet::from(["old".to_owned()]));
    let old_blob_len = fs::metadata(reopened.blob_path(&blob)).unwrap().len();
    assert_eq!(reopened.stored_bytes().await.unwrap(), old_blob_len);

    // An unreadable counter (a crash while replacing it) is recounted too.
    fs::write(dir.path().join("cas/stored_bytes"), b"garbled").unwrap();
    reopened.put(b"another".to_vec()).await.unwrap();
    assert_eq!(
        reopened.stored_bytes().await.unwrap(),
        old_blob_len + b"another".len() as u64
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_list_by_activity_here_and_after_a_reopen() {
    let (dir, store) = store();
    conformance::activity_suite(&store).await.unwrap();
    let activity = |store: FsStore| async move {
        let mut all = Vec::new();
        for session in store.session_ids().await.unwrap() {
            all.push((
                session.clone(),
                store.last_activity_ms(&session).await.unwrap(),
            ));
        }
        all
    };
    let before = activity(store.clone()).await;
    assert!(before.iter().filter(|(_, at)| at.is_some()).count() >= 5);
    drop(store);
    // A fresh process reads every session's activity back from its log.
    let reopened = FsStore::open(dir.path()).unwrap();
    assert_eq!(activity(reopened.clone()).await, before);
    conformance::activity_suite(&reopened).await.unwrap();
}
