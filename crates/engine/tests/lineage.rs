#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Sub-agents through a full-state drive: a parent links the children its calls
//! start, holds `agent_wait` without a tool until it hears of their runs' ends
//! (idempotently), and a child owes its parent a notice of each run's end, delivered
//! before anything else.

use engine::core::command::{CoreCommand, Rejection};
use engine::core::effects::{Later, ToolResult};
use engine::core::event::CoreEvent;
use engine::core::lineage::{ChildRunStatus, ChildStarted, ChildWait, ParentLink};
use engine::core::run::{CallHold, RunPhase, ToolStatus};
use engine::core::state::SessionState;
use engine::core::tools::ToolSpec;
use engine::core::wellknown;
use engine::drive::{Action, Drive, ToolBatchIntent};
use engine::{RunId, SessionId};

mod common;
use common::*;

fn open(id: &str, parent: Option<ParentLink>) -> Drive<SessionState> {
    let tools = ["agent_spawn", "agent_wait"]
        .into_iter()
        .map(|name| ToolSpec::new(name, blob(name)))
        .collect();
    common::open(id, Default::default(), parent, tools)
}

fn session(id: &str) -> SessionId {
    SessionId::new(id).unwrap()
}

/// The parent's run spawns `children` in one batch; returns the open batch.
fn spawn(drive: &mut Drive<SessionState>, children: &[&str]) -> ToolBatchIntent {
    let intent = start(drive, "fan-out");
    let names = vec!["agent_spawn"; children.len()];
    let (Action::InvokeTools(batch), _) = generate(drive, &intent, calls(&names), 2_100) else {
        panic!("spawns run as tools");
    };
    let results = batch
        .calls
        .iter()
        .zip(children)
        .map(|(call, child)| {
            let mut result = ToolResult::now(call.call_id.clone(), ToolStatus::Ok, blob(child), 4);
            result.child = Some(ChildStarted {
                session_id: session(child),
                run_id: RunId::from_ordinal(1),
                budget_nanos: Default::default(),
            });
            result
        })
        .collect();
    let _ = drive.resume_tool_results(&batch.run_id, batch.batch, results, 2_200);
    batch
}

fn finished(child: &str, run: u64) -> CoreCommand {
    CoreCommand::ChildRunFinished {
        child: session(child),
        run_id: RunId::from_ordinal(run),
        status: ChildRunStatus::Completed,
    }
}

#[test]
fn a_wait_holds_no_tool_until_every_child_is_heard_of_and_then_runs_again() {
    let mut parent = open("parent", None);
    spawn(&mut parent, &["child-a", "child-b"]);
    let (Action::GenerateLlm(intent), events) = settle(&mut parent) else {
        panic!("the spawns' results go back to the model");
    };
    let started: Vec<_> = events
        .iter()
        .filter_map(|event| match event {
            CoreEvent::ChildRunStarted(e) => Some((e.child.to_string(), e.spawned)),
            _ => None,
        })
        .collect();
    assert_eq!(
        started,
        [("child-a".into(), true), ("child-b".into(), true)]
    );
    assert_eq!(parent.state().control.children.len(), 2);

    let (Action::InvokeTools(batch), _) =
        generate(&mut parent, &intent, calls(&["agent_wait"]), 3_000)
    else {
        panic!("agent_wait runs as a tool first");
    };
    let call_id = batch.calls[0].call_id.clone();
    let mut waiting = ToolResult::now(call_id.clone(), ToolStatus::Ok, blob("waiting"), 1);
    waiting.later = Some(Later::Children {
        waits: ["child-a", "child-b"]
            .iter()
            .map(|child| ChildWait {
                session_id: session(child),
                run_id: RunId::from_ordinal(1),
            })
            .collect(),
        any: false,
        until_ms: Some(60_000),
    });
    let _ = parent.resume_tool_results(&batch.run_id, batch.batch, vec![waiting], 3_100);
    let (action, events) = settle(&mut parent);
    assert_eq!(action, Action::Idle, "no activity while the children run");
    assert!(matches!(
        events.as_slice(),
        [CoreEvent::ToolAwaitingChildren(_)]
    ));
    assert!(matches!(
        &phase(&parent),
        RunPhase::AwaitingTools { calls, .. } if matches!(calls[0].hold, Some(CallHold::Children { .. }))
    ));
    assert_eq!(parent.state().control.next_deadline_ms(), Some(60_000));

    // One child is not enough for "all"; a repeated notice changes nothing.
    parent.admit(finished("child-a", 1), 4_000).unwrap();
    assert_eq!(settle(&mut parent).0, Action::Idle);
    assert!(matches!(
        parent.admit(finished("child-a", 1), 4_100),
        Err(Rejection::AlreadyRecorded(_))
    ));
    assert!(matches!(
        parent.admit(finished("stranger", 1), 4_100),
        Err(Rejection::UnknownChild(_))
    ));
    parent.admit(finished("child-b", 1), 5_000).unwrap();
    let (Action::InvokeTools(again), _) = settle(&mut parent) else {
        panic!("the met wait runs again to read the answers");
    };
    assert_eq!(again.calls[0].call_id, call_id);
    let answers = ToolResult::now(call_id, ToolStatus::Ok, blob("answers"), 8);
    let _ = parent.resume_tool_results(&again.run_id, again.batch, vec![answers], 5_100);
    assert!(matches!(settle(&mut parent).0, Action::GenerateLlm(_)));
}

