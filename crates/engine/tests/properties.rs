#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Property tests of the drive machine, run by an in-test host.
//!
//! A random sequence of host *steps* (commands, valid and invalid; effect results,
//! current and stale, well formed and bogus; crashes; lost append acknowledgements)
//! drives a `Drive<SessionState>` and a `Drive<ControlState>` side by side. The host
//! commits staged entries to an in-memory log through a canonical-bytes round trip, as
//! a store would. Checked throughout:
//!
//! - (a) replaying the committed log gives the driven state, byte for byte;
//! - (b) checkpoint at a random entry + the log tail gives the same bytes as a replay;
//! - (c) a rejected input stages nothing and changes neither projected nor committed state;
//! - (d) the control-only drive emits the same actions and rejections as the full one,
//!   and its state equals the full state's control part;
//! - (e) every emitted `GenerateLlm` rebuilds from state replayed to `planned_at`
//!   with the planned fingerprint;
//! - (f) the control state stays small however many turns happen (a dedicated
//!   long-session test shows it flat while the full state grows).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::json;

use engine::core::admit::Admitted;
use engine::core::command::{CoreCommand, Rejection};
use engine::core::config::{
    CompactionMode, ConfigPatch, ContextPolicy, GenerationConfig, ModelRoute, ProviderParams,
    RunLimits, RunLimitsPatch, RunOverrides, SessionConfig, ToolChoice,
};
use engine::core::context::{ItemKind, ItemSpec};
use engine::core::control::ControlState;
use engine::core::effects::{CompactionOutcome, GenerationOutcome, GenerationResult, ToolResult};
use engine::core::event::{CompactionReason, CoreEvent, EVENT_KINDS};
use engine::core::request::{GenerationRequest, RebuildError};
use engine::core::run::{EffectError, RunFailure, RunOutcome, ToolCallRequest, ToolStatus, Usage};
use engine::core::state::SessionState;
use engine::core::tools::ToolSpec;
use engine::drive::{
    Action, CompactionIntent, Drive, DriveState, GenerationIntent, ToolBatchIntent,
};
use engine::{BlobRef, LogEntry, RunId, SessionId, SubmissionId, ToolCallId};

/// Bound on the control state's canonical size asserted after every step.
const CONTROL_STATE_BYTES_MAX: usize = 64 * 1024;
const CASES: u32 = 128;
const STEPS_MAX: usize = 60;
/// `next_action` calls one host pump may make before it must reach an effect.
const PUMP_ROUNDS_MAX: usize = 16;

// ---------------------------------------------------------------------------------
// The properties
// ---------------------------------------------------------------------------------

#[test]
fn random_host_sequences_keep_every_drive_property() {
    let stats = RefCell::new(Stats::default());
    // `PROPTEST_CASES` raises the case count for a stress run.
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(CASES);
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&scenario(), |scenario| {
        run_scenario(&scenario, &stats);
        Ok(())
    });
    if let Err(err) = result {
        panic!("{err}");
    }
    let stats = stats.into_inner();
    eprintln!("{stats:#?}");
    // Guard against a vacuous generator: with a full case count the sequences reach
    // every event kind, both limit kinds that end runs early, watermark compaction,
    // crashes, checkpoint restores and retried appends.
    if cases >= CASES {
        stats.assert_coverage();
    }
}

/// Regression: compaction summed token estimates without saturating, so host-supplied
/// estimates could overflow (a panic in debug builds, a wrapped total in release).
#[test]
fn huge_token_estimates_saturate() {
    let mut host = ScriptHost::<SessionState>::open(session_config_default());
    host.admit(CoreCommand::RequestCompaction);
    let Action::CompactContext(intent) = host.settle() else {
        panic!("expected a compaction");
    };
    let huge = ItemSpec::new(
        ItemKind::Summary,
        BlobRef::of_bytes(b"summary"),
        u64::MAX / 2,
    );
    let at = host.tick();
    host.drive
        .resume_compaction(
            intent.compaction,
            CompactionOutcome::Compacted {
                summary: vec![huge.clone(), huge],
            },
            at,
        )
        .unwrap();
    host.settle();
    assert_eq!(host.drive.state().control.context.token_estimate, u64::MAX);
}

/// Regression: opaque provider params may hold any float; the canonical bytes must
/// decode to the very same value (serde_json's `float_roundtrip`), or a log read back
/// from a store replays to different bytes and rebuilds a different fingerprint.
#[test]
fn float_provider_params_survive_the_store_round_trip() {
    let mut config = session_config_default();
    config.generation.provider_params =
        ProviderParams(json!({ "temperature": 6.2975895298153804e66 }));
    let event = CoreEvent::from(engine::core::event::SessionOpened {
        session_id: session_id(),
        config,
    });
    let entry = LogEntry {
        seq: 1,
        observed_at_ms: 1,
        joins: engine::log::Joins::default(),
        event: event.encode(),
    };
    let stored = LogEntry::from_canonical_bytes(&entry.to_canonical_bytes()).unwrap();
    assert_eq!(stored, entry);
}

/// (f) Thousands of turns in one run: the control state stays flat while the full
/// state (the transcript) grows with every turn.
#[test]
fn control_state_stays_bounded_while_the_full_state_grows() {
    let mut config = session_config_default();
    config.context.compaction = CompactionMode::Manual;
    config.run_limits = RunLimits {
        turns_max: 1_000_000,
        tool_rounds_max: 1_000_000,
        output_tokens_max: u64::MAX,
    };
    let mut host = ScriptHost::<SessionState>::open(config);
    host.request_run("long-run");
    let mut sizes = Vec::new();
    for turn in 1..=2_000u32 {
        host.answer(1);
        if turn % 250 == 0 {
            let state = host.drive.state();
            sizes.push((
                turn,
                state.control.to_canonical_bytes().len(),
                state.to_canonical_bytes().len(),
            ));
        }
    }
    host.answer(0);
    let (_, control_first, full_first) = sizes[0];
    let (_, control_last, full_last) = sizes[sizes.len() - 1];
    eprintln!("(turn, control bytes, full bytes): {sizes:?}");
    let control_max = sizes.iter().map(|size| size.1).max().unwrap();
    assert!(
        control_max < CONTROL_STATE_BYTES_MAX,
        "control state reached {control_max} bytes"
    );
    // Only counters grow (a digit or two), never with the number of turns.
    assert!(
        control_last < control_first + 64,
        "control state grew from {control_first} to {control_last} bytes"
    );
    assert!(
        full_last > full_first * 7,
        "full state should grow with the transcript: {full_first} -> {full_last} bytes"
    );
}

