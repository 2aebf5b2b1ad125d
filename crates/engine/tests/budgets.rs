#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Cost budgets through a full-state drive: a looping agent (every generation asks
//! for a tool) is stopped by its run's budget and, across runs, by its session's;
//! the cost each turn records is what replay rebuilds, byte for byte.

use engine::core::command::CoreCommand;
use engine::core::config::{
    ConfigPatch, ModelRoute, RunLimitsPatch, RunOverrides, SessionBudget, SessionConfig,
};
use engine::core::context::{ItemKind, ItemSpec};
use engine::core::effects::{GenerationOutcome, GenerationResult, ToolResult};
use engine::core::event::CoreEvent;
use engine::core::run::{LimitKind, RunFailure, RunOutcome, ToolCallRequest, ToolStatus, Usage};
use engine::core::state::SessionState;
use engine::core::tools::ToolSpec;
use engine::drive::{Action, Drive, Resumed};
use engine::{BlobRef, LogEntry, SessionId, SubmissionId, ToolCallId};

/// What every generation of these tests costs: 0.003 USD.
const TURN_COST_NANOS: u64 = 3_000_000;

fn blob(text: &str) -> BlobRef {
    BlobRef::of_bytes(text.as_bytes())
}

/// A drive that keeps every committed entry, so a test can replay them.
struct Session {
    drive: Drive<SessionState>,
    log: Vec<LogEntry>,
    now_ms: u64,
}

impl Session {
    fn open(budget: SessionBudget) -> Self {
        let config = SessionConfig {
            model: ModelRoute {
                provider_id: "openai".into(),
                api_kind: "openai:responses".into(),
                model: "gpt-5".into(),
            },
            generation: Default::default(),
            context: Default::default(),
            run_limits: Default::default(),
            tool_policy: Default::default(),
            budget,
        };
        let mut session = Self {
            drive: Drive::new(SessionState::default()),
            log: Vec::new(),
            now_ms: 1_000,
        };
        let open = CoreCommand::OpenSession {
            session_id: SessionId::new("sess-budgets").unwrap(),
            config,
            instructions: None,
            parent: Default::default(),
        };
        session.admit(open);
        let tools = vec![ToolSpec::new("echo", blob("echo"))];
        session.admit(CoreCommand::ReplaceTools {
            expected_revision: 0,
            tools,
        });
        session
    }

    fn admit(&mut self, command: CoreCommand) {
        self.now_ms += 10;
        self.drive.admit(command, self.now_ms).unwrap();
    }

    /// Commits everything staged; returns the next effect.
    fn settle(&mut self) -> Action {
        loop {
            match self.drive.next_action() {
                Action::AppendEvents { entries, .. } => {
                    self.log.extend(entries);
                    self.drive.resume_appended().unwrap();
                }
                action => return action,
            }
        }
    }

    /// Starts a run and plays a model that asks for `echo` every turn, each
    /// generation costing [`TURN_COST_NANOS`], until the run ends. Returns how it
    /// ended and how many generations it made.
    fn run_looping_agent(
        &mut self,
        name: &str,
        limits: Option<RunLimitsPatch>,
    ) -> (RunOutcome, u32) {
        self.admit(CoreCommand::RequestRun {
            submission_id: SubmissionId::new(format!("sub-{name}")).unwrap(),
            input: vec![ItemSpec::new(ItemKind::UserMessage, blob(name), 2)],
            overrides: RunOverrides {
                limits,
                ..RunOverrides::default()
            },
        });
        let mut generations = 0;
        loop {
            self.now_ms += 10;
            match self.settle() {
                Action::GenerateLlm(intent) => {
                    generations += 1;
                    let outcome = looping_generation(intent.turn);
                    let resumed = self.drive.resume_generation(
                        &intent.run_id,
                        intent.turn,
                        outcome,
                        self.now_ms,
                    );
                    assert_eq!(resumed, Resumed::Applied);
                }
                Action::InvokeTools(batch) => {
                    let results = batch
                        .calls
                        .iter()
                        .map(|call| {
                            ToolResult::now(call.call_id.clone(), ToolStatus::Ok, blob("ok"), 1)
                        })
                        .collect();
                    let resumed = self.drive.resume_tool_results(
                        &batch.run_id,
                        batch.batch,
                        results,
                        self.now_ms,
                    );
                    assert_eq!(resumed, Resumed::Applied);
                }
                Action::Idle => break,
                other => panic!("unexpected action {other:?}"),
            }
        }
        let finished = self
            .drive
            .state()
            .control
            .runs
            .last_finished
            .clone()
            .unwrap();
        assert_eq!(finished.turns, generations);
        (finished.outcome, generations)
    }

    fn assert_replays_byte_for_byte(&self) {
        let replayed = SessionState::replay(&self.log).unwrap();
        assert_eq!(
            replayed.to_canonical_bytes(),
            self.drive.state().to_canonical_bytes()
        );
    }
}

