//! The store conformance suite: one set of checks every storage backend must pass
//! (in memory, on disk, in Postgres), written once against the engine's traits;
//! [`usage_suite`] holds the backends behind the API (disk, Postgres) to what the
//! per-universe quotas count (`session_stores::UniverseUsage`), and
//! [`activity_suite`] to `session/list`'s order (`session_stores::SessionIndex`).
//!
//! Each suite works in sessions whose ids are unique to the call, so it can run
//! against a store that already holds data (a shared test database) and can be run
//! several times on one store. Failures name the check and show both sides.
//!
//! What this module must not do: depend on any backend, or check behaviour the
//! traits do not promise (file layout, SQL rows); backend-specific checks live with
//! the backend.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail, ensure};
use engine::core::event::{ContextItemRemoved, CoreEvent, SessionClosed, TurnCompleted};
use engine::log::{EventEnvelope, Joins, LogEntry, Seq};
use engine::store::{
    AppendOutcome, BlobStore, Checkpoint, CheckpointStore, SessionLog, StoreError,
};
use engine::{BlobRef, RunId, SessionId, ToolCallId};
use serde_json::json;
use session_stores::{SessionActivity, SessionIndex};

mod retention;
mod usage;
mod wake_ups;
pub use retention::retention_suite;
pub use usage::usage_suite;
pub use wake_ups::wake_ups_suite;

/// Runs every suite against a store implementing all three traits.
pub async fn store_suite<S>(store: &S) -> anyhow::Result<()>
where
    S: SessionLog + BlobStore + CheckpointStore,
{
    session_log_suite(store)
        .await
        .context("session log suite")?;
    blob_store_suite(store).await.context("blob store suite")?;
    checkpoint_suite(store).await.context("checkpoint suite")?;
    Ok(())
}

