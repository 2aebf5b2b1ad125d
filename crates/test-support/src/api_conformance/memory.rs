//! API conformance cases, memory: blocks created, read, listed, updated at a
//! revision, deleted (refused while attached unless forced), kept apart by universe;
//! attached to sessions, whose model edits them through the memory tools (an edit
//! over the block's limit is an error result with its typed code, which the model
//! sees); archival passages filed by the model or a client and found by the other.
//!
//! That an edited block is in every attached session's next request is checked
//! where the provider's requests can be read: `test-support/tests/scenarios` and the
//! Temporal end-to-end test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};

use super::client::Harness;
use super::fixtures::{finished_status, tool_results};
use super::{Case, case};

pub(super) const CASES: [Case; 2] = [
    case!(
        memory_blocks_are_validated_versioned_and_kept_apart,
        [
            "memory/blocks/create",
            "memory/blocks/read",
            "memory/blocks/list",
            "memory/blocks/update",
            "memory/blocks/delete",
            "session/start",
            "session/memory/attach",
            "session/memory/detach",
            "session/memory/list",
            "memory/archival/insert",
            "memory/archival/search",
            "memory/archival/delete"
        ]
    ),
    case!(
        memory_tools_edit_blocks_within_limits_and_search_archives,
        [
            "memory/blocks/create",
            "memory/blocks/read",
            "session/start",
            "session/memory/attach",
            "run/start",
            "session/events/read",
            "memory/archival/insert",
            "memory/archival/search"
        ]
    ),
];

fn labels(listed: &Value, field: &str) -> Vec<String> {
    listed[field]
        .as_array()
        .unwrap()
        .iter()
        .map(|block| block["label"].as_str().unwrap().to_owned())
        .collect()
}

