//! Several store instances (standing in for processes) on one root, and large logs.

use super::*;

/// Writers, each with its own store instance (as separate processes would have),
/// race to append at whatever head they last saw. Exactly one wins each head.
#[test]
fn separate_instances_never_both_win_a_head() {
    const WRITERS: usize = 8;
    const ENTRIES_PER_WRITER: usize = 25;
    let dir = tempfile::tempdir().unwrap();
    let session = sid("race");
    let barrier = Arc::new(Barrier::new(WRITERS));
    let threads: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let (root, session, barrier) =
                (dir.path().to_owned(), session.clone(), Arc::clone(&barrier));
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap();
                let store = FsStore::open(root).unwrap();
                barrier.wait();
                runtime.block_on(write_all(&store, &session, writer, ENTRIES_PER_WRITER))
            })
        })
        .collect();
    let conflicts: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();

    let store = FsStore::open(dir.path()).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let log = runtime
        .block_on(store.read(&session, 1, usize::MAX))
        .unwrap();
    let total = WRITERS * ENTRIES_PER_WRITER;
    assert_eq!(log.len(), total);
    assert!(
        log.iter().zip(1..).all(|(entry, seq)| entry.seq == seq),
        "contiguous"
    );
    let notes: BTreeSet<String> = log
        .iter()
        .map(|e| e.event.payload["note"].to_string())
        .collect();
    assert_eq!(notes.len(), total, "no entry committed twice");
    for writer in 0..WRITERS {
        let mine: Vec<u64> = log
            .iter()
            .filter(|e| e.event.payload["writer"] == json!(writer))
            .map(|e| e.event.payload["i"].as_u64().unwrap())
            .collect();
        assert_eq!(
            mine,
            (0..ENTRIES_PER_WRITER as u64).collect::<Vec<_>>(),
            "writer {writer}"
        );
    }
    assert!(
        conflicts > 0,
        "the writers never raced; the test proves nothing"
    );
}

/// Appends `count` entries of this writer, retrying after lost races; returns how
/// many races it lost.
async fn write_all(store: &FsStore, session: &SessionId, writer: usize, count: usize) -> usize {
    let mut conflicts = 0;
    let mut i = 0;
    while i < count {
        let head = store.head(session).await.unwrap();
        let mut mine = entry(head + 1, &format!("{writer}/{i}"));
        mine.event.payload["writer"] = json!(writer);
        mine.event.payload["i"] = json!(i);
        match store.append(session, head, &[mine]).await {
            Ok(AppendOutcome::Appended { head: new_head }) => {
                assert_eq!(new_head, head + 1);
                i += 1;
            }
            Err(StoreError::HeadConflict { expected, actual }) => {
                assert_eq!(expected, head);
                assert!(actual > head);
                conflicts += 1;
            }
            other => panic!("writer {writer}: unexpected {other:?}"),
        }
    }
    conflicts
}

#[tokio::test(flavor = "multi_thread")]
async fn appends_by_another_instance_are_seen_incrementally() {
    let (_dir, reader) = store();
    let writer = FsStore::open(reader.root()).unwrap();
    let session = sid("follow");
    assert_eq!(reader.head(&session).await.unwrap(), 0);
    let mut all = Vec::new();
    for round in 0..5u64 {
        let batch = entries(round * 10 + 1..=round * 10 + 10, "w");
        append_ok(&writer, &session, round * 10, &batch).await;
        all.extend(batch);
        assert_eq!(reader.head(&session).await.unwrap(), all.len() as Seq);
        assert_eq!(
            reader.read(&session, round * 10 + 1, 100).await.unwrap(),
            all[round as usize * 10..]
        );
    }
    // Appending through the reader's stale view is refused, then succeeds.
    let err = reader
        .append(&session, 10, &[entry(11, "late")])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::HeadConflict {
                expected: 10,
                actual: 50
            }
        ),
        "{err:?}"
    );
    append_ok(&reader, &session, 50, &[entry(51, "r")]).await;
    assert_eq!(writer.head(&session).await.unwrap(), 51);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_log_replaced_by_a_shorter_one_is_reindexed() {
    let (_dir, store) = store();
    let session = sid("shrunk");
    append_ok(&store, &session, 0, &entries(1..=10, "long")).await;
    assert_eq!(store.head(&session).await.unwrap(), 10);
    let short = entries(1..=4, "short");
    fs::write(store.log_path(&session), jsonl(&short)).unwrap();
    assert_eq!(store.head(&session).await.unwrap(), 4);
    assert_eq!(store.read(&session, 1, 100).await.unwrap(), short);
}

#[tokio::test(flavor = "multi_thread")]
async fn hundred_thousand_entries_page_from_any_position() {
    const TOTAL: Seq = 100_000;
    const BATCH: Seq = 2_000;
    let (_dir, store) = store();
    let session = sid("large");
    for start in (1..=TOTAL).step_by(BATCH as usize) {
        append_ok(
            &store,
            &session,
            start - 1,
            &entries(start..=start + BATCH - 1, "bulk"),
        )
        .await;
    }
    // A fresh instance builds its index once, then seeks.
    let fresh = FsStore::open(store.root()).unwrap();
    assert_eq!(fresh.head(&session).await.unwrap(), TOTAL);
    for from in [1, 2, 49_999, TOTAL - 1, TOTAL] {
        let page = fresh.read(&session, from, 3).await.unwrap();
        let want: Vec<Seq> = (from..=TOTAL).take(3).collect();
        assert_eq!(page.iter().map(|e| e.seq).collect::<Vec<_>>(), want);
    }
    append_ok(&fresh, &session, TOTAL, &[entry(TOTAL + 1, "tail")]).await;
    assert_eq!(
        store.read(&session, TOTAL + 1, 10).await.unwrap(),
        [entry(TOTAL + 1, "tail")]
    );
}
