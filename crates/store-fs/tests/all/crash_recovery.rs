//! Torn writes, corrupt lines and restarts.

use super::*;

async fn torn_tail_is_ignored_then_truncated(tail: &[u8]) {
    let (_dir, store) = store();
    let session = sid("torn");
    let committed = entries(1..=3, "committed");
    append_ok(&store, &session, 0, &committed).await;
    let path = store.log_path(&session);
    append_raw(&path, tail);

    // Readers (this instance and a fresh one) ignore the tail without touching it.
    for reader in [store.clone(), FsStore::open(store.root()).unwrap()] {
        assert_eq!(reader.head(&session).await.unwrap(), 3);
        assert_eq!(reader.read(&session, 1, 100).await.unwrap(), committed);
    }
    let mut with_tail = jsonl(&committed);
    with_tail.extend_from_slice(tail);
    assert_eq!(fs::read(&path).unwrap(), with_tail);

    // The next append (from a fresh instance, as after a restart) cuts it away.
    let restarted = FsStore::open(store.root()).unwrap();
    let next = vec![entry(4, "after crash")];
    append_ok(&restarted, &session, 3, &next).await;
    let mut expected = jsonl(&committed);
    expected.extend(jsonl(&next));
    assert_eq!(fs::read(&path).unwrap(), expected);
    let all: Vec<LogEntry> = committed.into_iter().chain(next).collect();
    assert_eq!(store.read(&session, 1, 100).await.unwrap(), all);
}

#[tokio::test(flavor = "multi_thread")]
async fn partial_final_line_is_ignored_then_truncated() {
    let partial = entry(4, "never acknowledged").to_canonical_bytes();
    torn_tail_is_ignored_then_truncated(&partial[..partial.len() / 2]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn undecodable_final_line_is_ignored_then_truncated() {
    torn_tail_is_ignored_then_truncated(b"{\"seq\":4,\0\0\0\0\0\n").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn undecodable_final_line_followed_by_partial_bytes_is_torn() {
    torn_tail_is_ignored_then_truncated(b"\0\0\0\n{\"seq\":5").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn batch_missing_its_last_line_is_torn_as_a_whole() {
    // Two complete lines of a three-entry append reached the disk, the third did not:
    // the whole batch was never acknowledged and must vanish, not half-commit.
    let batch = jsonl(&entries(4..=6, "batch"));
    let cut = batch
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .nth(1)
        .map(|(i, _)| i + 1)
        .unwrap();
    torn_tail_is_ignored_then_truncated(&batch[..cut]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn corrupt_middle_line_is_a_typed_error() {
    let (_dir, store) = store();
    let session = sid("corrupt");
    let committed = entries(1..=3, "committed");
    let mut bytes = jsonl(&committed[..1]);
    bytes.extend_from_slice(b"{\"seq\":2, this is not json}\n");
    bytes.extend(jsonl(&committed[2..]));
    fs::create_dir_all(store.session_dir(&session)).unwrap();
    fs::write(store.log_path(&session), &bytes).unwrap();

    let is_line_2 = |err: StoreError| match err {
        StoreError::Corrupt { location, .. } => {
            assert!(location.contains("line 2"), "{location}")
        }
        other => panic!("expected Corrupt, got {other:?}"),
    };
    is_line_2(store.head(&session).await.unwrap_err());
    is_line_2(store.read(&session, 1, 10).await.unwrap_err());
    is_line_2(
        store
            .append(&session, 3, &[entry(4, "x")])
            .await
            .unwrap_err(),
    );
    assert_eq!(
        fs::read(store.log_path(&session)).unwrap(),
        bytes,
        "nothing repaired silently"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sequence_gap_is_a_typed_error() {
    let (_dir, store) = store();
    let session = sid("gap");
    let mut bytes = jsonl(&entries(1..=2, "a"));
    bytes.extend(jsonl(&[entry(4, "skipped 3")]));
    fs::create_dir_all(store.session_dir(&session)).unwrap();
    fs::write(store.log_path(&session), &bytes).unwrap();
    match store.head(&session).await {
        Err(StoreError::Corrupt { reason, .. }) => {
            assert!(reason.contains("expected seq 3, found seq 4"), "{reason}")
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn reopen_after_restart_reads_everything_back() {
    let (dir, store) = store();
    let sessions = [sid("restart-a"), sid("restart-b")];
    let mut blobs = Vec::new();
    for (i, session) in sessions.iter().enumerate() {
        let log = entries(1..=25, session.as_str());
        append_ok(&store, session, 0, &log[..10]).await;
        append_ok(&store, session, 10, &log[10..]).await;
        let checkpoint = Checkpoint {
            seq: 20,
            state: vec![i as u8; 10],
        };
        store.put_checkpoint(session, &checkpoint).await.unwrap();
        blobs.push(store.put(format!("blob {i}").into_bytes()).await.unwrap());
    }
    drop(store);

    let reopened = FsStore::open(dir.path()).unwrap();
    for (i, session) in sessions.iter().enumerate() {
        assert_eq!(reopened.head(session).await.unwrap(), 25);
        let log = reopened.read(session, 1, 100).await.unwrap();
        assert_eq!(log, entries(1..=25, session.as_str()));
        let checkpoint = reopened.latest_checkpoint(session).await.unwrap().unwrap();
        assert_eq!(
            checkpoint,
            Checkpoint {
                seq: 20,
                state: vec![i as u8; 10]
            }
        );
        assert_eq!(
            reopened.get(&blobs[i]).await.unwrap(),
            format!("blob {i}").into_bytes()
        );
    }
    append_ok(&reopened, &sessions[0], 25, &[entry(26, "after restart")]).await;
}