/// (f) Many runs: the control state's only run-count-dependent part is the
/// submission window, so it plateaus once the window is full.
#[test]
fn control_state_plateaus_across_many_runs() {
    let mut config = session_config_default();
    config.context.compaction = CompactionMode::Manual;
    let mut host = ScriptHost::<ControlState>::open(config);
    let window = engine::core::limits::SUBMISSION_WINDOW_MAX;
    let mut at = BTreeMap::new();
    for run in 1..=window + 200 {
        host.request_run(&format!("sub-{run:06}"));
        host.answer(0);
        if run == 100 || run == window + 100 || run == window + 200 {
            at.insert(run, host.drive.state().to_canonical_bytes().len());
        }
    }
    let full_window = at[&(window + 100)];
    let later = at[&(window + 200)];
    eprintln!("control state bytes after (runs -> bytes): {at:?}");
    assert!(
        later.abs_diff(full_window) < 1_024,
        "control state kept growing after the submission window filled: \
         {full_window} -> {later} bytes"
    );
    // The window (256 submissions of ~130 bytes) dominates; it must stay under the
    // same ceiling the generated scenarios hold the control state to.
    assert!(
        later < CONTROL_STATE_BYTES_MAX,
        "control state is {later} bytes"
    );
}

// ---------------------------------------------------------------------------------
// Generated scenarios
// ---------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Scenario {
    open: Option<(SessionConfig, Option<ItemSpec>)>,
    steps: Vec<Step>,
    /// Where the final checkpoint check splits the log (modulo its length + 1).
    split: u16,
}

#[derive(Debug, Clone)]
enum Step {
    Admit {
        command: Cmd,
        dt_ms: u64,
    },
    /// Drive to the next effect (committing appends), then admit a command while that
    /// effect is in flight.
    InFlight {
        command: Cmd,
        dt_ms: u64,
    },
    /// Drive to the next effect (committing appends), then feed it a result.
    Resolve {
        outcome: Outcome,
        dt_ms: u64,
    },
    /// Feed a result to an effect seen earlier (late, duplicated or still current).
    ResolveStale {
        pick: u8,
        outcome: Outcome,
        dt_ms: u64,
    },
    /// Commit whatever is staged.
    Pump,
    /// Drop both drives, staged entries and all, and rebuild from the committed log;
    /// `commit_first` commits the staged entries without telling the drive first.
    Crash {
        commit_first: bool,
        checkpoint_at: Option<u16>,
    },
    /// Commit the staged append but lose the acknowledgement; the host retries it.
    LostAck,
}

/// A command with selectors resolved against the session when the step runs.
#[derive(Debug, Clone)]
enum Cmd {
    Open {
        config: SessionConfig,
        instructions: Option<ItemSpec>,
    },
    PatchConfig {
        revision_offset: i8,
        patch: ConfigPatch,
    },
    ReplaceTools {
        revision_offset: i8,
        tools: Vec<u8>,
    },
    PatchTools {
        revision_offset: i8,
        upsert: Vec<u8>,
        remove: Vec<u8>,
    },
    Upsert {
        key: u8,
        item: ItemSpec,
    },
    Remove {
        key: u8,
    },
    RequestRun {
        submission: u8,
        input: Vec<ItemSpec>,
        overrides: RunOverrides,
    },
    /// Repeats an earlier run request exactly (an idempotent retry).
    Resubmit {
        pick: u8,
    },
    Steer {
        run: RunSel,
        input: Vec<ItemSpec>,
    },
    Cancel {
        run: RunSel,
        reason: u8,
    },
    Compact,
    Close,
}

#[derive(Debug, Clone, Copy)]
enum RunSel {
    Active,
    Queued(u8),
    /// `back` runs before the newest one requested (often finished by now).
    Recent(u8),
    Unknown,
}

/// A result for whichever effect it is applied to.
#[derive(Debug, Clone)]
struct Outcome {
    /// Generation: 0-1 text only, 2-3 tool calls, 4 failure. Compaction: 2 failure.
    shape: u8,
    items: Vec<ItemSpec>,
    /// Tool calls in a generation: 1 + calls % 3.
    calls: u8,
    output_tokens: u64,
    /// Which of the outstanding tool calls get a result (bit per call).
    mask: u8,
    /// Which tool results report an error (bit per call).
    errors: u8,
    tokens: u64,
    flaw: Flaw,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flaw {
    None,
    /// Wrong turn, batch or compaction number.
    Stale,
    /// A tool result for a call that was never requested.
    BogusCall,
    /// The same tool call id twice.
    Duplicate,
    /// An over-long free-text field.
    LongText,
}

const TOOL_NAMES: [&str; 7] = [
    "read_file",
    "write_file",
    "grep",
    "shell",
    "",
    "bad name",
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
];
const VALID_TOOLS: u8 = 4;
const ITEM_KEYS: [&str; 7] = [
    "instructions",
    "catalog:mcp",
    "notes/pinned",
    "k.1",
    "",
    "has space",
    "key\u{e9}",
];
const VALID_KEYS: u8 = 4;
const TRANSCRIPT_KINDS: [ItemKind; 6] = [
    ItemKind::UserMessage,
    ItemKind::AssistantMessage,
    ItemKind::ToolCall,
    ItemKind::ToolResult,
    ItemKind::Reasoning,
    ItemKind::ProviderOpaque,
];
const OTHER_KINDS: [ItemKind; 3] = [ItemKind::Instructions, ItemKind::Catalog, ItemKind::Summary];

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        prop::option::weighted(0.95, (session_config(60), prop::option::of(item_spec()))),
        prop::collection::vec(step(), 1..=STEPS_MAX),
        any::<u16>(),
    )
        .prop_map(|(open, steps, split)| Scenario { open, steps, split })
}

fn step() -> impl Strategy<Value = Step> {
    let dt_ms = || 1u64..=5_000;
    prop_oneof![
        40 => (command(), dt_ms()).prop_map(|(command, dt_ms)| Step::Admit { command, dt_ms }),
        8 => (in_flight_command(), dt_ms())
            .prop_map(|(command, dt_ms)| Step::InFlight { command, dt_ms }),
        40 => (outcome(), dt_ms()).prop_map(|(outcome, dt_ms)| Step::Resolve { outcome, dt_ms }),
        5 => (any::<u8>(), outcome(), dt_ms())
            .prop_map(|(pick, outcome, dt_ms)| Step::ResolveStale { pick, outcome, dt_ms }),
        12 => Just(Step::Pump),
        4 => (any::<bool>(), prop::option::of(any::<u16>()))
            .prop_map(|(commit_first, checkpoint_at)| Step::Crash { commit_first, checkpoint_at }),
        3 => Just(Step::LostAck),
    ]
}