/// Append, read and head semantics of [`SessionLog`].
pub async fn session_log_suite<S: SessionLog>(store: &S) -> anyhow::Result<()> {
    let prefix = unique_prefix();
    let session = session_id(&prefix, "log-a")?;
    let other = session_id(&prefix, "log-b")?;

    // An unknown session is empty.
    ensure!(
        store.head(&session).await? == 0,
        "unknown session must have head 0"
    );
    ensure!(
        store.read(&session, 1, 100).await?.is_empty(),
        "unknown session must read as empty"
    );

    // Append, then read back exactly what was written.
    let first = vec![entry(&prefix, 1), rich_entry(2)];
    expect_outcome(
        store.append(&session, 0, &first).await,
        AppendOutcome::Appended { head: 2 },
        "first append",
    )?;
    ensure!(store.head(&session).await? == 2, "head after first append");
    expect_entries(
        store.read(&session, 1, 100).await?,
        &first,
        "read all after first append",
    )?;
    let third = vec![closed_entry(3)];
    expect_outcome(
        store.append(&session, 2, &third).await,
        AppendOutcome::Appended { head: 3 },
        "second append",
    )?;
    let all: Vec<LogEntry> = first.iter().chain(&third).cloned().collect();

    // Ranges and limits.
    expect_entries(store.read(&session, 0, 100).await?, &all, "read from seq 0")?;
    expect_entries(store.read(&session, 1, 100).await?, &all, "read from seq 1")?;
    expect_entries(
        store.read(&session, 2, 100).await?,
        &all[1..],
        "read from seq 2",
    )?;
    expect_entries(
        store.read(&session, 3, 100).await?,
        &all[2..],
        "read from seq 3",
    )?;
    expect_entries(
        store.read(&session, 4, 100).await?,
        &[],
        "read past the head",
    )?;
    expect_entries(
        store.read(&session, 1000, 100).await?,
        &[],
        "read far past the head",
    )?;
    expect_entries(
        store.read(&session, 1, 2).await?,
        &all[..2],
        "read with limit 2",
    )?;
    expect_entries(
        store.read(&session, 2, 1).await?,
        &all[1..2],
        "read seq 2 with limit 1",
    )?;
    expect_entries(store.read(&session, 1, 0).await?, &[], "read with limit 0")?;
    expect_entries(
        store.read(&session, 1, usize::MAX).await?,
        &all,
        "read with no limit",
    )?;

    // Stale or future expected heads conflict and change nothing.
    expect_conflict(
        store.append(&session, 1, &[entry(&prefix, 2)]).await,
        1,
        3,
        "append at a stale head with different entries",
    )?;
    expect_conflict(
        store.append(&session, 5, &[entry(&prefix, 6)]).await,
        5,
        3,
        "append past the head",
    )?;

    // A retried append of committed entries is recognised; a different batch is not.
    let retries: [(Seq, &[LogEntry], &str); 3] = [
        (0, &all[..2], "retry of the first batch"),
        (2, &all[2..], "retry of the second batch"),
        (1, &all[1..2], "retry of a committed sub-range"),
    ];
    for (expected_head, batch, what) in retries {
        expect_outcome(
            store.append(&session, expected_head, batch).await,
            AppendOutcome::AlreadyCommitted { head: 3 },
            what,
        )?;
    }
    let mut changed = first.clone();
    changed[1] = entry(&prefix, 2);
    expect_conflict(
        store.append(&session, 0, &changed).await,
        0,
        3,
        "different batch at a committed position",
    )?;
    let longer = vec![all[2].clone(), entry(&prefix, 4)];
    expect_conflict(
        store.append(&session, 2, &longer).await,
        2,
        3,
        "batch extending past the head from a committed prefix",
    )?;

    // Malformed batches are refused before the head is considered.
    let invalid: [(Seq, Vec<LogEntry>, &str); 5] = [
        (3, vec![], "empty batch"),
        (3, vec![entry(&prefix, 5)], "batch not starting at head + 1"),
        (
            3,
            vec![entry(&prefix, 4), entry(&prefix, 6)],
            "batch with a gap",
        ),
        (
            3,
            vec![entry(&prefix, 4), entry(&prefix, 4)],
            "batch with a duplicate seq",
        ),
        (0, vec![], "empty batch at a stale head"),
    ];
    for (expected_head, batch, what) in invalid {
        match store.append(&session, expected_head, &batch).await {
            Err(StoreError::InvalidBatch { .. }) => {}
            other => bail!("{what}: expected InvalidBatch, got {other:?}"),
        }
    }
    ensure!(
        store.head(&session).await? == 3,
        "refused appends must not move the head"
    );
    expect_entries(
        store.read(&session, 1, 100).await?,
        &all,
        "log after refused appends",
    )?;

    // Sessions are isolated.
    ensure!(
        store.head(&other).await? == 0,
        "a second session starts empty"
    );
    let other_entries = vec![entry(&format!("{prefix}-other"), 1)];
    expect_outcome(
        store.append(&other, 0, &other_entries).await,
        AppendOutcome::Appended { head: 1 },
        "append to a second session",
    )?;
    expect_entries(
        store.read(&other, 1, 100).await?,
        &other_entries,
        "read second session",
    )?;
    ensure!(
        store.head(&session).await? == 3,
        "second session must not move the first"
    );
    expect_entries(
        store.read(&session, 1, 100).await?,
        &all,
        "first session unchanged",
    )?;

    longer_log(store, &session_id(&prefix, "log-long")?, &prefix).await
}

/// Many appends of varying sizes, read back page by page.
async fn longer_log<S: SessionLog>(
    store: &S,
    session: &SessionId,
    prefix: &str,
) -> anyhow::Result<()> {
    let mut written = Vec::new();
    for batch_len in (1..=12).cycle().take(30) {
        let head = written.len() as Seq;
        let batch: Vec<LogEntry> = (head + 1..=head + batch_len)
            .map(|seq| entry(prefix, seq))
            .collect();
        expect_outcome(
            store.append(session, head, &batch).await,
            AppendOutcome::Appended {
                head: head + batch_len,
            },
            "append to the long log",
        )?;
        written.extend(batch);
    }
    ensure!(
        store.head(session).await? == written.len() as Seq,
        "head of the long log"
    );
    for page_len in [1usize, 7, 64, 1000] {
        let mut read = Vec::new();
        loop {
            let page = store.read(session, read.len() as Seq + 1, page_len).await?;
            ensure!(
                page.len() <= page_len,
                "page of {page_len} returned {} entries",
                page.len()
            );
            if page.is_empty() {
                break;
            }
            read.extend(page);
        }
        expect_entries(
            read,
            &written,
            &format!("long log read in pages of {page_len}"),
        )?;
    }
    Ok(())
}