#[test]
fn a_wait_that_times_out_gets_the_fixed_result() {
    let mut parent = open("parent", None);
    spawn(&mut parent, &["child-a"]);
    let batch = wait_call(&mut parent);
    let mut waiting = ToolResult::now(batch.calls[0].call_id.clone(), ToolStatus::Ok, blob("w"), 1);
    waiting.later = Some(Later::Children {
        waits: vec![ChildWait {
            session_id: session("child-a"),
            run_id: RunId::from_ordinal(1),
        }],
        any: true,
        until_ms: Some(10_000),
    });
    let _ = parent.resume_tool_results(&batch.run_id, batch.batch, vec![waiting], 3_100);
    settle(&mut parent);
    parent
        .admit(CoreCommand::FireTimers { now_ms: 10_000 }, 10_000)
        .unwrap();
    let (action, events) = settle(&mut parent);
    assert!(events.iter().any(|event| matches!(event,
        CoreEvent::ToolResultRecorded(e)
            if e.item.content_ref == engine::BlobRef::of_bytes(wellknown::TOOL_CHILDREN_WAIT_EXPIRED_OUTPUT))));
    assert!(matches!(action, Action::GenerateLlm(_)));
}

#[test]
fn an_end_heard_of_before_the_wait_is_recorded_releases_it_at_once() {
    let mut parent = open("parent", None);
    spawn(&mut parent, &["child-a"]);
    let batch = wait_call(&mut parent);
    // The child finished while agent_wait's tool was reading its status.
    parent.admit(finished("child-a", 1), 3_050).unwrap();
    settle(&mut parent);
    let mut waiting = ToolResult::now(batch.calls[0].call_id.clone(), ToolStatus::Ok, blob("w"), 1);
    waiting.later = Some(Later::Children {
        waits: vec![ChildWait {
            session_id: session("child-a"),
            run_id: RunId::from_ordinal(1),
        }],
        any: false,
        until_ms: None,
    });
    let _ = parent.resume_tool_results(&batch.run_id, batch.batch, vec![waiting], 3_100);
    assert!(
        matches!(settle(&mut parent).0, Action::InvokeTools(_)),
        "the wait is met already: the call runs again"
    );
}