fn command() -> impl Strategy<Value = Cmd> {
    let revision_offset = || prop_oneof![8 => Just(0i8), 1 => -2i8..=2];
    let tool_picks = || prop::collection::vec(pick(VALID_TOOLS, TOOL_NAMES.len()), 0..4);
    prop_oneof![
        25 => (any::<u8>(), run_input(), run_overrides()).prop_map(
            |(submission, input, overrides)| Cmd::RequestRun { submission: submission % 6, input, overrides }
        ),
        5 => any::<u8>().prop_map(|pick| Cmd::Resubmit { pick }),
        10 => (run_sel(), run_input()).prop_map(|(run, input)| Cmd::Steer { run, input }),
        8 => (run_sel(), 0u8..=8).prop_map(|(run, reason)| Cmd::Cancel { run, reason }),
        8 => (pick(VALID_KEYS, ITEM_KEYS.len()), item_spec())
            .prop_map(|(key, item)| Cmd::Upsert { key, item }),
        4 => pick(VALID_KEYS, ITEM_KEYS.len()).prop_map(|key| Cmd::Remove { key }),
        6 => (revision_offset(), config_patch())
            .prop_map(|(revision_offset, patch)| Cmd::PatchConfig { revision_offset, patch }),
        4 => (revision_offset(), tool_picks())
            .prop_map(|(revision_offset, tools)| Cmd::ReplaceTools { revision_offset, tools }),
        4 => (revision_offset(), tool_picks(), tool_picks()).prop_map(
            |(revision_offset, upsert, remove)| Cmd::PatchTools { revision_offset, upsert, remove }
        ),
        6 => Just(Cmd::Compact),
        2 => (session_config(24), prop::option::of(item_spec()))
            .prop_map(|(config, instructions)| Cmd::Open { config, instructions }),
        1 => Just(Cmd::Close),
    ]
}

/// Mostly what hosts send while an effect runs: cancel or steer the active run.
fn in_flight_command() -> impl Strategy<Value = Cmd> {
    prop_oneof![
        2 => (0u8..=8).prop_map(|reason| Cmd::Cancel { run: RunSel::Active, reason }),
        2 => run_input().prop_map(|input| Cmd::Steer { run: RunSel::Active, input }),
        1 => command(),
    ]
}

/// Mostly one of the first `valid` indices, sometimes one of the invalid rest.
fn pick(valid: u8, len: usize) -> impl Strategy<Value = u8> {
    prop_oneof![9 => 0..valid, 1 => valid..len as u8]
}

fn run_sel() -> impl Strategy<Value = RunSel> {
    prop_oneof![
        6 => Just(RunSel::Active),
        2 => any::<u8>().prop_map(RunSel::Queued),
        2 => (0u8..4).prop_map(RunSel::Recent),
        1 => Just(RunSel::Unknown),
    ]
}

fn outcome() -> impl Strategy<Value = Outcome> {
    (
        0u8..5,
        prop::collection::vec(item_spec(), 0..3),
        any::<u8>(),
        prop_oneof![3 => 0u64..60, 1 => 0u64..400],
        prop_oneof![3 => Just(u8::MAX), 1 => any::<u8>()],
        any::<u8>(),
        tokens(),
        prop_oneof![
            12 => Just(Flaw::None),
            1 => Just(Flaw::Stale),
            3 => Just(Flaw::BogusCall),
            1 => Just(Flaw::Duplicate),
            1 => Just(Flaw::LongText),
        ],
    )
        .prop_map(
            |(shape, items, calls, output_tokens, mask, errors, tokens, flaw)| Outcome {
                shape,
                items,
                calls,
                output_tokens,
                mask,
                errors,
                tokens,
                flaw,
            },
        )
}

fn blob() -> impl Strategy<Value = BlobRef> {
    prop::collection::vec(any::<u8>(), 0..6).prop_map(|bytes| BlobRef::of_bytes(&bytes))
}

/// Small estimates, so the high-watermark fires, and rarely a huge one.
fn tokens() -> impl Strategy<Value = u64> {
    prop_oneof![16 => 0u64..40, 4 => 0u64..2_000, 1 => Just(u64::MAX / 2)]
}

fn item_spec() -> impl Strategy<Value = ItemSpec> {
    let kind = prop_oneof![
        9 => prop::sample::select(TRANSCRIPT_KINDS.to_vec()),
        1 => prop::sample::select(OTHER_KINDS.to_vec()),
    ];
    (kind, blob(), tokens()).prop_map(|(kind, content_ref, token_estimate)| {
        ItemSpec::new(kind, content_ref, token_estimate)
    })
}

fn run_input() -> impl Strategy<Value = Vec<ItemSpec>> {
    prop_oneof![
        1 => Just(Vec::new()),
        16 => prop::collection::vec(item_spec(), 1..3),
        1 => prop::collection::vec(item_spec(), 65..=65),
    ]
}

fn provider_params() -> impl Strategy<Value = ProviderParams> {
    prop_oneof![
        3 => Just(ProviderParams::default()),
        1 => (any::<f64>(), any::<i64>(), any::<bool>()).prop_map(|(temperature, seed, store)| {
            ProviderParams(json!({
                "temperature": temperature,
                "seed": seed,
                "store": store,
                "reasoning": { "summary": "auto", "effort": "low" },
            }))
        }),
    ]
}

fn run_limits() -> impl Strategy<Value = RunLimits> {
    prop_oneof![
        1 => Just(RunLimits::default()),
        1 => (1u32..6, 1u32..4, 1u64..400).prop_map(|(turns_max, tool_rounds_max, output_tokens_max)| {
            RunLimits { turns_max, tool_rounds_max, output_tokens_max }
        }),
    ]
}

fn context_policy() -> impl Strategy<Value = ContextPolicy> {
    let mode = prop_oneof![3 => Just(CompactionMode::Auto), 1 => Just(CompactionMode::Manual)];
    let watermark = prop_oneof![1 => Just(150_000u64), 1 => 20u64..400];
    (mode, watermark).prop_map(|(compaction, high_watermark_tokens)| ContextPolicy {
        compaction,
        high_watermark_tokens,
    })
}