/// A generation that asks for one more `echo` call, as a looping agent does.
fn looping_generation(turn: u32) -> GenerationOutcome {
    let call = ToolCallRequest {
        call_id: ToolCallId::new(format!("call_{turn}")).unwrap(),
        name: "echo".into(),
        arguments_ref: blob("{}"),
    };
    let mut item = ItemSpec::new(ItemKind::ToolCall, call.arguments_ref.clone(), 1);
    item.call_id = Some(call.call_id.clone());
    GenerationOutcome::Completed(GenerationResult {
        usage: Usage {
            input_tokens: 1_000,
            output_tokens: 100,
            cost_nanos: TURN_COST_NANOS,
            ..Usage::default()
        },
        response_id: None,
        items: vec![item],
        tool_calls: vec![call],
        finish_reason: None,
        context_tokens: None,
        request_ref: None,
        context_refresh: Default::default(),
    })
}

fn cost_limit(limit: LimitKind, used: u64, max: u64) -> RunOutcome {
    RunOutcome::Failed {
        failure: RunFailure::LimitExceeded { limit, used, max },
    }
}

#[test]
fn a_run_budget_stops_a_looping_agent_before_its_next_generation() {
    let mut session = Session::open(SessionBudget::default());
    // 0.01 USD: three generations (0.009) leave it unspent, the fourth (0.012)
    // reaches it, and no fifth starts.
    let limits = RunLimitsPatch {
        cost_nanos_max: Some(10_000_000),
        ..RunLimitsPatch::default()
    };
    let (outcome, generations) = session.run_looping_agent("loop", Some(limits));
    assert_eq!(generations, 4);
    assert_eq!(outcome, cost_limit(LimitKind::Cost, 12_000_000, 10_000_000));
    let control = &session.drive.state().control;
    assert_eq!(control.usage_total.cost_nanos, 4 * TURN_COST_NANOS);
    // Every turn recorded its own cost; the run's end repeats their sum.
    let recorded: u64 = session
        .log
        .iter()
        .map(|entry| engine::core::run::recorded_cost_nanos(&entry.event))
        .sum();
    assert_eq!(recorded, 4 * TURN_COST_NANOS);
    session.assert_replays_byte_for_byte();
}

#[test]
fn a_zero_budget_refuses_the_first_generation() {
    let mut session = Session::open(SessionBudget::default());
    let limits = RunLimitsPatch {
        cost_nanos_max: Some(0),
        ..RunLimitsPatch::default()
    };
    let (outcome, generations) = session.run_looping_agent("frozen", Some(limits));
    assert_eq!(generations, 0);
    assert_eq!(outcome, cost_limit(LimitKind::Cost, 0, 0));
}

#[test]
fn a_session_budget_spans_runs_and_stops_the_run_that_reaches_it() {
    // 0.02 USD over the session; each run may spend 0.009 (three generations).
    let mut session = Session::open(SessionBudget {
        cost_nanos_max: Some(20_000_000),
    });
    let limits = || {
        Some(RunLimitsPatch {
            cost_nanos_max: Some(9_000_000),
            ..RunLimitsPatch::default()
        })
    };
    let (first, generations) = session.run_looping_agent("one", limits());
    assert_eq!(
        (first, generations),
        (cost_limit(LimitKind::Cost, 9_000_000, 9_000_000), 3)
    );
    let (second, generations) = session.run_looping_agent("two", limits());
    assert_eq!(
        (second, generations),
        (cost_limit(LimitKind::Cost, 9_000_000, 9_000_000), 3)
    );
    // 18 of 20 spent: the third run's first generation starts (and overshoots), the
    // second is refused by the session's budget, not the run's.
    let (third, generations) = session.run_looping_agent("three", limits());
    assert_eq!(generations, 1);
    assert_eq!(
        third,
        cost_limit(LimitKind::SessionCost, 21_000_000, 20_000_000)
    );
    // Once used up, every further run fails before it generates at all.
    let (fourth, generations) = session.run_looping_agent("four", None);
    assert_eq!(generations, 0);
    assert_eq!(
        fourth,
        cost_limit(LimitKind::SessionCost, 21_000_000, 20_000_000)
    );
    session.assert_replays_byte_for_byte();

    // Raising the budget lets the session spend again.
    session.admit(CoreCommand::PatchConfig {
        expected_revision: 1,
        patch: ConfigPatch {
            budget: Some(SessionBudget {
                cost_nanos_max: Some(24_000_000),
            }),
            ..ConfigPatch::default()
        },
    });
    let (fifth, generations) = session.run_looping_agent("five", None);
    assert_eq!(generations, 1);
    assert_eq!(
        fifth,
        cost_limit(LimitKind::SessionCost, 24_000_000, 24_000_000)
    );
    let sums: Vec<u64> = session
        .log
        .iter()
        .filter_map(|entry| match CoreEvent::decode(&entry.event).unwrap() {
            CoreEvent::RunFinished(e) => Some(e.usage.cost_nanos),
            _ => None,
        })
        .collect();
    assert_eq!(sums, vec![9_000_000, 9_000_000, 3_000_000, 0, 3_000_000]);
    session.assert_replays_byte_for_byte();
}
