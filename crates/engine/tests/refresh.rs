#![allow(clippy::unwrap_used, clippy::expect_used)]
//! A generation's context refresh and inline compaction through a full-state drive:
//! the request a host refreshes before sending equals what the engine records, and a
//! provider's compaction item drops the transcript before it.

use engine::core::command::CoreCommand;
use engine::core::config::{CompactionMode, ModelRoute, SessionConfig};
use engine::core::context::{ItemKind, ItemSpec};
use engine::core::effects::{GenerationOutcome, GenerationResult};
use engine::core::refresh::{ContextRefresh, SourcedItem};
use engine::core::request::GenerationRequest;
use engine::core::run::Usage;
use engine::core::state::SessionState;
use engine::drive::{Action, Drive, GenerationIntent, Resumed};
use engine::{BlobRef, SessionId, SubmissionId};

fn blob(text: &str) -> BlobRef {
    BlobRef::of_bytes(text.as_bytes())
}

fn settle(drive: &mut Drive<SessionState>) -> Action {
    loop {
        match drive.next_action() {
            Action::AppendEvents { .. } => drive.resume_appended().unwrap(),
            action => return action,
        }
    }
}

fn run(drive: &mut Drive<SessionState>, n: u32) -> GenerationIntent {
    let run = CoreCommand::RequestRun {
        submission_id: SubmissionId::new(format!("sub-{n}")).unwrap(),
        input: vec![ItemSpec::new(
            ItemKind::UserMessage,
            blob(&format!("question {n}")),
            2,
        )],
        overrides: Default::default(),
    };
    drive.admit(run, 2).unwrap();
    let Action::GenerateLlm(intent) = settle(drive) else {
        panic!("expected a generation");
    };
    intent
}

fn session() -> Drive<SessionState> {
    let mut config = SessionConfig {
        model: ModelRoute {
            provider_id: "openai".into(),
            api_kind: "openai:responses".into(),
            model: "gpt-5".into(),
        },
        generation: Default::default(),
        context: Default::default(),
        run_limits: Default::default(),
        tool_policy: Default::default(),
        budget: Default::default(),
    };
    config.context.compaction = CompactionMode::Manual;
    let mut drive = Drive::new(SessionState::default());
    let open = CoreCommand::OpenSession {
        session_id: SessionId::new("sess-refresh").unwrap(),
        config,
        instructions: Some(ItemSpec::new(ItemKind::Instructions, blob("be brief"), 2)),
        parent: Default::default(),
    };
    drive.admit(open, 1).unwrap();
    drive
}

fn answer(items: Vec<ItemSpec>, refresh: ContextRefresh) -> GenerationOutcome {
    GenerationOutcome::Completed(GenerationResult {
        usage: Usage::default(),
        response_id: None,
        items,
        tool_calls: Vec::new(),
        finish_reason: None,
        context_tokens: Some(5_000),
        request_ref: None,
        context_refresh: refresh,
    })
}

fn sourced(key: &str, kind: ItemKind, text: &str) -> SourcedItem {
    SourcedItem {
        key: key.into(),
        spec: ItemSpec::new(kind, blob(text), 4),
    }
}