/// A session config; 6 in `one_in` are invalid.
fn session_config(one_in: u8) -> impl Strategy<Value = SessionConfig> {
    let turn_cap = prop_oneof![Just(8_192u32), 1u32..300];
    (
        run_limits(),
        turn_cap,
        provider_params(),
        context_policy(),
        0..one_in,
    )
        .prop_map(
            |(run_limits, output_tokens_max, provider_params, context, flaw)| {
                let mut config = SessionConfig {
                    model: model_route("gpt-5"),
                    generation: GenerationConfig {
                        output_tokens_max,
                        tool_choice: ToolChoice::Auto,
                        provider_params,
                    },
                    context,
                    run_limits,
                };
                match flaw {
                    0 => config.model.model.clear(),
                    1 => config.generation.output_tokens_max = 0,
                    2 => config.generation.provider_params = ProviderParams(json!([1, 2])),
                    3 => config.context.high_watermark_tokens = 0,
                    4 => config.run_limits.turns_max = 0,
                    5 => {
                        config.generation.tool_choice = ToolChoice::Tool {
                            name: "bad name".into(),
                        }
                    }
                    _ => {}
                }
                config
            },
        )
}

fn config_patch() -> impl Strategy<Value = ConfigPatch> {
    (
        prop::option::of(prop_oneof![Just("gpt-5-mini"), Just("")]),
        prop::option::of(prop_oneof![5 => 1u32..500, 1 => Just(0u32)]),
        prop::option::of(prop_oneof![
            Just(ToolChoice::Auto),
            Just(ToolChoice::Required),
            Just(ToolChoice::Tool {
                name: "grep".into()
            }),
        ]),
        prop::option::of(provider_params()),
        prop::option::of(context_policy()),
        prop::option::of(run_limits_patch()),
    )
        .prop_map(
            |(model, output_tokens_max, tool_choice, provider_params, context, run_limits)| {
                ConfigPatch {
                    model: model.map(model_route),
                    output_tokens_max,
                    tool_choice,
                    provider_params,
                    context,
                    run_limits,
                }
            },
        )
}

fn run_limits_patch() -> impl Strategy<Value = RunLimitsPatch> {
    (
        prop::option::of(0u32..6),
        prop::option::of(1u32..4),
        prop::option::of(1u64..400),
    )
        .prop_map(
            |(turns_max, tool_rounds_max, output_tokens_max)| RunLimitsPatch {
                turns_max,
                tool_rounds_max,
                output_tokens_max,
            },
        )
}

fn run_overrides() -> impl Strategy<Value = RunOverrides> {
    prop_oneof![
        6 => Just(RunOverrides::default()),
        3 => run_limits_patch().prop_map(|limits| RunOverrides {
            limits: Some(limits),
            ..RunOverrides::default()
        }),
        1 => (provider_params(), prop::option::of(1u32..100)).prop_map(
            |(params, output_tokens_max)| RunOverrides {
                model: Some(model_route("claude-sonnet-4-5")),
                output_tokens_max,
                tool_choice: Some(ToolChoice::None),
                provider_params: Some(params),
                limits: None,
            }
        ),
    ]
}

fn model_route(model: &str) -> ModelRoute {
    ModelRoute {
        provider_id: "openai".into(),
        api_kind: "openai:responses".into(),
        model: model.into(),
    }
}

fn session_config_default() -> SessionConfig {
    SessionConfig {
        model: model_route("gpt-5"),
        generation: GenerationConfig::default(),
        context: ContextPolicy::default(),
        run_limits: RunLimits::default(),
    }
}

fn session_id() -> SessionId {
    SessionId::new("sess-prop").unwrap()
}

fn tool_spec(index: u8) -> ToolSpec {
    let name = TOOL_NAMES[usize::from(index) % TOOL_NAMES.len()];
    ToolSpec {
        name: name.to_owned(),
        definition_ref: BlobRef::of_bytes(format!("{{\"name\":{name:?}}}").as_bytes()),
    }
}

// ---------------------------------------------------------------------------------
// The host
// ---------------------------------------------------------------------------------

/// One host input, fed identically to both drives.
#[derive(Debug, Clone)]
enum Input {
    Command(CoreCommand),
    Generation {
        run_id: RunId,
        turn: u32,
        outcome: GenerationOutcome,
    },
    Tools {
        run_id: RunId,
        batch: u32,
        results: Vec<ToolResult>,
    },
    Compaction {
        compaction: u32,
        outcome: CompactionOutcome,
    },
}

fn feed_drive<S: DriveState>(
    drive: &mut Drive<S>,
    input: Input,
    at_ms: u64,
) -> Result<Option<Admitted>, Rejection> {
    match input {
        Input::Command(command) => drive.admit(command, at_ms).map(Some),
        Input::Generation {
            run_id,
            turn,
            outcome,
        } => drive
            .resume_generation(&run_id, turn, outcome, at_ms)
            .map(|()| None),
        Input::Tools {
            run_id,
            batch,
            results,
        } => drive
            .resume_tool_results(&run_id, batch, results, at_ms)
            .map(|()| None),
        Input::Compaction {
            compaction,
            outcome,
        } => drive
            .resume_compaction(compaction, outcome, at_ms)
            .map(|()| None),
    }
}

struct Host<'s> {
    full: Drive<SessionState>,
    control: Drive<ControlState>,
    log: Vec<LogEntry>,
    /// The committed log applied entry by entry as the host commits it (independent
    /// of the drives' own bookkeeping).
    replica: SessionState,
    /// `GenerationRequest::rebuild` at each committed `turn.planned` entry, by seq.
    rebuilt: BTreeMap<u64, Result<GenerationRequest, RebuildError>>,
    clock_ms: u64,
    /// Distinct effects seen so far, for late and duplicated results.
    effects: Vec<Action>,
    /// Run requests sent so far, for exact resubmission.
    run_requests: Vec<CoreCommand>,
    calls_issued: u64,
    stats: &'s RefCell<Stats>,
}

fn run_scenario(scenario: &Scenario, stats: &RefCell<Stats>) {
    let mut host = Host {
        full: Drive::new(SessionState::default()),
        control: Drive::new(ControlState::default()),
        log: Vec::new(),
        replica: SessionState::default(),
        rebuilt: BTreeMap::new(),
        clock_ms: 1_767_225_600_000,
        effects: Vec::new(),
        run_requests: Vec::new(),
        calls_issued: 0,
        stats,
    };
    if let Some((config, instructions)) = &scenario.open {
        host.feed(Input::Command(CoreCommand::OpenSession {
            session_id: session_id(),
            config: config.clone(),
            instructions: instructions.clone(),
        }));
    }
    for step in &scenario.steps {
        host.step(step);
        host.check_step();
    }
    host.pump();
    host.check_step();
    host.finish(scenario.split);
    stats.borrow_mut().cases += 1;
}

