//! The builders of the golden fixture: one realistic entry per event kind and
//! version, and entries with later-added optional fields set (see the parent).

use super::*;

// ---------------------------------------------------------------------------------
// Realistic values, with every optional field populated so that a renamed optional
// field is caught too.
// ---------------------------------------------------------------------------------

const EPOCH_MS: u64 = 1_767_225_600_000;

fn blob(text: &str) -> BlobRef {
    BlobRef::of_bytes(text.as_bytes())
}

fn run_id() -> RunId {
    RunId::from_ordinal(1)
}

fn call_id() -> ToolCallId {
    ToolCallId::new("call_7Qm2hVv0c1xG").unwrap()
}

fn fingerprint() -> Fingerprint {
    serde_json::from_value(json!(
        "sha256:4f6b1c0e9a2d8e7f3b5a6c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f"
    ))
    .unwrap()
}

fn config() -> SessionConfig {
    SessionConfig {
        model: ModelRoute {
            provider_id: "openai".into(),
            api_kind: "openai:responses".into(),
            model: "gpt-5".into(),
        },
        generation: GenerationConfig {
            output_tokens_max: 16_384,
            tool_choice: ToolChoice::Auto,
            provider_params: ProviderParams(json!({
                "reasoning": { "effort": "medium", "summary": "auto" },
                "store": false,
                "temperature": 0.7,
            })),
        },
        context: ContextPolicy {
            compaction: CompactionMode::Auto,
            high_watermark_tokens: 150_000,
        },
        run_limits: RunLimits {
            turns_max: 50,
            tool_batches_max: 50,
            output_tokens_max: 200_000,
            cost_nanos_max: None,
        },
        tool_policy: Default::default(),
        budget: SessionBudget::default(),
    }
}

fn usage() -> Usage {
    Usage {
        input_tokens: 12_480,
        output_tokens: 812,
        cached_input_tokens: 11_264,
        reasoning_tokens: 384,
        ..Usage::default()
    }
}

fn user_input() -> ItemSpec {
    ItemSpec {
        kind: ItemKind::UserMessage,
        content_ref: blob("Fix the failing test in crates/engine."),
        token_estimate: 12,
        call_id: None,
        source_ref: None,
    }
}

fn transcript_item(ordinal: u64, kind: ItemKind, text: &str, tokens: u64) -> ContextItem {
    ContextItem {
        ordinal,
        kind,
        key: None,
        content_ref: blob(text),
        token_estimate: tokens,
        call_id: None,
        is_error: false,
        source_ref: None,
    }
}

fn error() -> EffectError {
    EffectError {
        code: "rate_limited".into(),
        message: "429 Too Many Requests after 5 attempts".into(),
    }
}

fn run_joins() -> Joins {
    Joins {
        run_id: Some(run_id()),
        ..Joins::default()
    }
}

fn turn_joins(turn: u32) -> Joins {
    Joins {
        turn: Some(turn),
        ..run_joins()
    }
}

