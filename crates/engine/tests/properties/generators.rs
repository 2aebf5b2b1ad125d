use super::*;

// ---------------------------------------------------------------------------------
// Generated scenarios
// ---------------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub(crate) struct Scenario {
    pub(crate) open: Option<(SessionConfig, Option<ItemSpec>)>,
    pub(crate) steps: Vec<Step>,
    /// Where the final checkpoint check splits the log (modulo its length + 1).
    pub(crate) split: u16,
    /// Both drives plan past staged entries (`Drive::with_plan_ahead`): every
    /// property must hold either way.
    pub(crate) plan_ahead: bool,
}

#[derive(Debug, Clone)]
pub(crate) enum Step {
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
pub(crate) enum Cmd {
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
    /// `run/approve` or `run/deny`: all waiting calls (`call` 0) or the n-th one.
    Decide {
        run: RunSel,
        call: u8,
        approve: bool,
        remember: bool,
        message: bool,
    },
    /// The host's timer fired: `FireTimers` at its clock.
    FireTimers,
    CancelWakeUp {
        wake_up: u8,
    },
    /// The operator holds or releases the session's queue.
    SetDispatch {
        paused: bool,
    },
    /// A child's host reports a run's end (`child-N`, `run_M`).
    ChildFinished {
        child: u8,
        run: u8,
        failed: bool,
    },
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum RunSel {
    Active,
    Queued(u8),
    /// `back` runs before the newest one requested (often finished by now).
    Recent(u8),
    Unknown,
}

/// A result for whichever effect it is applied to.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    /// Generation: 0-1 text only, 2-3 tool calls, 4 failure. Compaction: 2 failure.
    pub(crate) shape: u8,
    pub(crate) items: Vec<ItemSpec>,
    /// Tool calls in a generation: 1 + calls % 3.
    pub(crate) calls: u8,
    pub(crate) output_tokens: u64,
    /// Which of the outstanding tool calls get a result (bit per call).
    pub(crate) mask: u8,
    /// Which tool results report an error (bit per call).
    pub(crate) errors: u8,
    pub(crate) tokens: u64,
    pub(crate) flaw: Flaw,
    /// Tool results that finish later: 4 a deferred result, 5 a wake-up, 6 a wait for
    /// children, else none; 7: the batch's calls start child runs.
    pub(crate) later: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flaw {
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

pub(crate) const TOOL_NAMES: [&str; 7] = [
    "read_file",
    "write_file",
    "grep",
    "shell",
    "",
    "bad name",
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
];
pub(crate) const VALID_TOOLS: u8 = 4;
pub(crate) const ITEM_KEYS: [&str; 7] = [
    "instructions",
    "catalog:mcp",
    "notes/pinned",
    "k.1",
    "",
    "has space",
    "key\u{e9}",
];
pub(crate) const VALID_KEYS: u8 = 4;
pub(crate) const TRANSCRIPT_KINDS: [ItemKind; 7] = [
    ItemKind::UserMessage,
    ItemKind::AssistantMessage,
    ItemKind::ToolCall,
    ItemKind::ToolResult,
    ItemKind::Reasoning,
    ItemKind::ProviderOpaque,
    ItemKind::Compaction,
];
pub(crate) const OTHER_KINDS: [ItemKind; 3] =
    [ItemKind::Instructions, ItemKind::Catalog, ItemKind::Summary];

pub(crate) fn scenario() -> impl Strategy<Value = Scenario> {
    (
        prop::option::weighted(0.95, (session_config(60), prop::option::of(item_spec()))),
        prop::collection::vec(step(), 1..=STEPS_MAX),
        any::<u16>(),
        any::<bool>(),
    )
        .prop_map(|(open, steps, split, plan_ahead)| Scenario {
            open,
            steps,
            split,
            plan_ahead,
        })
}

/// [`scenario`] with the operator holding and releasing the queue now and then: a
/// strategy of its own, so the main property's sequences (and the coverage its
/// fixed seed reaches) stay as they were.
pub(crate) fn operator_scenario() -> impl Strategy<Value = Scenario> {
    let step = prop_oneof![
        16 => step(),
        // Mostly releases, so a held queue does not starve everything else.
        1 => (prop_oneof![1 => Just(true), 2 => Just(false)], 1u64..=5_000).prop_map(
            |(paused, dt_ms)| Step::Admit { command: Cmd::SetDispatch { paused }, dt_ms }
        ),
    ];
    (
        prop::option::weighted(0.95, (session_config(60), prop::option::of(item_spec()))),
        prop::collection::vec(step, 1..=STEPS_MAX),
        any::<u16>(),
        any::<bool>(),
    )
        .prop_map(|(open, steps, split, plan_ahead)| Scenario {
            open,
            steps,
            split,
            plan_ahead,
        })
}

pub(crate) fn step() -> impl Strategy<Value = Step> {
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

pub(crate) fn command() -> impl Strategy<Value = Cmd> {
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
        6 => (run_sel(), 0u8..4, any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
            |(run, call, approve, remember, message)| Cmd::Decide { run, call, approve, remember, message }
        ),
        8 => Just(Cmd::FireTimers),
        1 => (0u8..4).prop_map(|wake_up| Cmd::CancelWakeUp { wake_up }),
        6 => (0u8..4, prop_oneof![1 => Just(0u8), 4 => 1u8..4], any::<bool>())
            .prop_map(|(child, run, failed)| Cmd::ChildFinished { child, run, failed }),
        2 => (session_config(24), prop::option::of(item_spec()))
            .prop_map(|(config, instructions)| Cmd::Open { config, instructions }),
        1 => Just(Cmd::Close),
    ]
}

/// Mostly what hosts send while an effect runs: cancel or steer the active run.
pub(crate) fn in_flight_command() -> impl Strategy<Value = Cmd> {
    prop_oneof![
        2 => (0u8..=8).prop_map(|reason| Cmd::Cancel { run: RunSel::Active, reason }),
        2 => run_input().prop_map(|input| Cmd::Steer { run: RunSel::Active, input }),
        1 => command(),
    ]
}

/// Mostly one of the first `valid` indices, sometimes one of the invalid rest.
pub(crate) fn pick(valid: u8, len: usize) -> impl Strategy<Value = u8> {
    prop_oneof![9 => 0..valid, 1 => valid..len as u8]
}

pub(crate) fn run_sel() -> impl Strategy<Value = RunSel> {
    prop_oneof![
        6 => Just(RunSel::Active),
        2 => any::<u8>().prop_map(RunSel::Queued),
        2 => (0u8..4).prop_map(RunSel::Recent),
        1 => Just(RunSel::Unknown),
    ]
}

pub(crate) fn outcome() -> impl Strategy<Value = Outcome> {
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
        prop_oneof![4 => 0u8..4, 1 => Just(4u8), 2 => Just(5u8), 1 => Just(6u8), 1 => Just(7u8)],
    )
        .prop_map(
            |(shape, items, calls, output_tokens, mask, errors, tokens, flaw, later)| Outcome {
                shape,
                items,
                calls,
                output_tokens,
                mask,
                errors,
                tokens,
                flaw,
                later,
            },
        )
}

pub(crate) fn blob() -> impl Strategy<Value = BlobRef> {
    prop::collection::vec(any::<u8>(), 0..6).prop_map(|bytes| BlobRef::of_bytes(&bytes))
}

/// Small estimates, so the high-watermark fires, and rarely a huge one.
pub(crate) fn tokens() -> impl Strategy<Value = u64> {
    prop_oneof![16 => 0u64..40, 4 => 0u64..2_000, 1 => Just(u64::MAX / 2)]
}

pub(crate) fn item_spec() -> impl Strategy<Value = ItemSpec> {
    let kind = prop_oneof![
        9 => prop::sample::select(TRANSCRIPT_KINDS.to_vec()),
        1 => prop::sample::select(OTHER_KINDS.to_vec()),
    ];
    (kind, blob(), tokens()).prop_map(|(kind, content_ref, token_estimate)| {
        ItemSpec::new(kind, content_ref, token_estimate)
    })
}

pub(crate) fn run_input() -> impl Strategy<Value = Vec<ItemSpec>> {
    prop_oneof![
        1 => Just(Vec::new()),
        16 => prop::collection::vec(item_spec(), 1..3),
        1 => prop::collection::vec(item_spec(), 65..=65),
    ]
}

pub(crate) fn provider_params() -> impl Strategy<Value = ProviderParams> {
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

pub(crate) fn run_limits() -> impl Strategy<Value = RunLimits> {
    prop_oneof![
        1 => Just(RunLimits::default()),
        1 => (1u32..6, 1u32..4, 1u64..400).prop_map(|(turns_max, tool_batches_max, output_tokens_max)| {
            RunLimits {
                turns_max,
                tool_batches_max,
                output_tokens_max,
                cost_nanos_max: cost_budget(output_tokens_max, 3, 4),
            }
        }),
    ]
}

/// A cost budget in nano-USD derived from a value already drawn (`seed`), so adding
/// budgets drew no new randomness and left the other generated values, and the
/// coverage they reach, as they were. One seed in `one_in` gets a budget of `seed`
/// × `nanos` (zero included), small enough for the generated generations (10
/// nano-USD an output token, `host.rs`) to use up.
pub(crate) fn cost_budget(seed: u64, one_in: u64, nanos: u64) -> Option<u64> {
    seed.is_multiple_of(one_in).then_some(seed * nanos)
}

pub(crate) fn context_policy() -> impl Strategy<Value = ContextPolicy> {
    let mode = prop_oneof![3 => Just(CompactionMode::Auto), 1 => Just(CompactionMode::Manual)];
    let watermark = prop_oneof![1 => Just(150_000u64), 1 => 20u64..400];
    (mode, watermark).prop_map(|(compaction, high_watermark_tokens)| ContextPolicy {
        compaction,
        high_watermark_tokens,
    })
}

/// A session config; 6 in `one_in` are invalid.
pub(crate) fn session_config(one_in: u8) -> impl Strategy<Value = SessionConfig> {
    let turn_cap = prop_oneof![Just(8_192u32), 1u32..300];
    (
        run_limits(),
        turn_cap,
        provider_params(),
        context_policy(),
        0..one_in,
        prop_oneof![2 => Just(ToolPolicy::default()), 1 => tool_policy()],
    )
        .prop_map(
            |(run_limits, output_tokens_max, provider_params, context, flaw, tool_policy)| {
                let mut config = SessionConfig {
                    model: model_route("gpt-5"),
                    generation: GenerationConfig {
                        output_tokens_max,
                        tool_choice: ToolChoice::Auto,
                        provider_params,
                    },
                    context,
                    run_limits,
                    tool_policy,
                    budget: SessionBudget {
                        cost_nanos_max: cost_budget(u64::from(flaw), 5, 10).filter(|_| flaw > 5),
                    },
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

pub(crate) fn config_patch() -> impl Strategy<Value = ConfigPatch> {
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
        prop::option::weighted(0.2, tool_policy()),
    )
        .prop_map(
            |(
                model,
                output_tokens_max,
                tool_choice,
                provider_params,
                context,
                run_limits,
                tool_policy,
            )| {
                ConfigPatch {
                    model: model.map(model_route),
                    output_tokens_max,
                    tool_choice,
                    provider_params,
                    context,
                    run_limits,
                    // Replaces the budget (a zero cap lifts it) with the cap's.
                    budget: output_tokens_max
                        .filter(|cap| cap.is_multiple_of(4))
                        .map(|cap| SessionBudget {
                            cost_nanos_max: (cap > 0).then_some(u64::from(cap) * 5),
                        }),
                    tool_policy,
                }
            },
        )
}

/// A policy over the generated tool names: some ask, some refuse, with or without a
/// deadline (short, so generated clocks pass it), rarely with a bad pattern.
pub(crate) fn tool_policy() -> impl Strategy<Value = ToolPolicy> {
    let decision = || {
        prop_oneof![
            2 => Just(ToolDecision::Allow),
            3 => Just(ToolDecision::Ask),
            1 => Just(ToolDecision::Deny),
        ]
    };
    let pattern = prop_oneof![
        4 => prop::sample::select(vec!["read_file", "write_file", "grep", "shell", "*_file", "*"]),
        1 => Just("bad pattern"),
    ];
    (
        prop::collection::vec((pattern, decision()), 0..3),
        prop::option::of(decision()),
        prop::option::of(prop_oneof![3 => 1_000u64..8_000, 1 => Just(10u64)]),
    )
        .prop_map(|(rules, other, approval_timeout_ms)| ToolPolicy {
            rules: rules
                .into_iter()
                .map(|(tools, decision)| ToolRule {
                    tools: tools.to_owned(),
                    decision,
                })
                .collect(),
            other,
            approval_timeout_ms,
            ..ToolPolicy::default()
        })
}

pub(crate) fn run_limits_patch() -> impl Strategy<Value = RunLimitsPatch> {
    (
        prop::option::of(0u32..6),
        prop::option::of(1u32..4),
        prop::option::of(1u64..400),
    )
        .prop_map(
            |(turns_max, tool_batches_max, output_tokens_max)| RunLimitsPatch {
                turns_max,
                tool_batches_max,
                output_tokens_max,
                cost_nanos_max: output_tokens_max.and_then(|tokens| cost_budget(tokens, 4, 3)),
            },
        )
}

pub(crate) fn run_overrides() -> impl Strategy<Value = RunOverrides> {
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

pub(crate) fn model_route(model: &str) -> ModelRoute {
    ModelRoute {
        provider_id: "openai".into(),
        api_kind: "openai:responses".into(),
        model: model.into(),
    }
}

pub(crate) fn session_config_default() -> SessionConfig {
    SessionConfig {
        model: model_route("gpt-5"),
        generation: GenerationConfig::default(),
        context: ContextPolicy::default(),
        run_limits: RunLimits::default(),
        tool_policy: Default::default(),
        budget: SessionBudget::default(),
    }
}

pub(crate) fn session_id() -> SessionId {
    SessionId::new("sess-prop").unwrap()
}

pub(crate) fn tool_spec(index: u8) -> ToolSpec {
    let name = TOOL_NAMES[usize::from(index) % TOOL_NAMES.len()];
    ToolSpec {
        name: name.to_owned(),
        definition_ref: BlobRef::of_bytes(format!("{{\"name\":{name:?}}}").as_bytes()),
        class: None,
    }
}