#[test]
fn a_child_tells_its_parent_of_each_run_end_before_anything_else() {
    let parent = ParentLink {
        session_id: session("parent"),
        depth: 1,
    };
    let mut child = open("child-a", Some(parent));
    let intent = start(&mut child, "work");
    drive_to_answer(&mut child, &intent);
    let (Action::NotifyParent(notice), _) = settle(&mut child) else {
        panic!("the run's end is owed to the parent");
    };
    assert_eq!(notice.parent, session("parent"));
    assert_eq!(notice.run_id, RunId::from_ordinal(1));
    assert_eq!(notice.status, ChildRunStatus::Completed);
    // Level-triggered until acknowledged.
    assert!(matches!(settle(&mut child).0, Action::NotifyParent(_)));
    child
        .admit(
            CoreCommand::ParentNotified {
                run_id: notice.run_id.clone(),
                delivered: true,
            },
            9_000,
        )
        .unwrap();
    assert_eq!(settle(&mut child).0, Action::Idle);
    assert!(matches!(
        child.admit(
            CoreCommand::ParentNotified {
                run_id: notice.run_id,
                delivered: true
            },
            9_100
        ),
        Err(Rejection::StaleResult { .. })
    ));
    // A session without a parent owes nothing.
    let mut root = open("root", None);
    let intent = start(&mut root, "work");
    drive_to_answer(&mut root, &intent);
    assert_eq!(settle(&mut root).0, Action::Idle);
    // Too deep a lineage is refused at open.
    let mut deep = Drive::new(SessionState::default());
    let refused = deep.admit(
        CoreCommand::OpenSession {
            session_id: session("deep"),
            config: common::config(Default::default()),
            instructions: None,
            parent: Some(ParentLink {
                session_id: session("parent"),
                depth: engine::core::lineage::DEPTH_MAX + 1,
            }),
        },
        1_000,
    );
    assert!(matches!(refused, Err(Rejection::TooMany { .. })));
}

/// The model calls `agent_wait` after the spawns: its batch.
fn wait_call(parent: &mut Drive<SessionState>) -> ToolBatchIntent {
    let (Action::GenerateLlm(intent), _) = settle(parent) else {
        panic!("generation");
    };
    let (Action::InvokeTools(batch), _) = generate(parent, &intent, calls(&["agent_wait"]), 3_000)
    else {
        panic!("agent_wait");
    };
    batch
}

/// Answers the run's generation with plain text.
fn drive_to_answer(drive: &mut Drive<SessionState>, intent: &engine::drive::GenerationIntent) {
    let _ = generate(drive, intent, calls(&[]), 8_000);
}

#[test]
fn budgets_given_to_children_count_against_the_parents_budget() {
    let mut parent = Drive::new(SessionState::default());
    let mut config = common::config(Default::default());
    config.budget.cost_nanos_max = Some(1_000);
    parent
        .admit(
            CoreCommand::OpenSession {
                session_id: session("parent"),
                config,
                instructions: None,
                parent: None,
            },
            1_000,
        )
        .unwrap();
    let tools = vec![ToolSpec::new("agent_spawn", blob("agent_spawn"))];
    let replace = CoreCommand::ReplaceTools {
        expected_revision: 0,
        tools,
    };
    parent.admit(replace, 1_000).unwrap();
    let intent = start(&mut parent, "fund");
    let (Action::InvokeTools(batch), _) =
        generate(&mut parent, &intent, calls(&["agent_spawn"]), 2_100)
    else {
        panic!("spawn runs as a tool");
    };
    let mut spawned = ToolResult::now(batch.calls[0].call_id.clone(), ToolStatus::Ok, blob("a"), 4);
    spawned.child = Some(ChildStarted {
        session_id: session("child-a"),
        run_id: RunId::from_ordinal(1),
        budget_nanos: Some(1_000),
    });
    let _ = parent.resume_tool_results(&batch.run_id, batch.batch, vec![spawned], 2_200);
    // Everything was given away: the parent's next generation is refused.
    let (_, events) = settle(&mut parent);
    let failed = events.iter().find_map(|event| match event {
        CoreEvent::RunFinished(e) => Some(e.outcome.clone()),
        _ => None,
    });
    assert!(
        matches!(
            failed,
            Some(engine::core::run::RunOutcome::Failed {
                failure: engine::core::run::RunFailure::LimitExceeded {
                    limit: engine::core::run::LimitKind::SessionCost,
                    used: 1_000,
                    max: 1_000,
                }
            })
        ),
        "{events:#?}"
    );
    assert_eq!(parent.state().control.tree_cost_nanos(), 1_000);
}
