//! A fork on the real worker: `engine::fork::fork_session` (what `session/fork`
//! runs) forks a session at a cursor between two runs; the fork's items are the
//! source's up to the cursor, by the same refs, with no blob written but its base
//! checkpoint and item-list chunks; the worker then runs the fork, and the model is
//! sent the history up to the cursor and nothing the source did after it.

use std::collections::BTreeSet;
use std::path::Path;

use engine::core::fork::SessionForked;
use engine::core::run::RunOutcome;
use engine::core::state::SessionState;
use engine::rehydrate::{rehydrate, state_at};
use engine::{BlobRef, SessionId};
use serde_json::json;

use crate::harness::{Env, UNIVERSE, fast_settings};

/// Every blob of the universe's CAS (`cas/sha256/<aa>/<hex>`).
fn blobs(root: &Path) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let Ok(shards) = std::fs::read_dir(root.join("cas/sha256")) else {
        return found;
    };
    for shard in shards.flatten() {
        for blob in std::fs::read_dir(shard.path()).unwrap().flatten() {
            found.insert(format!("sha256:{}", blob.file_name().to_string_lossy()));
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fork_at_a_cursor_shares_the_history_up_to_it_by_reference() {
    let script = json!({"turns": [
        {"text": "Answer one: blue.", "match": {"last_user_contains": "first question"}},
        {"text": "Answer two: green.", "match": {"last_user_contains": "second question"}},
        {"text": "Fork answer: red.", "match": {"last_user_contains": "fork question"}},
    ]});
    let Some(env) = Env::start("fork", script, fast_settings()).await else {
        return;
    };
    let source = env.open("s-source").await;
    let first = env.request_run(&source, "sub-1", "first question").await;
    assert_eq!(env.outcome(&source, &first).await, RunOutcome::Completed);
    let cursor = env.log(&source).await.len() as u64;
    let second = env.request_run(&source, "sub-2", "second question").await;
    assert_eq!(env.outcome(&source, &second).await, RunOutcome::Completed);
    let root = env.data.path().join("universes").join(UNIVERSE);
    let before = blobs(&root);

    let fork = SessionId::new("s-fork").unwrap();
    let forked = engine::fork::fork_session(&env.store, &source, Some(cursor), &fork, 1, None)
        .await
        .unwrap();
    assert_eq!((forked.cursor, forked.safe_point), (cursor, cursor));

    // Transcript: the source's items up to the cursor, same ordinals and refs.
    let at_cursor: SessionState = state_at(&env.store, &source, cursor).await.unwrap();
    let now: SessionState = rehydrate(&env.store, &source).await.unwrap();
    let fork_state = rehydrate(&env.store, &fork).await.unwrap();
    assert_eq!(fork_state.context, at_cursor.context);
    assert!(now.context.items().len() > at_cursor.context.items().len());
    let fork_refs: BTreeSet<&BlobRef> = fork_state
        .context
        .items()
        .iter()
        .map(|item| &item.content_ref)
        .collect();
    for item in &now.context.items()[at_cursor.context.items().len()..] {
        assert!(
            !fork_refs.contains(&item.content_ref),
            "a later source item is in the fork"
        );
    }
    // No content copied: every item names a blob the source wrote; the only new
    // blobs are the base checkpoint and its item-list chunks.
    for blob in &fork_refs {
        assert!(
            before.contains(&blob.to_string()),
            "{blob} is not the source's"
        );
    }
    let mut manifests: BTreeSet<String> = forked
        .plan
        .chunks
        .iter()
        .map(|chunk| BlobRef::of_bytes(chunk).to_string())
        .collect();
    let log = env.log(&fork).await;
    let engine::core::event::CoreEvent::SessionForked(SessionForked { base_ref, .. }) =
        engine::core::event::CoreEvent::decode(&log[0].event).unwrap()
    else {
        panic!("the fork's log starts with session.forked");
    };
    manifests.insert(base_ref.to_string());
    let new: BTreeSet<String> = blobs(&root).difference(&before).cloned().collect();
    assert!(
        new.is_subset(&manifests),
        "new blobs {new:?}, manifests {manifests:?}"
    );
    assert!(new.contains(&base_ref.to_string()));

    // The worker runs the fork: it loads the fork from its checkpoint, and the model
    // gets the first exchange, not the second.
    let run = env.request_run(&fork, "sub-1", "fork question").await;
    assert_eq!(env.outcome(&fork, &run).await, RunOutcome::Completed);
    let requests = env.provider.requests();
    let sent = &requests.last().unwrap().raw_body;
    for kept in ["first question", "Answer one: blue.", "fork question"] {
        assert!(sent.contains(kept), "{kept:?} not sent: {sent}");
    }
    for later in ["second question", "Answer two: green."] {
        assert!(!sent.contains(later), "{later:?} leaked: {sent}");
    }
    let head = env.log(&fork).await.len() as u64;
    let control = env.control_at(&fork, head).await;
    let origin = control.forked_from.as_ref().unwrap();
    assert_eq!((&origin.session_id, origin.seq), (&source, cursor));
    // The source went on untouched.
    assert_eq!(rehydrate(&env.store, &source).await.unwrap(), now);
    env.shutdown().await;
}