impl Host<'_> {
    fn step(&mut self, step: &Step) {
        match step {
            Step::Admit { command, dt_ms } => {
                self.clock_ms += dt_ms;
                let command = self.command(command);
                self.feed(Input::Command(command));
            }
            Step::InFlight { command, dt_ms } => {
                self.pump();
                self.clock_ms += dt_ms;
                let command = self.command(command);
                self.feed(Input::Command(command));
            }
            Step::Resolve { outcome, dt_ms } => {
                let action = self.pump();
                self.clock_ms += dt_ms;
                if let Some(input) = self.resolution(&action, outcome) {
                    self.feed(input);
                }
            }
            Step::ResolveStale {
                pick,
                outcome,
                dt_ms,
            } => {
                if self.effects.is_empty() {
                    return;
                }
                let action = self.effects[usize::from(*pick) % self.effects.len()].clone();
                self.clock_ms += dt_ms;
                if let Some(input) = self.resolution(&action, outcome) {
                    self.feed(input);
                }
            }
            Step::Pump => {
                self.pump();
            }
            Step::Crash {
                commit_first,
                checkpoint_at,
            } => self.crash(*commit_first, *checkpoint_at),
            Step::LostAck => self.lost_ack(),
        }
    }

    /// Feeds `input` to both drives; checks (c) and (d).
    fn feed(&mut self, input: Input) {
        let full_before = (self.full.projected().clone(), self.full.state().clone());
        let control_before = (
            self.control.projected().clone(),
            self.control.state().clone(),
        );
        let staged_before = self.full.has_staged();
        let full = feed_drive(&mut self.full, input.clone(), self.clock_ms);
        let control = feed_drive(&mut self.control, input.clone(), self.clock_ms);
        assert_eq!(
            full, control,
            "(d) drives answered differently to {input:?}"
        );
        let Err(rejection) = full else {
            if let Input::Command(command @ CoreCommand::RequestRun { .. }) = input {
                self.run_requests.push(command);
            }
            return;
        };
        self.stats.borrow_mut().rejected(&rejection);
        let what = format!("(c) rejected {input:?} ({rejection})");
        assert_eq!(self.full.has_staged(), staged_before, "{what}: staged");
        assert_same_bytes(
            &self.full.projected().to_canonical_bytes(),
            &full_before.0.to_canonical_bytes(),
            &format!("{what}: full drive projection"),
        );
        assert_same_bytes(
            &self.full.state().to_canonical_bytes(),
            &full_before.1.to_canonical_bytes(),
            &format!("{what}: full drive committed state"),
        );
        assert_same_bytes(
            &self.control.projected().to_canonical_bytes(),
            &control_before.0.to_canonical_bytes(),
            &format!("{what}: control drive projection"),
        );
        assert_same_bytes(
            &self.control.state().to_canonical_bytes(),
            &control_before.1.to_canonical_bytes(),
            &format!("{what}: control drive committed state"),
        );
    }

    /// The next action of both drives, which must agree (d). Checks (e).
    fn next_action(&mut self) -> Action {
        let action = self.full.next_action();
        let control = self.control.next_action();
        assert_eq!(action, control, "(d) drives chose different actions");
        if let Action::GenerateLlm(intent) = &action {
            self.check_generation(intent);
        }
        action
    }

    /// Drives to the next effect, committing appends on the way.
    fn pump(&mut self) -> Action {
        for _ in 0..PUMP_ROUNDS_MAX {
            match self.next_action() {
                Action::AppendEvents {
                    expected_head,
                    entries,
                } => {
                    self.commit(expected_head, &entries);
                    self.resume_appended();
                }
                action => {
                    if matches!(
                        action,
                        Action::GenerateLlm(_) | Action::InvokeTools(_) | Action::CompactContext(_)
                    ) && !self.effects.contains(&action)
                    {
                        self.effects.push(action.clone());
                    }
                    return action;
                }
            }
        }
        panic!("the drive kept appending for {PUMP_ROUNDS_MAX} rounds without an effect");
    }

    fn resume_appended(&mut self) {
        self.full.resume_appended().unwrap();
        self.control.resume_appended().unwrap();
    }

    /// The store: append iff the head matches; a retried append of the very same
    /// entries is recognised as already committed. Entries go through their canonical
    /// bytes, as in a real store.
    fn commit(&mut self, expected_head: u64, entries: &[LogEntry]) {
        assert!(!entries.is_empty(), "empty append");
        let head = self.log.len() as u64;
        if head > expected_head {
            let start = usize::try_from(expected_head).unwrap();
            assert_eq!(
                self.log.get(start..start + entries.len()),
                Some(entries),
                "a retried append must repeat the committed entries"
            );
            self.stats.borrow_mut().retried_appends += 1;
            return;
        }
        assert_eq!(head, expected_head, "append at a stale head");
        for (offset, entry) in entries.iter().enumerate() {
            assert_eq!(entry.seq, head + 1 + offset as u64, "entries are numbered");
            let stored = LogEntry::from_canonical_bytes(&entry.to_canonical_bytes()).unwrap();
            assert_eq!(&stored, entry, "entry changed in a canonical round trip");
            let previous_ms = self.log.last().map_or(0, |last| last.observed_at_ms);
            assert!(
                (previous_ms..=self.clock_ms).contains(&stored.observed_at_ms),
                "entry time {} outside [{previous_ms}, {}]",
                stored.observed_at_ms,
                self.clock_ms
            );
            self.replica.apply(&stored).unwrap();
            let event = CoreEvent::decode(&stored.event).unwrap();
            if let CoreEvent::TurnPlanned(_) = event {
                let rebuilt = GenerationRequest::rebuild(&self.replica);
                assert!(
                    rebuilt.is_ok(),
                    "(e) turn planned at {} does not rebuild: {rebuilt:?}",
                    stored.seq
                );
                self.rebuilt.insert(stored.seq, rebuilt);
            }
            self.stats.borrow_mut().committed(&event);
            self.log.push(stored);
        }
    }

    /// (e) The intent names a committed `turn.planned` entry whose state rebuilds a
    /// request with the intent's fingerprint.
    fn check_generation(&mut self, intent: &GenerationIntent) {
        let rebuilt = self
            .rebuilt
            .get(&intent.planned_at)
            .unwrap_or_else(|| panic!("(e) {intent:?} names no committed turn.planned entry"));
        let request = rebuilt.as_ref().unwrap();
        assert_eq!(request.fingerprint(), intent.fingerprint, "(e) fingerprint");
        assert_eq!(
            (&request.session_id, &request.run_id, request.turn),
            (&intent.session_id, &intent.run_id, intent.turn),
            "(e) request identity"
        );
        self.stats.borrow_mut().generations_checked += 1;
    }

    fn lost_ack(&mut self) {
        if !self.full.has_staged() {
            return;
        }
        let first = self.next_action();
        let Action::AppendEvents {
            expected_head,
            entries,
        } = &first
        else {
            panic!("staged entries must be appended first, got {first:?}");
        };
        self.commit(*expected_head, entries);
        // The acknowledgement is lost; the host asks again and retries the same append.
        let retry = self.next_action();
        assert_eq!(retry, first, "a retried append must be the same action");
        self.commit(*expected_head, entries);
        self.resume_appended();
    }

    fn crash(&mut self, commit_first: bool, checkpoint_at: Option<u16>) {
        // Staged entries are always appended before anything else is planned.
        if commit_first
            && self.full.has_staged()
            && let Action::AppendEvents {
                expected_head,
                entries,
            } = self.next_action()
        {
            self.commit(expected_head, &entries);
        }
        let state = match checkpoint_at {
            Some(at) => {
                let split = usize::from(at) % (self.log.len() + 1);
                self.stats.borrow_mut().checkpoint_restores += 1;
                restore(&self.log, split)
            }
            None => SessionState::replay(&self.log).unwrap(),
        };
        assert_same_bytes(
            &state.to_canonical_bytes(),
            &self.replica.to_canonical_bytes(),
            "(a)/(b) state rebuilt after a crash",
        );
        // Bytes cannot see a field that is never serialised; compare values too.
        assert!(
            state == self.replica,
            "(a)/(b) state rebuilt after a crash differs in value"
        );
        self.full = Drive::new(state);
        self.control = Drive::new(replay_control(&self.log));
        self.stats.borrow_mut().crashes += 1;
    }

    fn check_step(&self) {
        assert_eq!(self.full.state().head(), self.log.len() as u64);
        assert!(
            self.full.state().control == *self.control.state(),
            "(d) committed control states differ"
        );
        assert!(
            self.full.projected() == self.control.projected(),
            "(d) projected control states differ"
        );
        assert!(
            self.replica == *self.full.state(),
            "(a) driven state differs from the committed log applied entry by entry"
        );
        let control_bytes = self.control.state().to_canonical_bytes().len();
        assert!(
            control_bytes < CONTROL_STATE_BYTES_MAX,
            "(f) control state is {control_bytes} bytes"
        );
        let mut stats = self.stats.borrow_mut();
        stats.control_bytes_max = stats.control_bytes_max.max(control_bytes);
    }

    fn finish(&self, split: u16) {
        // (a) A fresh replay of the committed log gives the driven state.
        let replayed = SessionState::replay(&self.log).unwrap();
        let bytes = replayed.to_canonical_bytes();
        assert_same_bytes(
            &bytes,
            &self.full.state().to_canonical_bytes(),
            "(a) full replay vs driven state",
        );
        // (d) The control-only drive holds exactly the full state's control part.
        let control = replay_control(&self.log).to_canonical_bytes();
        assert_same_bytes(
            &control,
            &replayed.control.to_canonical_bytes(),
            "(d) control replay",
        );
        assert_same_bytes(
            &control,
            &self.control.state().to_canonical_bytes(),
            "(d) control drive",
        );
        // (b) Checkpoint + tail equals the full replay.
        let split = usize::from(split) % (self.log.len() + 1);
        let restored = restore(&self.log, split);
        let what = format!("(b) checkpoint at {split} of {} + tail", self.log.len());
        assert_same_bytes(&restored.to_canonical_bytes(), &bytes, &what);
        assert!(restored == replayed, "{what}: differs in value");
        // (e) Once per case, from a fresh replay rather than the incremental replica.
        if let Some((&planned_at, rebuilt)) = self.rebuilt.iter().next_back() {
            let state = SessionState::replay(&self.log[..planned_at as usize]).unwrap();
            assert_eq!(
                &GenerationRequest::rebuild(&state),
                rebuilt,
                "(e) fresh rebuild"
            );
        }
    }

    // ----- turning generated selectors into concrete inputs -----

    fn command(&self, command: &Cmd) -> CoreCommand {
        let control = self.full.projected();
        match command {
            Cmd::Open {
                config,
                instructions,
            } => CoreCommand::OpenSession {
                session_id: session_id(),
                config: config.clone(),
                instructions: instructions.clone(),
            },
            Cmd::PatchConfig {
                revision_offset,
                patch,
            } => CoreCommand::PatchConfig {
                expected_revision: offset(control.config_revision, *revision_offset),
                patch: patch.clone(),
            },
            Cmd::ReplaceTools {
                revision_offset,
                tools,
            } => CoreCommand::ReplaceTools {
                expected_revision: offset(control.tools_revision, *revision_offset),
                tools: tools.iter().copied().map(tool_spec).collect(),
            },
            Cmd::PatchTools {
                revision_offset,
                upsert,
                remove,
            } => CoreCommand::PatchTools {
                expected_revision: offset(control.tools_revision, *revision_offset),
                upsert: upsert.iter().copied().map(tool_spec).collect(),
                remove: remove.iter().map(|&i| tool_spec(i).name).collect(),
            },
            Cmd::Upsert { key, item } => CoreCommand::UpsertContextItem {
                key: ITEM_KEYS[usize::from(*key)].to_owned(),
                item: item.clone(),
            },
            Cmd::Remove { key } => CoreCommand::RemoveContextItem {
                key: ITEM_KEYS[usize::from(*key)].to_owned(),
            },
            Cmd::RequestRun {
                submission,
                input,
                overrides,
            } => CoreCommand::RequestRun {
                submission_id: SubmissionId::new(format!("sub-{submission}")).unwrap(),
                input: input.clone(),
                overrides: overrides.clone(),
            },
            Cmd::Resubmit { pick } => match self.run_requests.len() {
                0 => CoreCommand::RequestRun {
                    submission_id: SubmissionId::new("sub-0").unwrap(),
                    input: Vec::new(),
                    overrides: RunOverrides::default(),
                },
                len => self.run_requests[usize::from(*pick) % len].clone(),
            },
            Cmd::Steer { run, input } => CoreCommand::Steer {
                run_id: select_run(control, *run),
                input: input.clone(),
            },
            Cmd::Cancel { run, reason } => CoreCommand::CancelRun {
                run_id: select_run(control, *run),
                reason: match reason {
                    0..=4 => None,
                    5..=7 => Some("user pressed stop".to_owned()),
                    _ => Some("x".repeat(1_025)),
                },
            },
            Cmd::Compact => CoreCommand::RequestCompaction,
            Cmd::Close => CoreCommand::Close,
        }
    }

    fn resolution(&mut self, action: &Action, outcome: &Outcome) -> Option<Input> {
        match action {
            Action::GenerateLlm(intent) => Some(self.generation(intent, outcome)),
            Action::InvokeTools(intent) => Some(tool_results(intent, outcome)),
            Action::CompactContext(intent) => Some(compaction(intent, outcome)),
            Action::AppendEvents { .. } | Action::Idle | Action::Closed => None,
        }
    }

    fn generation(&mut self, intent: &GenerationIntent, outcome: &Outcome) -> Input {
        let turn = match outcome.flaw {
            Flaw::Stale => intent.turn + 1,
            _ => intent.turn,
        };
        let generated = match outcome.shape {
            4 => GenerationOutcome::Failed {
                error: effect_error(outcome),
            },
            shape => {
                let mut items = outcome.items.clone();
                let mut tool_calls = Vec::new();
                let count = if shape >= 2 { 1 + outcome.calls % 3 } else { 0 };
                for _ in 0..count {
                    self.calls_issued += 1;
                    let n = self.calls_issued;
                    let call_id = ToolCallId::new(format!("call_{n}")).unwrap();
                    let arguments_ref = BlobRef::of_bytes(format!("{{\"n\":{n}}}").as_bytes());
                    let mut item =
                        ItemSpec::new(ItemKind::ToolCall, arguments_ref.clone(), outcome.tokens);
                    item.call_id = Some(call_id.clone());
                    items.push(item);
                    tool_calls.push(ToolCallRequest {
                        call_id,
                        name: TOOL_NAMES[(n % 4) as usize].to_owned(),
                        arguments_ref,
                    });
                }
                if outcome.flaw == Flaw::Duplicate
                    && let Some(first) = tool_calls.first().cloned()
                {
                    tool_calls.push(first);
                }
                GenerationOutcome::Completed(GenerationResult {
                    usage: Usage {
                        input_tokens: 1_000,
                        output_tokens: outcome.output_tokens,
                        cached_input_tokens: 512,
                        reasoning_tokens: outcome.output_tokens / 2,
                    },
                    response_id: Some(match outcome.flaw {
                        Flaw::LongText => "r".repeat(1_025),
                        _ => format!("resp_{}", self.calls_issued),
                    }),
                    items,
                    tool_calls,
                })
            }
        };
        Input::Generation {
            run_id: intent.run_id.clone(),
            turn,
            outcome: generated,
        }
    }
}