/// One realistic entry per event kind, numbered as they would appear in a session.
pub(super) fn golden_events() -> Vec<LogEntry> {
    let events: Vec<(Joins, CoreEvent)> = vec![
        (
            Joins::default(),
            ev::SessionOpened {
                session_id: SessionId::new("sess_01JH7Z2K9D").unwrap(),
                config: config(),
                parent: Default::default(),
            }
            .into(),
        ),
        (
            Joins::default(),
            ev::ConfigChanged {
                revision: 2,
                config: SessionConfig {
                    generation: GenerationConfig {
                        tool_choice: ToolChoice::Tool {
                            name: "apply_patch".into(),
                        },
                        ..config().generation
                    },
                    context: ContextPolicy {
                        compaction: CompactionMode::Manual,
                        high_watermark_tokens: 120_000,
                    },
                    ..config()
                },
            }
            .into(),
        ),
        (
            Joins::default(),
            ev::ToolsChanged {
                revision: 1,
                tools: vec![
                    ToolSpec {
                        name: "apply_patch".into(),
                        definition_ref: blob("{\"name\":\"apply_patch\"}"),
                        class: None,
                    },
                    ToolSpec {
                        name: "read_file".into(),
                        definition_ref: blob("{\"name\":\"read_file\"}"),
                        class: None,
                    },
                ],
            }
            .into(),
        ),
        (
            Joins::default(),
            ev::ContextItemUpserted {
                item: ContextItem {
                    ordinal: 0,
                    kind: ItemKind::Instructions,
                    key: Some("instructions".into()),
                    content_ref: blob("You are a careful coding agent."),
                    token_estimate: 1_250,
                    call_id: None,
                    is_error: false,
                    source_ref: None,
                },
            }
            .into(),
        ),
        (
            Joins::default(),
            ev::ContextItemRemoved {
                key: "catalog:mcp".into(),
            }
            .into(),
        ),
        (
            Joins::default(),
            ev::CompactionRequested {
                compaction: 3,
                reason: CompactionReason::HighWatermark,
                instruction: None,
            }
            .into(),
        ),
        (
            Joins::default(),
            ev::ContextCompacted {
                compaction: 3,
                summary: vec![
                    transcript_item(
                        41,
                        ItemKind::Summary,
                        "Summary of the session so far.",
                        2_048,
                    ),
                    transcript_item(
                        42,
                        ItemKind::ProviderOpaque,
                        "encrypted compaction item",
                        512,
                    ),
                ],
            }
            .into(),
        ),
        (
            Joins::default(),
            ev::CompactionFailed {
                compaction: 4,
                error: error(),
            }
            .into(),
        ),
        (
            run_joins(),
            ev::RunRequested {
                run: QueuedRun {
                    run_id: run_id(),
                    submission_id: SubmissionId::new("sub_5f0c2a").unwrap(),
                    input: vec![user_input()],
                    overrides: RunOverrides {
                        model: Some(ModelRoute {
                            provider_id: "anthropic".into(),
                            api_kind: "anthropic:messages".into(),
                            model: "claude-sonnet-4-5".into(),
                        }),
                        output_tokens_max: Some(4_096),
                        tool_choice: Some(ToolChoice::Required),
                        provider_params: Some(ProviderParams(json!({
                            "thinking": { "type": "enabled", "budget_tokens": 2_048 },
                        }))),
                        limits: Some(RunLimitsPatch {
                            turns_max: Some(20),
                            tool_batches_max: Some(10),
                            output_tokens_max: Some(50_000),
                            cost_nanos_max: None,
                        }),
                    },
                    limits: RunLimits {
                        turns_max: 20,
                        tool_batches_max: 10,
                        output_tokens_max: 50_000,
                        cost_nanos_max: None,
                    },
                },
                input_digest: "9c1e4b7a2f0d6e3c8b5a4f1e0d9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c"
                    .into(),
            }
            .into(),
        ),
        (
            run_joins(),
            ev::RunStarted {
                run_id: run_id(),
                input: vec![transcript_item(
                    43,
                    ItemKind::UserMessage,
                    "Fix the failing test in crates/engine.",
                    12,
                )],
            }
            .into(),
        ),
        (
            run_joins(),
            ev::RunSteered {
                run_id: run_id(),
                input: vec![ItemSpec {
                    kind: ItemKind::ToolResult,
                    content_ref: blob("Use the existing helper instead."),
                    token_estimate: 9,
                    call_id: Some(call_id()),
                    source_ref: None,
                }],
            }
            .into(),
        ),
        (
            run_joins(),
            ev::SteerApplied {
                run_id: run_id(),
                items: vec![transcript_item(
                    47,
                    ItemKind::UserMessage,
                    "Use the existing helper instead.",
                    9,
                )],
            }
            .into(),
        ),
        (
            run_joins(),
            ev::RunCancelRequested {
                run_id: run_id(),
                reason: Some("user pressed stop".into()),
            }
            .into(),
        ),
        (
            run_joins(),
            ev::RunFinished {
                run_id: run_id(),
                outcome: RunOutcome::Failed {
                    failure: RunFailure::LimitExceeded {
                        limit: LimitKind::Turns,
                        used: 20,
                        max: 20,
                    },
                },
                usage: usage(),
                turns: 3,
            }
            .into(),
        ),
        (
            turn_joins(2),
            ev::TurnPlanned {
                run_id: run_id(),
                turn: 2,
                fingerprint: fingerprint(),
                config_revision: 2,
                tools_revision: 1,
                context_revision: 57,
                output_tokens_max: 4_096,
            }
            .into(),
        ),
        (
            turn_joins(2),
            ev::TurnCompleted {
                run_id: run_id(),
                turn: 2,
                usage: usage(),
                response_id: Some("resp_68a1f0c2b7e4".into()),
                items: vec![
                    transcript_item(44, ItemKind::Reasoning, "reasoning summary", 96),
                    transcript_item(45, ItemKind::AssistantMessage, "Let me read it.", 14),
                    ContextItem {
                        call_id: Some(call_id()),
                        ..transcript_item(46, ItemKind::ToolCall, "{\"path\":\"src/lib.rs\"}", 18)
                    },
                ],
                tool_calls: vec![ToolCallRequest {
                    call_id: call_id(),
                    name: "read_file".into(),
                    arguments_ref: blob("{\"path\":\"src/lib.rs\"}"),
                }],
                finish_reason: Some(FinishReason::ToolCalls),
                context_tokens: Some(5_120),
                request_ref: Some(blob("{\"model\":\"gpt-5\"}")),
            }
            .into(),
        ),
        (
            turn_joins(3),
            ev::TurnFailed {
                run_id: run_id(),
                turn: 3,
                error: error(),
            }
            .into(),
        ),
        (
            turn_joins(4),
            ev::TurnAborted {
                run_id: run_id(),
                turn: 4,
            }
            .into(),
        ),
        (
            Joins {
                tool_batch: Some(2),
                tool_call_id: Some(call_id()),
                ..run_joins()
            },
            ev::ToolResultRecorded {
                run_id: run_id(),
                batch: 2,
                call_id: call_id(),
                status: ToolStatus::Error,
                item: ContextItem {
                    call_id: Some(call_id()),
                    is_error: true,
                    ..transcript_item(
                        48,
                        ItemKind::ToolResult,
                        "error: no such file: src/lib.rs",
                        11,
                    )
                },
                tool_name: Some("read_file".into()),
                arguments_ref: Some(blob("{\"path\":\"src/lib.rs\"}")),
            }
            .into(),
        ),
        (
            run_joins(),
            ev::ApprovalRequested {
                run_id: run_id(),
                batch: 3,
                calls: vec![call_id()],
                timeout_ms: Some(86_400_000),
            }
            .into(),
        ),
        (
            run_joins(),
            ev::ApprovalDecided {
                run_id: run_id(),
                batch: 3,
                calls: vec![call_id()],
                approved: true,
                remember: true,
                by: ev::DecidedBy::Person,
            }
            .into(),
        ),
        (
            Joins {
                tool_batch: Some(4),
                tool_call_id: Some(call_id()),
                ..run_joins()
            },
            ev::ToolCallDeferred {
                run_id: run_id(),
                batch: 4,
                call_id: call_id(),
                until_ms: EPOCH_MS + 3_600_000,
                status: ToolStatus::Ok,
                output_ref: blob("{\"slept_ms\":3600000}"),
                token_estimate: 6,
            }
            .into(),
        ),
        (
            run_joins(),
            ev::WakeUpScheduled {
                wake_up: 1,
                at_ms: EPOCH_MS + 86_400_000,
                input: vec![ItemSpec::new(
                    ItemKind::UserMessage,
                    blob("Check whether the deploy finished."),
                    9,
                )],
                run_id: Some(run_id()),
            }
            .into(),
        ),
        (
            Joins::default(),
            ev::WakeUpEnded {
                wake_up: 1,
                outcome: ev::WakeUpOutcome::Fired,
            }
            .into(),
        ),
        (
            Joins::default(),
            ev::ChildRunStarted {
                run_id: run_id(),
                call_id: ToolCallId::new("call_spawn").unwrap(),
                child: SessionId::new("sess_01JH80CHLD").unwrap(),
                child_run: RunId::from_ordinal(1),
                spawned: true,
                budget_nanos: Default::default(),
            }
            .into(),
        ),
        (
            Joins::default(),
            ev::ToolAwaitingChildren {
                run_id: run_id(),
                batch: 2,
                call_id: ToolCallId::new("call_wait").unwrap(),
                waits: vec![engine::core::lineage::ChildWait {
                    session_id: SessionId::new("sess_01JH80CHLD").unwrap(),
                    run_id: RunId::from_ordinal(1),
                }],
                any: false,
                until_ms: Some(EPOCH_MS + 600_000),
            }
            .into(),
        ),
        (
            Joins::default(),
            ev::ChildRunFinished {
                child: SessionId::new("sess_01JH80CHLD").unwrap(),
                child_run: RunId::from_ordinal(1),
                status: engine::core::lineage::ChildRunStatus::Completed,
            }
            .into(),
        ),
        (
            Joins::default(),
            ev::ParentNotified {
                run_id: run_id(),
                delivered: true,
            }
            .into(),
        ),
        (
            Joins::default(),
            ev::DispatchChanged { paused: true }.into(),
        ),
        (Joins::default(), ev::SessionClosed {}.into()),
        (
            Joins::default(),
            ev::SessionForked {
                session_id: SessionId::new("sess_01JH80FORK").unwrap(),
                source_session_id: SessionId::new("sess_01JH7Z2K9D").unwrap(),
                source_seq: 17,
                base_ref: blob("{\"context_chunks\":[],\"format\":2}"),
            }
            .into(),
        ),
        (
            run_joins(),
            ev::RunInputTranscribed {
                run_id: run_id(),
                transcripts: vec![ev::TranscribedInput {
                    index: 1,
                    item: transcript_spec(),
                }],
            }
            .into(),
        ),
    ];
    numbered(events, 1)
}

