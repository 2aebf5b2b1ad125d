//! API conformance cases, context: compaction on request (`session/compact`) and
//! skills found in a session's mounts (`session/skills/*`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};

use super::client::Harness;
use super::fixtures::{finished_status, items, session_config};
use super::{Case, case};

const COMPACTED: &str = "lightspeed.core.context.compacted";

pub(super) const CASES: [Case; 3] = [
    case!(
        manual_compaction_summarises_an_idle_session,
        [
            "session/start",
            "run/start",
            "session/events/read",
            "session/compact"
        ]
    ),
    case!(
        skills_in_mounts_are_listed_and_pinned,
        [
            "blob/put",
            "vfs/snapshot/commit",
            "vfs/mount/put",
            "session/start",
            "session/skills/list",
            "session/skills/activate",
            "session/skills/deactivate",
            "run/start",
            "session/events/read"
        ]
    ),
    case!(
        provider_tools_are_checked_and_their_calls_and_citations_shown,
        ["session/start", "run/start", "session/events/read"]
    ),
];

pub(super) async fn manual_compaction_summarises_an_idle_session(h: Harness) -> anyhow::Result<()> {
    // The second turn answers the summariser's request.
    let script = json!({"turns": [
        {"text": "The build is green."},
        {"text": "Earlier: the user asked about the build; it is green."}
    ]});
    let ctx = h.start(script).await?;
    let a = ctx.a();
    a.start_session("s-compact").await;
    let run_id = a
        .start_run("s-compact", "sub-1", "Is the build green?")
        .await;
    let events = a.follow("s-compact", &run_id).await;
    assert_eq!(finished_status(&events, &run_id), "completed");
    let after = events.last().unwrap()["cursor"].as_u64().unwrap();

    let too_long = "x".repeat(api::types::context::COMPACT_INSTRUCTION_BYTES_MAX + 1);
    a.invalid(
        "session/compact",
        json!({"sessionId": "s-compact", "instruction": too_long}),
        "instruction",
        Some("inputTooLarge"),
    )
    .await;
    a.refused(
        "session/compact",
        json!({"sessionId": "s-nowhere"}),
        -32004,
        "sessionNotFound",
    )
    .await;
    let requested = a
        .call(
            "session/compact",
            json!({"sessionId": "s-compact", "instruction": "keep the build status"}),
        )
        .await;
    assert_eq!(requested["compaction"], 1, "{requested}");
    assert!(requested["cursor"].as_u64().unwrap() > after);
    let (events, _) = a
        .read_until("s-compact", after, |e| e["kind"] == COMPACTED)
        .await;
    let compaction: Vec<Value> = items(&events)
        .into_iter()
        .filter(|item| item["type"] == "compaction")
        .collect();
    assert_eq!(compaction.len(), 1, "{events:#?}");
    assert_eq!(compaction[0]["native"], false);
    assert_eq!(
        compaction[0]["summary"],
        "Earlier: the user asked about the build; it is green."
    );
    // Another universe cannot compact it.
    ctx.b()
        .refused(
            "session/compact",
            json!({"sessionId": "s-compact"}),
            -32004,
            "sessionNotFound",
        )
        .await;
    Ok(())
}

const SKILL: &str = "---\nname: release-notes\ndescription: Writes release notes from the \
changelog.\n---\n# Release notes\nRead CHANGELOG.md, then write one line per change.\n";