fn tool_results(intent: &ToolBatchIntent, outcome: &Outcome) -> Input {
    let mut results: Vec<ToolResult> = intent
        .calls
        .iter()
        .enumerate()
        .filter(|(i, _)| outcome.mask & (1 << (i % 8)) != 0)
        .map(|(i, call)| ToolResult {
            call_id: call.call_id.clone(),
            status: if outcome.errors & (1 << (i % 8)) != 0 {
                ToolStatus::Error
            } else {
                ToolStatus::Ok
            },
            output_ref: BlobRef::of_bytes(format!("output of {}", call.call_id).as_bytes()),
            token_estimate: outcome.tokens,
        })
        .collect();
    let mut batch = intent.batch;
    match outcome.flaw {
        Flaw::Stale => batch += 1,
        Flaw::BogusCall => results.insert(
            0,
            ToolResult {
                call_id: ToolCallId::new("call_bogus").unwrap(),
                status: ToolStatus::Ok,
                output_ref: BlobRef::of_bytes(b"?"),
                token_estimate: 1,
            },
        ),
        Flaw::Duplicate => {
            if let Some(first) = results.first().cloned() {
                results.push(first);
            }
        }
        Flaw::None | Flaw::LongText => {}
    }
    Input::Tools {
        run_id: intent.run_id.clone(),
        batch,
        results,
    }
}