/// A voice note's transcript: a user message naming the audio it came from.
fn transcript_spec() -> ItemSpec {
    ItemSpec {
        source_ref: Some(blob("OggS voice note")),
        ..ItemSpec::new(
            ItemKind::UserMessage,
            blob("Turn on the lights in the kitchen."),
            9,
        )
    }
}

/// Entries of `events`, numbered from `first_seq`, 1.25 s apart.
fn numbered(events: Vec<(Joins, CoreEvent)>, first_seq: u64) -> Vec<LogEntry> {
    events
        .into_iter()
        .zip(first_seq..)
        .map(|((joins, event), seq)| LogEntry {
            seq,
            observed_at_ms: EPOCH_MS + seq * 1_250,
            joins,
            event: event.encode(),
        })
        .collect()
}

/// Entries whose optional fields were added to their version after its first line
/// (so that line leaves them out): each populates them. Numbered after
/// [`golden_events`].
pub(super) fn later_field_events() -> Vec<LogEntry> {
    let priced = Usage {
        cache_write_input_tokens: 1_024,
        cost_nanos: 3_712_000,
        unpriced_turns: 1,
        ..usage()
    };
    let failed = |limit, used, max| RunOutcome::Failed {
        failure: RunFailure::LimitExceeded { limit, used, max },
    };
    let events: Vec<(Joins, CoreEvent)> = vec![
        (
            Joins::default(),
            ev::SessionOpened {
                session_id: SessionId::new("sess_01JH7Z2K9D").unwrap(),
                config: SessionConfig {
                    run_limits: RunLimits {
                        cost_nanos_max: Some(2_000_000_000),
                        ..config().run_limits
                    },
                    budget: SessionBudget {
                        cost_nanos_max: Some(25_000_000_000),
                    },
                    ..config()
                },
                parent: Default::default(),
            }
            .into(),
        ),
        (
            run_joins(),
            ev::RunRequested {
                run: QueuedRun {
                    run_id: run_id(),
                    submission_id: SubmissionId::new("sub_5f0c2b").unwrap(),
                    input: vec![user_input()],
                    overrides: RunOverrides {
                        limits: Some(RunLimitsPatch {
                            cost_nanos_max: Some(500_000_000),
                            ..RunLimitsPatch::default()
                        }),
                        ..RunOverrides::default()
                    },
                    limits: RunLimits {
                        cost_nanos_max: Some(500_000_000),
                        ..config().run_limits
                    },
                },
                input_digest: "0d9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c9c1e4b7a2f0d6e3c8b5a4f1e"
                    .into(),
            }
            .into(),
        ),
        (
            turn_joins(2),
            ev::TurnCompleted {
                run_id: run_id(),
                turn: 2,
                usage: priced,
                response_id: Some("msg_01XFDUDYJgAACzvnptvVoYEL".into()),
                items: vec![transcript_item(44, ItemKind::AssistantMessage, "Done.", 3)],
                tool_calls: Vec::new(),
                finish_reason: Some(FinishReason::Stop),
                context_tokens: None,
                request_ref: None,
            }
            .into(),
        ),
        (
            run_joins(),
            ev::RunFinished {
                run_id: run_id(),
                outcome: failed(LimitKind::Cost, 512_000_000, 500_000_000),
                usage: priced,
                turns: 2,
            }
            .into(),
        ),
        (
            run_joins(),
            ev::RunFinished {
                run_id: run_id(),
                outcome: failed(LimitKind::SessionCost, 25_001_000_000, 25_000_000_000),
                usage: priced,
                turns: 1,
            }
            .into(),
        ),
        // Voice input: a run requested with a voice note, started with its
        // transcript, and one whose voice note could not be transcribed.
        (
            run_joins(),
            ev::RunRequested {
                run: QueuedRun {
                    run_id: run_id(),
                    submission_id: SubmissionId::new("sub_voice").unwrap(),
                    input: vec![
                        user_input(),
                        ItemSpec::new(ItemKind::UserAudio, blob("OggS voice note"), 0),
                    ],
                    overrides: RunOverrides::default(),
                    limits: config().run_limits,
                },
                input_digest: "4f1e0d9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c9c1e4b7a2f0d6e3c8b5a"
                    .into(),
            }
            .into(),
        ),
        (
            run_joins(),
            ev::RunStarted {
                run_id: run_id(),
                input: vec![ContextItem::new(45, None, &transcript_spec())],
            }
            .into(),
        ),
        (
            run_joins(),
            ev::RunFinished {
                run_id: run_id(),
                outcome: RunOutcome::Failed {
                    failure: RunFailure::TranscriptionFailed {
                        error: EffectError {
                            code: "audio_too_long".into(),
                            message: "the voice note is 912 s long, over the 600 s limit".into(),
                        },
                    },
                },
                usage: Usage::default(),
                turns: 0,
            }
            .into(),
        ),
    ];
    numbered(events, 101)
}