/// Put, get, has and blob_len semantics of [`BlobStore`].
pub async fn blob_store_suite<S: BlobStore>(store: &S) -> anyhow::Result<()> {
    let prefix = unique_prefix();
    let samples: Vec<Vec<u8>> = vec![
        format!("hello from {prefix}").into_bytes(),
        Vec::new(),
        (0..=255u8).collect(),
        (0..1024 * 1024).map(|i: u32| (i % 251) as u8).collect(),
    ];
    for bytes in samples {
        let expected = BlobRef::of_bytes(&bytes);
        let blob = store.put(bytes.clone()).await?;
        ensure!(blob == expected, "put returned {blob}, expected {expected}");
        ensure!(store.has(&blob).await?, "has({blob}) after put");
        let len = store.blob_len(&blob).await?;
        ensure!(
            len == Some(bytes.len() as u64),
            "blob_len({blob}) is {len:?}, expected {}",
            bytes.len()
        );
        ensure!(
            store.get(&blob).await? == bytes,
            "get({blob}) returned other bytes"
        );
        let again = store.put(bytes.clone()).await?;
        ensure!(
            again == blob,
            "second put of the same bytes returned {again}"
        );
        ensure!(
            store.get(&blob).await? == bytes,
            "get({blob}) after a second put"
        );
    }

    let absent = BlobRef::of_bytes(format!("never stored {prefix}").as_bytes());
    ensure!(!store.has(&absent).await?, "has() of a blob never stored");
    let len = store.blob_len(&absent).await?;
    ensure!(
        len.is_none(),
        "blob_len() of a blob never stored is {len:?}"
    );
    match store.get(&absent).await {
        Err(StoreError::BlobNotFound(blob)) if blob == absent => {}
        other => bail!("get of a blob never stored: expected BlobNotFound, got {other:?}"),
    }
    let held = store.put(format!("held {prefix}").into_bytes()).await?;
    let asked = [held.clone(), absent.clone(), held, absent];
    let answer = store.has_many(&asked).await?;
    ensure!(
        answer == [true, false, true, false],
        "has_many answers in the order asked, duplicates included: {answer:?}"
    );
    ensure!(store.has_many(&[]).await?.is_empty(), "has_many of nothing");
    Ok(())
}

/// `SessionIndex::sessions_by_activity`: a session's activity is the newest
/// `observed_at_ms` of its log (the maximum, not the last), the order is newest
/// first with ties by id in byte order, a page starts strictly after its cursor,
/// and a session without entries is not listed.
///
/// The suite's sessions have times far beyond real clocks and pages are read from
/// just above them, so other data in the store only interleaves rows the suite
/// skips.
pub async fn activity_suite<S>(store: &S) -> anyhow::Result<()>
where
    S: SessionLog + SessionIndex,
{
    let prefix = unique_prefix();
    // Below bigint's maximum (Postgres keeps activity as bigint).
    let base: u64 = 9_000_000_000_000_000_000;
    let at = |offset: u64| base + offset;
    let append = |name: &'static str, times: Vec<u64>| {
        let prefix = prefix.clone();
        async move {
            let session = session_id(&prefix, name)?;
            let head = store.head(&session).await?;
            let batch: Vec<LogEntry> = times
                .into_iter()
                .zip(head + 1..)
                .map(|(observed_at_ms, seq)| LogEntry {
                    observed_at_ms,
                    ..entry(name, seq)
                })
                .collect();
            store.append(&session, head, &batch).await?;
            anyhow::Ok(())
        }
    };
    // "B" sorts before "a" in bytes (a locale collation would say otherwise).
    append("a", vec![at(50)]).await?;
    append("B", vec![at(50)]).await?;
    append("late", vec![at(90)]).await?;
    append("late", vec![at(20)]).await?;
    append("batch", vec![at(30), at(70), at(60)]).await?;
    append("old", vec![at(5)]).await?;
    // A refused append leaves the session without entries (whatever a backend
    // created on the way).
    let empty = session_id(&prefix, "none")?;
    ensure!(
        store.append(&empty, 3, &[entry("none", 4)]).await.is_err(),
        "an append at a head the session does not have was accepted"
    );
    let expected: Vec<(String, u64)> = [
        ("late", 90),
        ("batch", 70),
        ("B", 50),
        ("a", 50),
        ("old", 5),
    ]
    .into_iter()
    .map(|(name, offset)| Ok((session_id(&prefix, name)?.to_string(), at(offset))))
    .collect::<anyhow::Result<_>>()?;

    let mine = |rows: &[SessionActivity]| -> Vec<(String, u64)> {
        rows.iter()
            .filter(|row| row.session_id.as_str().starts_with(&prefix))
            .map(|row| (row.session_id.to_string(), row.last_activity_at_ms))
            .collect()
    };
    // Pages of two from just above the newest: every row once, in order.
    let mut cursor = SessionActivity {
        last_activity_at_ms: at(91),
        session_id: session_id(&prefix, "")?,
    };
    let mut listed = Vec::new();
    for _ in 0..1_000 {
        let page = store.sessions_by_activity(Some(&cursor), 2).await?;
        ensure!(page.len() <= 2, "a page of 2 held {}", page.len());
        ensure!(
            page.windows(2)
                .all(|pair| pair[0].list_order(&pair[1]).is_lt()),
            "a page out of order: {page:?}"
        );
        ensure!(
            page.first()
                .is_none_or(|first| first.list_order(&cursor).is_gt()),
            "a page starts at or before its cursor {cursor:?}: {page:?}"
        );
        listed.extend(mine(&page));
        // To the end, where a session without entries would be.
        match page.last() {
            Some(last) if page.len() == 2 => cursor = last.clone(),
            _ => break,
        }
    }
    ensure!(
        listed == expected,
        "sessions by activity: {listed:?}, expected {expected:?}"
    );
    Ok(())
}