fn compaction(intent: &CompactionIntent, outcome: &Outcome) -> Input {
    let compaction = match outcome.flaw {
        Flaw::Stale => intent.compaction + 1,
        _ => intent.compaction,
    };
    let outcome = if outcome.shape % 3 == 2 {
        CompactionOutcome::Failed {
            error: effect_error(outcome),
        }
    } else {
        let summary = outcome
            .items
            .iter()
            .map(|item| ItemSpec::new(ItemKind::Summary, item.content_ref.clone(), outcome.tokens))
            .collect();
        CompactionOutcome::Compacted { summary }
    };
    Input::Compaction {
        compaction,
        outcome,
    }
}

fn effect_error(outcome: &Outcome) -> EffectError {
    EffectError {
        code: "server_error".into(),
        message: match outcome.flaw {
            Flaw::LongText => "e".repeat(9_000),
            _ => "the provider returned 500 three times".into(),
        },
    }
}

fn offset(revision: u64, by: i8) -> u64 {
    revision.saturating_add_signed(i64::from(by))
}

fn select_run(control: &ControlState, selector: RunSel) -> RunId {
    let newest = control.runs.requested_total;
    match selector {
        RunSel::Active => control.runs.active.as_ref().map_or_else(
            || RunId::from_ordinal(newest.max(1)),
            |run| run.run_id.clone(),
        ),
        RunSel::Queued(i) => match control.runs.queue.len() {
            0 => RunId::from_ordinal(newest + 1),
            len => control.runs.queue[usize::from(i) % len].run_id.clone(),
        },
        RunSel::Recent(back) => RunId::from_ordinal(newest.saturating_sub(u64::from(back)).max(1)),
        RunSel::Unknown => RunId::new("run_999999").unwrap(),
    }
}

/// State from a checkpoint taken after `split` entries, plus the rest of the log.
fn restore(log: &[LogEntry], split: usize) -> SessionState {
    let checkpoint = SessionState::replay(&log[..split]).unwrap().checkpoint();
    assert_eq!(checkpoint.seq, split as u64);
    let mut state = SessionState::from_checkpoint(&checkpoint).unwrap();
    for entry in &log[split..] {
        state.apply(entry).unwrap();
    }
    state
}

fn replay_control(log: &[LogEntry]) -> ControlState {
    let mut control = ControlState::default();
    for entry in log {
        control.apply(entry).unwrap();
    }
    control
}

/// Byte equality with a readable failure: the first difference in context.
fn assert_same_bytes(actual: &[u8], expected: &[u8], what: &str) {
    if actual == expected {
        return;
    }
    let at = actual
        .iter()
        .zip(expected)
        .position(|(a, b)| a != b)
        .unwrap_or(actual.len().min(expected.len()));
    let window = |bytes: &[u8]| {
        let start = at.saturating_sub(120);
        String::from_utf8_lossy(&bytes[start..(at + 120).min(bytes.len())]).into_owned()
    };
    panic!(
        "{what}: bytes differ at offset {at} ({} vs {} bytes)\n  actual:   …{}…\n  expected: …{}…",
        actual.len(),
        expected.len(),
        window(actual),
        window(expected)
    );
}

