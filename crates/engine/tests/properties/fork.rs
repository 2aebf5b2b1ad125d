//! (h) Forks: at any cursor of a generated log, `engine::fork::fork_session` forks
//! at the cursor's safe point (the cursor, or just before the run active there),
//! the fork's items are the source's at that point, its state rehydrates to the
//! planned bytes from its checkpoint and, pruned, from the base its first entry
//! names, it writes no blob but the base and item-list chunks, and it drives on.

use engine::core::command::CoreCommand;
use engine::core::config::RunOverrides;
use engine::core::context::{ItemKind, ItemSpec};
use engine::core::control::{ControlState, Lifecycle};
use engine::core::fork::{ForkError, plan_fork};
use engine::core::replay::ReplayError;
use engine::core::state::SessionState;
use engine::drive::{Action, Drive};
use engine::fork::{ForkFailure, fork_session};
use engine::memory::MemoryStore;
use engine::rehydrate::{rehydrate, state_at};
use engine::store::{CheckpointStore, SessionLog};
use engine::{BlobRef, LogEntry, Seq, SessionId, SubmissionId};

use std::cell::RefCell;

use super::{Stats, assert_same_bytes, ready, session_id};

const FORKED_AT_MS: u64 = 1_800_000_000_000;

pub(crate) fn check_fork(log: &[LogEntry], cursor: usize, stats: &RefCell<Stats>) {
    let store = MemoryStore::new();
    let source = session_id();
    if !log.is_empty() {
        ready(store.append(&source, 0, log)).unwrap();
    }
    let before = store.blob_refs();
    let fork_id = SessionId::new("sess-fork").unwrap();
    let cursor = cursor as Seq;
    let forked = match ready(fork_session(
        &store,
        &source,
        Some(cursor),
        &fork_id,
        FORKED_AT_MS,
        None,
    )) {
        Ok(forked) => forked,
        Err(ForkFailure::Fork(ForkError::NotOpen { seq })) => {
            let state = SessionState::replay(&log[..seq as usize]).unwrap();
            assert_eq!(state.control.lifecycle, Lifecycle::Uninitialized);
            assert_eq!(ready(store.head(&fork_id)).unwrap(), 0, "nothing appended");
            *stats.borrow_mut().forks.entry("not_open").or_default() += 1;
            return;
        }
        Err(err) => panic!("(h) fork at {cursor} of {}: {err}", log.len()),
    };
    // The safe point: the cursor unless a run is active there, then the entry just
    // before that run started.
    let safe = forked.safe_point;
    let at_cursor = SessionState::replay(&log[..cursor as usize]).unwrap();
    let source_state = SessionState::replay(&log[..safe as usize]).unwrap();
    assert!(source_state.control.runs.active.is_none(), "(h) safe point");
    let at = match &at_cursor.control.runs.active {
        None => {
            assert_eq!(safe, cursor, "(h) an idle cursor is its own safe point");
            "idle"
        }
        Some(run) => {
            let after = SessionState::replay(&log[..=safe as usize]).unwrap();
            let started = after.control.runs.active.as_ref().map(|run| &run.run_id);
            assert_eq!(
                started,
                Some(&run.run_id),
                "(h) forks before the run started"
            );
            "before_run"
        }
    };
    *stats.borrow_mut().forks.entry(at).or_default() += 1;
    let plan = &forked.plan;
    assert_eq!(plan.state.context, source_state.context, "(h) same items");
    assert_eq!(
        plan.state.control.context, source_state.control.context,
        "(h) same context aggregates"
    );
    let origin = plan.state.control.forked_from.as_ref().unwrap();
    assert_eq!((&origin.session_id, origin.seq), (&source, safe));
    // Pure: planning again gives the same plan.
    assert_eq!(
        &plan_fork(&source_state, fork_id.clone(), FORKED_AT_MS, None).unwrap(),
        plan
    );
    // Rehydrated from the checkpoint, then from the base the first entry names.
    let bytes = plan.state.to_canonical_bytes();
    for source_of_state in ["checkpoint", "base through entry 1"] {
        let full: SessionState = ready(rehydrate(&store, &fork_id)).unwrap();
        assert_same_bytes(&full.to_canonical_bytes(), &bytes, source_of_state);
        let control: ControlState = ready(state_at(&store, &fork_id, Seq::MAX)).unwrap();
        assert_eq!(
            control, plan.state.control,
            "(h) control from {source_of_state}"
        );
        ready(store.prune_checkpoints(&fork_id, 2)).unwrap();
    }
    // Only the base and chunks are new blobs; the items' content is only named.
    let mut allowed: Vec<BlobRef> = plan.chunks.iter().map(|c| BlobRef::of_bytes(c)).collect();
    allowed.push(BlobRef::of_bytes(&plan.checkpoint.state));
    for blob in store.blob_refs() {
        assert!(
            before.contains(&blob) || allowed.contains(&blob),
            "(h) the fork wrote {blob}"
        );
    }
    // The first entry cannot be folded without its base: a typed refusal.
    assert!(matches!(
        SessionState::default().apply(&plan.entry),
        Err(ReplayError::Inconsistent { seq: 1, .. })
    ));
    // The very same fork again is a retry (nothing new); another is refused.
    let retried = ready(fork_session(
        &store,
        &source,
        Some(cursor),
        &fork_id,
        FORKED_AT_MS,
        None,
    ));
    assert_eq!(retried.unwrap().plan, *plan, "(h) a retried fork");
    let later = FORKED_AT_MS + 1;
    assert!(matches!(
        ready(fork_session(
            &store,
            &source,
            Some(cursor),
            &fork_id,
            later,
            None
        )),
        Err(ForkFailure::ForkExists(_))
    ));
    // The fork is idle and takes a run.
    drive_on(plan.state.clone());
}

/// The fork takes a run: admitted, planned, appended after entry 1.
fn drive_on(state: SessionState) {
    assert!(state.control.runs.is_idle());
    let mut drive = Drive::new(state);
    let input = ItemSpec::new(ItemKind::UserMessage, BlobRef::of_bytes(b"on the fork"), 4);
    drive
        .admit(
            CoreCommand::RequestRun {
                submission_id: SubmissionId::new("fork-sub").unwrap(),
                input: vec![input],
                overrides: RunOverrides::default(),
            },
            FORKED_AT_MS + 1,
        )
        .unwrap();
    let Action::AppendEvents {
        expected_head,
        entries,
    } = drive.next_action()
    else {
        panic!("(h) a run request stages events");
    };
    assert_eq!(expected_head, 1);
    assert_eq!(entries[0].seq, 2);
    drive.resume_appended().unwrap();
}
