//! Blob and checkpoint files on disk, and the directory layout.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn blob_is_stored_at_its_content_address() {
    let (_dir, store) = store();
    let blob = store.put(b"abc".to_vec()).await.unwrap();
    let hex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    let path = store.root().join("cas/sha256/ba").join(hex);
    assert_eq!(store.blob_path(&blob), path);
    assert_eq!(fs::read(&path).unwrap(), b"abc");
    let leftovers: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temporary files left behind");
}

#[tokio::test(flavor = "multi_thread")]
async fn corrupted_blob_is_a_digest_mismatch() {
    let (_dir, store) = store();
    let blob = store.put(b"precious bytes".to_vec()).await.unwrap();
    let path = store.blob_path(&blob);
    fs::write(&path, b"precious bytez").unwrap();
    match store.get(&blob).await {
        Err(StoreError::DigestMismatch { expected, actual }) => {
            assert_eq!(expected, blob);
            assert_eq!(actual, BlobRef::of_bytes(b"precious bytez"));
        }
        other => panic!("expected DigestMismatch, got {other:?}"),
    }
    // A truncated copy is replaced by the next put of the real bytes.
    fs::write(&path, b"precious").unwrap();
    assert!(matches!(
        store.get(&blob).await,
        Err(StoreError::DigestMismatch { .. })
    ));
    assert_eq!(store.put(b"precious bytes".to_vec()).await.unwrap(), blob);
    assert_eq!(store.get(&blob).await.unwrap(), b"precious bytes");
}

#[tokio::test(flavor = "multi_thread")]
async fn blob_size_limit_is_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let limits = FsStoreLimits {
        blob_bytes_max: 10,
        ..FsStoreLimits::default()
    };
    let store = FsStore::open_with_limits(dir.path(), limits).unwrap();
    assert!(store.put(vec![1; 10]).await.is_ok());
    match store.put(vec![1; 11]).await {
        Err(StoreError::BlobTooLarge {
            size_bytes: 11,
            limit_bytes: 10,
        }) => {}
        other => panic!("expected BlobTooLarge, got {other:?}"),
    }
    assert!(!store.has(&BlobRef::of_bytes(&[1; 11])).await.unwrap());
    assert_eq!(FsStoreLimits::default().blob_bytes_max, 512 * 1024 * 1024);
}

#[tokio::test(flavor = "multi_thread")]
async fn undecodable_latest_checkpoint_is_a_typed_error() {
    let (_dir, store) = store();
    let session = sid("cp");
    let good = Checkpoint {
        seq: 5,
        state: b"{}".to_vec(),
    };
    store.put_checkpoint(&session, &good).await.unwrap();
    let dir = store.session_dir(&session).join("checkpoints");
    // Temporary and foreign files are not checkpoints.
    fs::write(dir.join(".tmp-leftover"), b"junk").unwrap();
    fs::write(dir.join("notes.txt"), b"junk").unwrap();
    assert_eq!(store.latest_checkpoint(&session).await.unwrap(), Some(good));

    fs::write(dir.join(format!("{:020}.json", 9)), b"{\"seq\":9,\"sta").unwrap();
    match store.latest_checkpoint(&session).await {
        Err(StoreError::Corrupt { location, .. }) => {
            assert!(
                location.ends_with("00000000000000000009.json"),
                "{location}"
            )
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    let misnamed = b"{\"seq\":8}\n{}".to_vec();
    fs::write(dir.join(format!("{:020}.json", 9)), misnamed).unwrap();
    assert!(matches!(
        store.latest_checkpoint(&session).await,
        Err(StoreError::Corrupt { .. })
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn dot_session_ids_stay_inside_the_sessions_directory() {
    let (dir, store) = store();
    for (name, seq_note) in [(".", "dot"), ("..", "dotdot"), ("...", "three")] {
        let session = sid(name);
        append_ok(&store, &session, 0, &[entry(1, seq_note)]).await;
        store
            .put_checkpoint(
                &session,
                &Checkpoint {
                    seq: 1,
                    state: vec![],
                },
            )
            .await
            .unwrap();
        assert!(
            store
                .session_dir(&session)
                .starts_with(dir.path().join("sessions"))
        );
    }
    for (name, seq_note) in [(".", "dot"), ("..", "dotdot"), ("...", "three")] {
        assert_eq!(
            store.read(&sid(name), 1, 10).await.unwrap(),
            [entry(1, seq_note)]
        );
    }
    let mut top: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    top.sort();
    // `runs_in_flight` and `wake_ups_pending` hold markers, named like session
    // directories.
    assert_eq!(
        top,
        ["cas", "runs_in_flight", "sessions", "wake_ups_pending"]
    );
    assert!(!dir.path().join("sessions/log.jsonl").exists());
    assert!(!dir.path().join("sessions/checkpoints").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn reads_of_unknown_sessions_create_nothing() {
    let (dir, store) = store();
    let session = sid("ghost");
    assert_eq!(store.head(&session).await.unwrap(), 0);
    assert!(store.read(&session, 1, 10).await.unwrap().is_empty());
    assert!(store.latest_checkpoint(&session).await.unwrap().is_none());
    assert_eq!(
        fs::read_dir(dir.path().join("sessions")).unwrap().count(),
        0
    );
}