// ---------------------------------------------------------------------------------
// Coverage statistics
// ---------------------------------------------------------------------------------

#[derive(Debug, Default)]
struct Stats {
    cases: u64,
    events: BTreeMap<&'static str, u64>,
    rejections: BTreeMap<String, u64>,
    limits_hit: BTreeSet<String>,
    watermark_compactions: u64,
    generations_checked: u64,
    crashes: u64,
    checkpoint_restores: u64,
    retried_appends: u64,
    control_bytes_max: usize,
}

impl Stats {
    fn committed(&mut self, event: &CoreEvent) {
        *self.events.entry(event.kind()).or_default() += 1;
        match event {
            CoreEvent::RunFinished(finished) => {
                if let RunOutcome::Failed {
                    failure: RunFailure::LimitExceeded { limit, .. },
                } = &finished.outcome
                {
                    self.limits_hit.insert(format!("{limit:?}"));
                }
            }
            CoreEvent::CompactionRequested(requested)
                if requested.reason == CompactionReason::HighWatermark =>
            {
                self.watermark_compactions += 1;
            }
            _ => {}
        }
    }

    fn rejected(&mut self, rejection: &Rejection) {
        let debug = format!("{rejection:?}");
        let name = debug
            .split(|c: char| !c.is_alphanumeric())
            .next()
            .unwrap_or_default()
            .to_owned();
        *self.rejections.entry(name).or_default() += 1;
    }

    fn assert_coverage(&self) {
        let missing: Vec<_> = EVENT_KINDS
            .iter()
            .filter(|(kind, _)| !self.events.contains_key(kind))
            .collect();
        assert!(missing.is_empty(), "no scenario committed {missing:?}");
        for rejection in [
            "NotOpen",
            "RevisionConflict",
            "SessionBusy",
            "SubmissionConflict",
            "UnknownRun",
            "RunNotActive",
            "Empty",
            "InvalidItemKey",
            "InvalidToolName",
            "CompactionPending",
            "StaleResult",
            "UnknownToolCall",
            "DuplicateToolCall",
            "TextTooLong",
            "InvalidConfig",
        ] {
            assert!(
                self.rejections.contains_key(rejection),
                "no scenario was rejected with {rejection}"
            );
        }
        assert!(
            self.limits_hit.len() >= 2,
            "limits hit: {:?}",
            self.limits_hit
        );
        assert!(
            self.watermark_compactions > 0,
            "no high-watermark compaction"
        );
        assert!(self.generations_checked > 0);
        assert!(self.crashes > 0 && self.checkpoint_restores > 0);
        assert!(self.retried_appends > 0, "no retried append");
    }
}

// ---------------------------------------------------------------------------------
// A scripted host for the long-session tests
// ---------------------------------------------------------------------------------

struct ScriptHost<S> {
    drive: Drive<S>,
    head: u64,
    clock_ms: u64,
    calls: u64,
}

impl<S: DriveState + Default> ScriptHost<S> {
    fn open(config: SessionConfig) -> Self {
        let mut host = Self {
            drive: Drive::new(S::default()),
            head: 0,
            clock_ms: 1_767_225_600_000,
            calls: 0,
        };
        let instructions = ItemSpec::new(
            ItemKind::Instructions,
            BlobRef::of_bytes(b"You are a careful coding agent."),
            900,
        );
        host.admit(CoreCommand::OpenSession {
            session_id: session_id(),
            config,
            instructions: Some(instructions),
        });
        host
    }

    fn tick(&mut self) -> u64 {
        self.clock_ms += 250;
        self.clock_ms
    }

    fn admit(&mut self, command: CoreCommand) {
        let at = self.tick();
        self.drive.admit(command, at).unwrap();
    }

    fn request_run(&mut self, submission: &str) {
        let input = ItemSpec::new(
            ItemKind::UserMessage,
            BlobRef::of_bytes(submission.as_bytes()),
            40,
        );
        self.admit(CoreCommand::RequestRun {
            submission_id: SubmissionId::new(submission).unwrap(),
            input: vec![input],
            overrides: RunOverrides::default(),
        });
    }

    /// Commits appends until the drive asks for an effect.
    fn settle(&mut self) -> Action {
        loop {
            match self.drive.next_action() {
                Action::AppendEvents {
                    expected_head,
                    entries,
                } => {
                    assert_eq!(expected_head, self.head);
                    self.head += entries.len() as u64;
                    self.drive.resume_appended().unwrap();
                }
                action => return action,
            }
        }
    }

    /// Answers the pending generation with `tool_calls` calls and runs them.
    fn answer(&mut self, tool_calls: u64) {
        let Action::GenerateLlm(intent) = self.settle() else {
            panic!("expected a generation");
        };
        let mut items = vec![ItemSpec::new(
            ItemKind::AssistantMessage,
            BlobRef::of_bytes(format!("answer {}", self.calls).as_bytes()),
            120,
        )];
        let calls: Vec<_> = (0..tool_calls)
            .map(|_| {
                self.calls += 1;
                let call_id = ToolCallId::new(format!("call_{}", self.calls)).unwrap();
                let arguments_ref =
                    BlobRef::of_bytes(format!("{{\"n\":{}}}", self.calls).as_bytes());
                let mut item = ItemSpec::new(ItemKind::ToolCall, arguments_ref.clone(), 30);
                item.call_id = Some(call_id.clone());
                items.push(item);
                ToolCallRequest {
                    call_id,
                    name: "read_file".into(),
                    arguments_ref,
                }
            })
            .collect();
        let outcome = GenerationOutcome::Completed(GenerationResult {
            usage: Usage {
                input_tokens: 2_000,
                output_tokens: 150,
                cached_input_tokens: 1_500,
                reasoning_tokens: 40,
            },
            response_id: Some(format!("resp_{}", self.calls)),
            items,
            tool_calls: calls.clone(),
        });
        let at = self.tick();
        self.drive
            .resume_generation(&intent.run_id, intent.turn, outcome, at)
            .unwrap();
        if calls.is_empty() {
            return;
        }
        let Action::InvokeTools(batch) = self.settle() else {
            panic!("expected a tool batch");
        };
        let results = batch
            .calls
            .iter()
            .map(|call| ToolResult {
                call_id: call.call_id.clone(),
                status: ToolStatus::Ok,
                output_ref: BlobRef::of_bytes(call.call_id.as_str().as_bytes()),
                token_estimate: 300,
            })
            .collect();
        let at = self.tick();
        self.drive
            .resume_tool_results(&batch.run_id, batch.batch, results, at)
            .unwrap();
    }
}