#[test]
fn the_refreshed_request_is_what_the_engine_records() {
    let mut drive = session();
    let mut turn_items = Vec::new();
    for (n, agents) in [(1, "rules v1"), (2, "rules v1"), (3, "rules v2")] {
        let intent = run(&mut drive, n);
        let request = GenerationRequest::rebuild(drive.state()).unwrap();
        assert_eq!(request.fingerprint(), intent.fingerprint);
        let mut refresh = ContextRefresh {
            upserts: vec![
                sourced("source:agents:/w/AGENTS.md", ItemKind::Instructions, agents),
                sourced("source:skills", ItemKind::Catalog, "skills: review"),
            ],
            removed: Vec::new(),
        };
        if n == 3 {
            refresh.upserts.pop();
            refresh.removed.push("source:skills".into());
        }
        let sent = request.refreshed(drive.state(), &refresh).unwrap();
        let outcome = answer(
            vec![ItemSpec::new(
                ItemKind::AssistantMessage,
                blob(&format!("answer {n}")),
                2,
            )],
            refresh,
        );
        let resumed = drive.resume_generation(&intent.run_id, intent.turn, outcome, 3);
        assert!(matches!(resumed, Resumed::Applied), "{resumed:?}");
        assert_eq!(settle(&mut drive), Action::Idle);
        let recorded: Vec<_> = drive.state().context.items().to_vec();
        let answer_item = recorded.last().unwrap().clone();
        turn_items.push(answer_item.clone());
        let without_answer: Vec<_> = recorded
            .into_iter()
            .filter(|item| *item != answer_item)
            .collect();
        assert_eq!(without_answer, sent.items, "turn {n}");
        // The control state's fingerprint inputs agree with the full state's.
        let control = &drive.state().control.context;
        assert_eq!(
            control.item_count as usize,
            drive.state().context.items().len()
        );
    }
    let kinds: Vec<_> = drive
        .state()
        .context
        .items()
        .iter()
        .map(|item| item.kind)
        .collect();
    assert_eq!(
        kinds[0],
        ItemKind::Instructions,
        "the session's own instructions"
    );
    assert_eq!(
        kinds[1],
        ItemKind::Instructions,
        "AGENTS.md, replaced in place"
    );
    assert!(
        !kinds.contains(&ItemKind::Catalog),
        "the removed catalog is gone"
    );
    let agents = &drive.state().context.items()[1];
    assert_eq!(agents.content_ref, blob("rules v2"));
    // Ordinal 1 is the first question, which came before the first refresh.
    assert_eq!(
        agents.ordinal, 2,
        "a changed file keeps the place it first got"
    );
}

#[test]
fn a_refresh_outside_the_source_namespace_fails_the_turn_as_invalid() {
    let mut drive = session();
    let intent = run(&mut drive, 1);
    let refresh = ContextRefresh {
        upserts: vec![sourced("instructions", ItemKind::Instructions, "hijack")],
        removed: Vec::new(),
    };
    let outcome = answer(Vec::new(), refresh);
    let resumed = drive.resume_generation(&intent.run_id, intent.turn, outcome, 3);
    assert!(matches!(resumed, Resumed::Invalid { .. }), "{resumed:?}");
}

#[test]
fn an_inline_compaction_item_replaces_the_transcript_before_it() {
    let mut drive = session();
    for n in 1..=2 {
        let intent = run(&mut drive, n);
        let outcome = answer(
            vec![ItemSpec::new(
                ItemKind::AssistantMessage,
                blob(&format!("answer {n}")),
                2,
            )],
            ContextRefresh::default(),
        );
        let resumed = drive.resume_generation(&intent.run_id, intent.turn, outcome, 3);
        assert!(matches!(resumed, Resumed::Applied));
        settle(&mut drive);
    }
    assert_eq!(drive.state().control.context.effective_tokens(), 5_000);
    let intent = run(&mut drive, 3);
    let outcome = answer(
        vec![
            ItemSpec::new(ItemKind::Compaction, blob("{\"type\":\"compaction\"}"), 100),
            ItemSpec::new(ItemKind::AssistantMessage, blob("answer 3"), 2),
        ],
        ContextRefresh::default(),
    );
    let resumed = drive.resume_generation(&intent.run_id, intent.turn, outcome, 3);
    assert!(matches!(resumed, Resumed::Applied));
    settle(&mut drive);
    let state = drive.state();
    let kinds: Vec<_> = state.context.items().iter().map(|item| item.kind).collect();
    assert_eq!(
        kinds,
        vec![
            ItemKind::Instructions,
            ItemKind::Compaction,
            ItemKind::AssistantMessage
        ]
    );
    assert_eq!(state.control.context.item_count, 3);
    assert_eq!(state.control.context.token_estimate, 104);
    assert_eq!(
        state.control.context.measured, None,
        "measured before compacting"
    );
}
