//! Memory end to end on real Temporal: a block shared by two sessions, edited by the
//! first session's model through `memory_replace`, is in the second session's next
//! request (and the first's), read by the worker's context refresh from the store;
//! a passage the first model files with `archival_insert` is found by the second
//! model's `archival_search`. Both sessions run on one worker over store-fs, against
//! the fake provider, whose recorded requests are the evidence.

use effects::memory_tools::memory_definitions;
use engine::core::command::CoreCommand;
use engine::core::run::RunOutcome;
use engine::core::tools::ToolSpec;
use engine::store::BlobStore;
use memory_registry::{BLOCKS_MAX, Block, BlockLabel, MemoryCatalog, SESSION_BLOCKS_MAX};
use serde_json::json;

use crate::harness::{Env, fast_settings};

#[tokio::test(flavor = "multi_thread")]
async fn a_shared_block_edited_in_one_session_is_in_the_others_next_request() {
    let script = json!({"turns": [
        {"tool_calls": [
            {"name": "memory_replace", "arguments":
                {"label": "project", "old_text": "status: draft", "new_text": "status: shipped"}},
            {"name": "archival_insert", "arguments":
                {"text": "The deploy key rotates every Friday.", "tags": ["ops"]}}
        ]},
        {"text": "Noted."},
        {"tool_calls": [{"name": "archival_search", "arguments": {"query": "deploy key"}}]},
        {"text": "Fridays."}
    ]});
    let Some(env) = Env::start("memory", script, fast_settings()).await else {
        return;
    };
    let block = Block::new(
        BlockLabel::new("project").unwrap(),
        "Where the project stands.".into(),
        "status: draft".into(),
        None,
        false,
        1,
    )
    .unwrap();
    env.store
        .memory_block_create(&block, BLOCKS_MAX)
        .await
        .unwrap();
    let (one, two) = (env.open("s-one").await, env.open("s-two").await);
    for session in [&one, &two] {
        // What `session/memory/attach` does: the link, then the tools.
        env.store
            .memory_link_put(session, &block.label, SESSION_BLOCKS_MAX)
            .await
            .unwrap();
        let mut upsert = Vec::new();
        for (name, bytes) in memory_definitions() {
            let definition_ref = env.store.put(bytes).await.unwrap();
            upsert.push(ToolSpec {
                name,
                definition_ref,
                class: None,
            });
        }
        env.admit(
            session,
            CoreCommand::PatchTools {
                expected_revision: 1,
                upsert,
                remove: Vec::new(),
            },
        )
        .await;
    }

    let run = env
        .request_run(&one, "sub-1", "We shipped; remember it.")
        .await;
    assert_eq!(env.outcome(&one, &run).await, RunOutcome::Completed);
    let run = env
        .request_run(&two, "sub-1", "When does the key rotate?")
        .await;
    assert_eq!(env.outcome(&two, &run).await, RunOutcome::Completed);

    let requests = env.provider.requests();
    assert_eq!(requests.len(), 4, "{requests:#?}");
    let bodies: Vec<&str> = requests.iter().map(|r| r.raw_body.as_str()).collect();
    // Pinned before the edit, as a memory block item.
    assert_eq!(pinned(bodies[0]), "status: draft", "{}", bodies[0]);
    // After it: in the editing session's next request, and in the other session's.
    for body in &bodies[1..] {
        assert_eq!(pinned(body), "status: shipped", "{body}");
    }
    // The other session's model found what the first one filed.
    assert!(bodies[3].contains("every Friday"), "{}", bodies[3]);
    let stored = env.store.memory_block_read(&block.label).await.unwrap();
    assert_eq!(
        stored.map(|b| (b.value, b.revision)),
        Some(("status: shipped".into(), 2))
    );
    env.shutdown().await;
}

/// The value of the memory block item in a request body (as JSON text).
fn pinned(body: &str) -> &str {
    let start = body
        .find("<memory_block label=")
        .expect("a memory block item");
    let rest = &body[start..];
    let open_end = rest.find(">\\n").expect("the item's opening tag") + 3;
    let close = rest
        .find("\\n</memory_block>")
        .expect("the item's closing tag");
    &rest[open_end..close]
}