/// Storage and selection semantics of [`CheckpointStore`].
pub async fn checkpoint_suite<S: CheckpointStore>(store: &S) -> anyhow::Result<()> {
    let prefix = unique_prefix();
    let session = session_id(&prefix, "cp-a")?;
    let other = session_id(&prefix, "cp-b")?;
    let checkpoint = |seq: Seq, state: &[u8]| Checkpoint {
        seq,
        state: state.to_vec(),
    };
    let expect_latest = |actual: Option<Checkpoint>, want: Option<&Checkpoint>, what: &str| {
        ensure!(
            actual.as_ref() == want,
            "{what}: latest checkpoint is {actual:?}, expected {want:?}"
        );
        Ok(())
    };

    expect_latest(
        store.latest_checkpoint(&session).await?,
        None,
        "fresh session",
    )?;
    let nine = checkpoint(9, br#"{"state":9}"#);
    store.put_checkpoint(&session, &nine).await?;
    expect_latest(
        store.latest_checkpoint(&session).await?,
        Some(&nine),
        "one checkpoint",
    )?;

    // The highest seq wins, numerically (10 > 9, whatever the encoding sorts by).
    let ten = checkpoint(10, &[0, 159, 146, 150, 255, b'\n']);
    store.put_checkpoint(&session, &ten).await?;
    store
        .put_checkpoint(&session, &checkpoint(3, b"older"))
        .await?;
    expect_latest(
        store.latest_checkpoint(&session).await?,
        Some(&ten),
        "after 9, 10, 3",
    )?;

    // Storing a seq again is a no-op, even with other state: the first one stays.
    store.put_checkpoint(&session, &ten).await?;
    store
        .put_checkpoint(&session, &checkpoint(10, b"replacement"))
        .await?;
    expect_latest(
        store.latest_checkpoint(&session).await?,
        Some(&ten),
        "after re-puts of 10",
    )?;

    // Older checkpoints stay usable: the newest at or before a given entry.
    let three = checkpoint(3, b"older");
    for (through, expected) in [
        (Seq::MAX, Some(&ten)),
        (10, Some(&ten)),
        (9, Some(&nine)),
        (8, Some(&three)),
        (3, Some(&three)),
        (2, None),
    ] {
        let found = store.checkpoint_at_or_before(&session, through).await?;
        ensure!(
            found.as_ref() == expected,
            "checkpoint at or before {through}: {found:?}, expected {expected:?}"
        );
    }

    // Pruning deletes the older ones only.
    store.prune_checkpoints(&session, 9).await?;
    for (through, expected) in [(10, Some(&ten)), (9, Some(&nine)), (8, None)] {
        let found = store.checkpoint_at_or_before(&session, through).await?;
        ensure!(
            found.as_ref() == expected,
            "after pruning below 9, at or before {through}: {found:?}, expected {expected:?}"
        );
    }

    let big = checkpoint(1_000_000_000_007, &vec![7u8; 64 * 1024]);
    store.put_checkpoint(&session, &big).await?;
    expect_latest(
        store.latest_checkpoint(&session).await?,
        Some(&big),
        "large seq",
    )?;

    // Sessions are isolated.
    expect_latest(
        store.latest_checkpoint(&other).await?,
        None,
        "second session",
    )?;
    let other_cp = checkpoint(2, b"other");
    store.put_checkpoint(&other, &other_cp).await?;
    expect_latest(
        store.latest_checkpoint(&other).await?,
        Some(&other_cp),
        "second session",
    )?;
    expect_latest(
        store.latest_checkpoint(&session).await?,
        Some(&big),
        "first session",
    )?;
    Ok(())
}

/// A prefix no other suite run (in this or another process) uses.
pub(crate) fn unique_prefix() -> String {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    let call = CALLS.fetch_add(1, Ordering::Relaxed);
    format!("conf-{}-{nanos}-{call}", std::process::id())
}

fn session_id(prefix: &str, name: &str) -> anyhow::Result<SessionId> {
    Ok(SessionId::new(format!("{prefix}-{name}"))?)
}

/// An entry of `kind` with a payload no reader decodes: stores count by kind alone.
fn kind_entry(kind: &str, seq: Seq) -> LogEntry {
    LogEntry {
        seq,
        observed_at_ms: 1_700_000_000_000 + seq,
        joins: Joins::default(),
        event: EventEnvelope {
            kind: kind.to_owned(),
            version: 1,
            payload: json!({ "seq": seq }),
        },
    }
}

/// A `turn.completed` entry whose usage records `cost_nanos` (the only part of the
/// payload a store reads).
fn turn_entry(seq: Seq, cost_nanos: u64) -> LogEntry {
    let mut entry = kind_entry(TurnCompleted::KIND, seq);
    entry.event.payload = json!({ "usage": { "input_tokens": 1, "output_tokens": 1,
        "cost_nanos": cost_nanos } });
    entry
}

/// A small entry whose payload names `tag` and `seq`.
fn entry(tag: &str, seq: Seq) -> LogEntry {
    LogEntry {
        seq,
        observed_at_ms: 1_700_000_000_000 + seq,
        joins: Joins::default(),
        event: EventEnvelope {
            kind: "conformance.test.entry".into(),
            version: 1,
            payload: json!({ "tag": tag, "seq": seq }),
        },
    }
}

/// An entry exercising every field and awkward payload text (newlines, quotes,
/// non-ASCII), which line-oriented or JSON-column backends must keep intact.
fn rich_entry(seq: Seq) -> LogEntry {
    let removed = CoreEvent::from(ContextItemRemoved {
        key: "line one\nline two \"quoted\" \\ tab\t ünïcödé ✓ \u{1F600}".into(),
    });
    LogEntry {
        seq,
        observed_at_ms: u64::MAX,
        joins: Joins {
            run_id: Some(RunId::from_ordinal(7)),
            turn: Some(3),
            tool_batch: Some(2),
            tool_call_id: ToolCallId::new("call_abc-1.2:3").ok(),
        },
        event: removed.encode(),
    }
}

/// An entry carrying a real CoreAgent event with an empty payload object.
fn closed_entry(seq: Seq) -> LogEntry {
    LogEntry {
        seq,
        observed_at_ms: 0,
        joins: Joins::default(),
        event: CoreEvent::from(SessionClosed {}).encode(),
    }
}

fn expect_outcome(
    result: Result<AppendOutcome, StoreError>,
    want: AppendOutcome,
    what: &str,
) -> anyhow::Result<()> {
    match result {
        Ok(outcome) if outcome == want => Ok(()),
        other => bail!("{what}: expected {want:?}, got {other:?}"),
    }
}

fn expect_conflict(
    result: Result<AppendOutcome, StoreError>,
    expected: Seq,
    actual: Seq,
    what: &str,
) -> anyhow::Result<()> {
    match result {
        Err(StoreError::HeadConflict {
            expected: e,
            actual: a,
        }) if e == expected && a == actual => Ok(()),
        other => bail!(
            "{what}: expected HeadConflict {{ expected: {expected}, actual: {actual} }}, got {other:?}"
        ),
    }
}

fn expect_entries(actual: Vec<LogEntry>, want: &[LogEntry], what: &str) -> anyhow::Result<()> {
    if actual == want {
        return Ok(());
    }
    let seqs = |entries: &[LogEntry]| entries.iter().map(|e| e.seq).collect::<Vec<_>>();
    bail!(
        "{what}: read seqs {:?}, expected {:?}{}",
        seqs(&actual),
        seqs(want),
        if seqs(&actual) == seqs(want) {
            " (same seqs, different content)"
        } else {
            ""
        }
    )
}