pub(super) async fn skills_in_mounts_are_listed_and_pinned(h: Harness) -> anyhow::Result<()> {
    let ctx = h.start(json!({"turns": [{"text": "Noted."}]})).await?;
    let a = ctx.a();
    let snapshot = a
        .commit(&[
            ("AGENTS.md", "Run the tests before you answer."),
            (".agents/skills/release-notes/SKILL.md", SKILL),
            // Not a skill: its name does not match its folder.
            (".agents/skills/other/SKILL.md", SKILL),
        ])
        .await;
    let mount = json!({"sessionId": "s-skills", "mountPath": "/repo", "mode": "readOnly",
                       "source": {"type": "snapshot", "snapshotRef": snapshot}});
    a.call("vfs/mount/put", mount).await;
    let config = session_config("readOnly");
    a.call(
        "session/start",
        json!({"sessionId": "s-skills", "config": config}),
    )
    .await;
    let listed = a
        .call("session/skills/list", json!({"sessionId": "s-skills"}))
        .await;
    assert_eq!(
        listed["skills"],
        json!([{
            "name": "release-notes",
            "description": "Writes release notes from the changelog.",
            "path": "/repo/.agents/skills/release-notes/SKILL.md",
            "active": false
        }])
    );
    let skill = json!({"sessionId": "s-skills", "name": "release-notes"});
    let active = a.call("session/skills/activate", skill.clone()).await;
    assert_eq!(active["active"], true);
    let listed = a
        .call("session/skills/list", json!({"sessionId": "s-skills"}))
        .await;
    assert_eq!(listed["skills"][0]["active"], true);
    a.refused(
        "session/skills/activate",
        json!({"sessionId": "s-skills", "name": "other"}),
        -32004,
        "skillNotFound",
    )
    .await;
    // A run with the skill pinned and AGENTS.md and the catalog refreshed in.
    let run_id = a.start_run("s-skills", "sub-1", "Write the notes.").await;
    let events = a.follow("s-skills", &run_id).await;
    assert_eq!(finished_status(&events, &run_id), "completed");
    let inactive = a.call("session/skills/deactivate", skill).await;
    assert_eq!(inactive["active"], false);
    ctx.b()
        .refused(
            "session/skills/list",
            json!({"sessionId": "s-skills"}),
            -32004,
            "sessionNotFound",
        )
        .await;
    Ok(())
}

pub(super) async fn provider_tools_are_checked_and_their_calls_and_citations_shown(
    h: Harness,
) -> anyhow::Result<()> {
    let script = json!({"turns": [{
        "hosted_tool": {"name": "web_search", "query": "rust 2024 edition",
            "results": [{"url": "https://doc.rust-lang.org/edition-guide/", "title": "Edition Guide"}]},
        "text": "The 2024 edition shipped with Rust 1.85.",
        "citations": [{"url": "https://doc.rust-lang.org/edition-guide/", "title": "Edition Guide"}]
    }]});
    let ctx = h.start(script).await?;
    let a = ctx.a();
    // A tool this API kind does not offer is refused before the session exists.
    let mut fetch = session_config("none");
    fetch["generation"]["providerParams"] = json!({"hosted_tools": [{"type": "web_fetch"}]});
    a.invalid(
        "session/start",
        json!({"sessionId": "s-hosted", "config": fetch}),
        "providerParams",
        Some("invalidProviderParams"),
    )
    .await;
    let mut config = session_config("none");
    config["generation"]["providerParams"] =
        json!({"hosted_tools": [{"type": "web_search", "allowed_domains": ["rust-lang.org"]}]});
    a.call(
        "session/start",
        json!({"sessionId": "s-hosted", "config": config}),
    )
    .await;
    let run_id = a
        .start_run("s-hosted", "sub-1", "When did the 2024 edition ship?")
        .await;
    let events = a.follow("s-hosted", &run_id).await;
    assert_eq!(finished_status(&events, &run_id), "completed");
    let items = items(&events);
    let call = items
        .iter()
        .find(|item| item["type"] == "hostedToolCall")
        .expect("the provider's search is shown");
    assert_eq!(call["tool"], "web_search");
    assert_eq!(call["detail"], "rust 2024 edition");
    let answer = items
        .iter()
        .find(|item| item["type"] == "assistantMessage")
        .unwrap();
    assert_eq!(
        answer["citations"],
        json!([{"url": "https://doc.rust-lang.org/edition-guide/", "title": "Edition Guide"}])
    );
    Ok(())
}