pub(super) async fn memory_blocks_are_validated_versioned_and_kept_apart(
    h: Harness,
) -> anyhow::Result<()> {
    let ctx = h.start(json!({"turns": []})).await?;
    let (a, b) = (ctx.a(), ctx.b());
    let created = a
        .call(
            "memory/blocks/create",
            json!({"label": "persona", "description": "Who I am.", "value": "Terse.",
                   "limitBytes": 20}),
        )
        .await;
    assert_eq!(created["revision"], 1);
    assert_eq!(created["bytes"], 6);
    assert_eq!(created["readOnly"], false);
    a.call("memory/blocks/create", json!({"label": "human"}))
        .await;
    assert_eq!(
        a.call("memory/blocks/read", json!({"label": "persona"}))
            .await,
        created
    );
    let listed = a.call("memory/blocks/list", json!({})).await;
    assert_eq!(labels(&listed, "blocks"), ["human", "persona"]);
    assert!(
        listed["blocks"][0].get("value").is_none(),
        "no values listed"
    );

    // Every refusal has its code, and none stores anything.
    a.refused(
        "memory/blocks/create",
        json!({"label": "persona"}),
        -32009,
        "memoryBlockExists",
    )
    .await;
    for bad in ["", "Persona", "a b", &"x".repeat(65)] {
        a.refused(
            "memory/blocks/create",
            json!({"label": bad}),
            -32602,
            "invalidMemory",
        )
        .await;
    }
    a.refused(
        "memory/blocks/create",
        json!({"label": "big", "value": "x".repeat(21), "limitBytes": 20}),
        -32602,
        "memoryBlockTooLarge",
    )
    .await;
    a.refused(
        "memory/blocks/create",
        json!({"label": "huge", "limitBytes": 100_001}),
        -32602,
        "invalidMemory",
    )
    .await;
    a.refused(
        "memory/blocks/update",
        json!({"label": "persona", "expectedRevision": 1, "value": "x".repeat(21)}),
        -32602,
        "memoryBlockTooLarge",
    )
    .await;
    let updated = a
        .call(
            "memory/blocks/update",
            json!({"label": "persona", "expectedRevision": 1, "value": "Terse, kind."}),
        )
        .await;
    assert_eq!(updated["revision"], 2);
    let stale = a
        .refused(
            "memory/blocks/update",
            json!({"label": "persona", "expectedRevision": 1, "value": "Late."}),
            -32009,
            "memoryBlockConflict",
        )
        .await;
    assert_eq!(stale["currentRevision"], 2, "{stale}");
    a.refused(
        "memory/blocks/read",
        json!({"label": "nobody"}),
        -32004,
        "memoryBlockNotFound",
    )
    .await;

    // Attached to two sessions; delete is refused while attached, unless forced.
    a.start_session("one").await;
    a.start_session("two").await;
    for session in ["one", "two"] {
        let attached = a
            .call(
                "session/memory/attach",
                json!({"sessionId": session, "label": "persona"}),
            )
            .await;
        assert_eq!(attached["attached"], true);
        assert_eq!(
            attached["tools"],
            json!([
                "memory_replace",
                "memory_append",
                "memory_rethink",
                "archival_insert",
                "archival_search"
            ])
        );
    }
    a.refused(
        "session/memory/attach",
        json!({"sessionId": "one", "label": "nobody"}),
        -32004,
        "memoryBlockNotFound",
    )
    .await;
    let listed = a
        .call("session/memory/list", json!({"sessionId": "one"}))
        .await;
    assert_eq!(labels(&listed, "blocks"), ["persona"]);
    assert_eq!(listed["tools"].as_array().unwrap().len(), 5);
    a.refused(
        "memory/blocks/delete",
        json!({"label": "persona"}),
        -32009,
        "memoryBlockLinked",
    )
    .await;
    let detached = a
        .call(
            "session/memory/detach",
            json!({"sessionId": "one", "label": "persona"}),
        )
        .await;
    assert_eq!(detached["detached"], true);
    // The last block gone, so are the tools.
    let listed = a
        .call("session/memory/list", json!({"sessionId": "one"}))
        .await;
    assert_eq!(listed, json!({"blocks": [], "tools": []}));
    let deleted = a
        .call(
            "memory/blocks/delete",
            json!({"label": "persona", "force": true}),
        )
        .await;
    assert_eq!(deleted, json!({"deleted": true, "detached": 1}));

    // Another universe sees none of it, and may use the same labels.
    assert_eq!(
        b.call("memory/blocks/list", json!({})).await["blocks"],
        json!([])
    );
    b.refused(
        "memory/blocks/read",
        json!({"label": "human"}),
        -32004,
        "memoryBlockNotFound",
    )
    .await;
    b.call("memory/blocks/create", json!({"label": "human"}))
        .await;
    let listed = a.call("memory/blocks/list", json!({})).await;
    assert_eq!(labels(&listed, "blocks"), ["human"]);

    // Archival: filed, found by words and tags, deleted; never across universes.
    let filed = a
        .call(
            "memory/archival/insert",
            json!({"text": "The staging database lives in Frankfurt.", "tags": ["infra"]}),
        )
        .await;
    let id = filed["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 32);
    let found = a
        .call(
            "memory/archival/search",
            json!({"query": "staging database", "tags": ["infra"]}),
        )
        .await;
    assert_eq!(found["passages"], json!([filed]));
    let found = b
        .call("memory/archival/search", json!({"query": "staging"}))
        .await;
    assert_eq!(found["passages"], json!([]));
    assert_eq!(
        b.call("memory/archival/delete", json!({"id": id})).await["deleted"],
        false
    );
    for bad in [json!({"query": ""}), json!({"query": "x", "limit": 51})] {
        a.refused("memory/archival/search", bad, -32602, "invalidMemory")
            .await;
    }
    a.refused(
        "memory/archival/insert",
        json!({"text": "x".repeat(16 * 1024 + 1)}),
        -32602,
        "invalidMemory",
    )
    .await;
    assert_eq!(
        a.call("memory/archival/delete", json!({"id": id})).await["deleted"],
        true
    );
    let found = a
        .call("memory/archival/search", json!({"query": "staging"}))
        .await;
    assert_eq!(found["passages"], json!([]));
    Ok(())
}

pub(super) async fn memory_tools_edit_blocks_within_limits_and_search_archives(
    h: Harness,
) -> anyhow::Result<()> {
    let ctx = h
        .start(json!({"turns": [
            {"tool_calls": [
                {"name": "memory_replace", "arguments":
                    {"label": "project", "old_text": "status: draft", "new_text": "status: shipped"}},
                {"name": "memory_append", "arguments":
                    {"label": "project", "text": "x".repeat(200)}},
                {"name": "memory_replace", "arguments":
                    {"label": "project", "old_text": "absent", "new_text": "y"}},
                {"name": "archival_insert", "arguments":
                    {"text": "The release train leaves on Thursdays.", "tags": ["process"]}}
            ]},
            {"text": "Noted."},
            {"tool_calls": [
                {"name": "archival_search", "arguments": {"query": "deploy key rotation"}}
            ]},
            {"text": "Fridays."}
        ]}))
        .await?;
    let a = ctx.a();
    a.call(
        "memory/blocks/create",
        json!({"label": "project", "value": "status: draft", "limitBytes": 100}),
    )
    .await;
    a.start_session("agent").await;
    a.call(
        "session/memory/attach",
        json!({"sessionId": "agent", "label": "project"}),
    )
    .await;
    let run_id = a.start_run("agent", "sub-1", "Ship it and remember.").await;
    let events = a.follow("agent", &run_id).await;
    assert_eq!(finished_status(&events, &run_id), "completed");
    let results = tool_results(&events);
    // Calls of one batch may run in any order; each outcome is the same either way.
    let mut outcomes: Vec<(&str, &str, Option<&str>)> = results
        .iter()
        .map(|(name, status, output)| {
            let code = ["memoryBlockTooLarge", "memoryOldTextNotFound"]
                .into_iter()
                .find(|code| output.contains(code));
            (name.as_str(), status.as_str(), code)
        })
        .collect();
    outcomes.sort();
    // The model sees why, by code.
    assert_eq!(
        outcomes,
        [
            ("archival_insert", "ok", None),
            ("memory_append", "error", Some("memoryBlockTooLarge")),
            ("memory_replace", "error", Some("memoryOldTextNotFound")),
            ("memory_replace", "ok", None),
        ],
        "{results:?}"
    );
    let block = a
        .call("memory/blocks/read", json!({"label": "project"}))
        .await;
    assert_eq!(block["value"], "status: shipped");
    assert_eq!(block["revision"], 2);

    // What the model filed, a client finds; what a client filed, the model finds.
    let found = a
        .call(
            "memory/archival/search",
            json!({"query": "release train", "tags": ["process"]}),
        )
        .await;
    let passages = found["passages"].as_array().unwrap();
    assert_eq!(passages.len(), 1, "{found}");
    assert_eq!(
        passages[0]["text"],
        "The release train leaves on Thursdays."
    );
    a.call(
        "memory/archival/insert",
        json!({"text": "The deploy key rotation happens every Friday."}),
    )
    .await;
    let run_id = a
        .start_run("agent", "sub-2", "When does the key rotate?")
        .await;
    let events = a.follow("agent", &run_id).await;
    assert_eq!(finished_status(&events, &run_id), "completed");
    let results = tool_results(&events);
    let (name, status, output) = results.last().unwrap();
    assert_eq!((name.as_str(), status.as_str()), ("archival_search", "ok"));
    assert!(output.contains("every Friday"), "{output}");
    Ok(())
}
