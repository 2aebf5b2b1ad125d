#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Replay and rehydration cost of a long session: a host cold-starts a session by
//! rehydrating it, so that cost must not grow without bound with the log.
//!
//! Setup (not timed) drives a `Drive<SessionState>` through scripted runs until the
//! log holds 100,000 events, in two shapes:
//!
//! - `compacting`: the default policy; the context is compacted at the 150k-token
//!   high-watermark, as in a real long-lived session;
//! - `uncompacted`: compaction is manual and never requested, so the transcript (and
//!   the full state) grows with every event: the worst case for a checkpoint.
//!
//! Each run: a user message; a turn with two tool calls; a turn with one (steered
//! while in flight every tenth run); a final answer. A pinned note is replaced every
//! hundred runs.
//!
//! Measured per shape:
//! - `replay_<shape>/full`: `SessionState::replay` of all 100k events (events/s);
//! - `replay_<shape>/control_only`: the same into the bounded `ControlState`;
//! - `rehydrate_<shape>/checkpoint_99k_plus_tail_1k`: decode a checkpoint taken at
//!   entry 99,000, then apply the last 1,000 entries;
//! - `rehydrate_<shape>/full_replay`: full replay again, for comparison.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};

use engine::core::command::CoreCommand;
use engine::core::config::{
    CompactionMode, ContextPolicy, GenerationConfig, ModelRoute, RunLimits, RunOverrides,
    SessionConfig,
};
use engine::core::context::{ItemKind, ItemSpec};
use engine::core::control::ControlState;
use engine::core::effects::{CompactionOutcome, GenerationOutcome, GenerationResult, ToolResult};
use engine::core::run::{ToolCallRequest, ToolStatus, Usage};
use engine::core::state::SessionState;
use engine::drive::{Action, Drive, Resumed};
use engine::store::Checkpoint;
use engine::{BlobRef, LogEntry, SessionId, SubmissionId, ToolCallId};

const EVENTS: usize = 100_000;
const CHECKPOINT_AT: usize = 99_000;

fn benches(c: &mut Criterion) {
    for (shape, compaction) in [
        ("compacting", CompactionMode::Auto),
        ("uncompacted", CompactionMode::Manual),
    ] {
        let log = build_log(compaction);
        let checkpoint = SessionState::replay(&log[..CHECKPOINT_AT])
            .unwrap()
            .checkpoint();
        report_sizes(shape, &log, &checkpoint);

        // Iterations take 2-300 ms: flat sampling keeps a run to ~10 of them.
        let mut group = c.benchmark_group(format!("replay_{shape}"));
        group.sampling_mode(SamplingMode::Flat);
        group.throughput(Throughput::Elements(log.len() as u64));
        group.bench_function("full", |b| {
            b.iter(|| SessionState::replay(black_box(&log)).unwrap());
        });
        group.bench_function("control_only", |b| {
            b.iter(|| {
                let mut control = ControlState::default();
                for entry in black_box(&log) {
                    control.apply(entry).unwrap();
                }
                control
            });
        });
        group.finish();

        let mut group = c.benchmark_group(format!("rehydrate_{shape}"));
        group.sampling_mode(SamplingMode::Flat);
        group.bench_function("checkpoint_99k_plus_tail_1k", |b| {
            b.iter(|| {
                let mut state = SessionState::from_checkpoint(black_box(&checkpoint)).unwrap();
                for entry in &log[CHECKPOINT_AT..] {
                    state.apply(entry).unwrap();
                }
                state
            });
        });
        group.bench_function("full_replay", |b| {
            b.iter(|| SessionState::replay(black_box(&log)).unwrap());
        });
        group.finish();
    }
}

fn report_sizes(shape: &str, log: &[LogEntry], checkpoint: &Checkpoint) {
    let state = SessionState::replay(log).unwrap();
    let log_bytes: usize = log
        .iter()
        .map(|entry| entry.to_canonical_bytes().len())
        .sum();
    eprintln!(
        "[{shape}] {} events ({} runs, {log_bytes} log bytes); at the end: full state {} bytes \
         ({} context items), control state {} bytes; checkpoint at {} is {} bytes",
        log.len(),
        state.control.runs.requested_total,
        state.to_canonical_bytes().len(),
        state.context.items().len(),
        state.control.to_canonical_bytes().len(),
        checkpoint.seq,
        checkpoint.state.len(),
    );
}

/// Drives scripted runs until the log holds [`EVENTS`] entries.
fn build_log(compaction: CompactionMode) -> Vec<LogEntry> {
    let config = SessionConfig {
        model: ModelRoute {
            provider_id: "openai".into(),
            api_kind: "openai:responses".into(),
            model: "gpt-5".into(),
        },
        generation: GenerationConfig::default(),
        context: ContextPolicy {
            compaction,
            ..ContextPolicy::default()
        },
        run_limits: RunLimits::default(),
        tool_policy: Default::default(),
        budget: Default::default(),
    };
    let mut host = Host {
        drive: Drive::new(SessionState::default()),
        log: Vec::with_capacity(EVENTS + 64),
        clock_ms: 1_767_225_600_000,
        calls: 0,
    };
    let instructions = item(
        ItemKind::Instructions,
        "You are a careful coding agent.",
        1_200,
    );
    host.admit(CoreCommand::OpenSession {
        session_id: SessionId::new("sess_bench").unwrap(),
        config,
        instructions: Some(instructions),
        parent: Default::default(),
    });
    let mut run = 0u64;
    while host.log.len() < EVENTS {
        run += 1;
        if run.is_multiple_of(100) {
            host.admit(CoreCommand::UpsertContextItem {
                key: "notes/pinned".into(),
                item: item(ItemKind::Catalog, &format!("pinned note {run}"), 300),
            });
        }
        host.admit(CoreCommand::RequestRun {
            submission_id: SubmissionId::new(format!("sub_{run:08}")).unwrap(),
            input: vec![item(ItemKind::UserMessage, &format!("request {run}"), 60)],
            overrides: RunOverrides::default(),
        });
        host.turn(2, false);
        host.turn(1, run.is_multiple_of(10));
        host.turn(0, false);
    }
    host.settle();
    host.log.truncate(EVENTS);
    host.log
}

fn item(kind: ItemKind, text: &str, tokens: u64) -> ItemSpec {
    ItemSpec::new(kind, BlobRef::of_bytes(text.as_bytes()), tokens)
}

struct Host {
    drive: Drive<SessionState>,
    log: Vec<LogEntry>,
    clock_ms: u64,
    calls: u64,
}

impl Host {
    fn tick(&mut self) -> u64 {
        self.clock_ms += 400;
        self.clock_ms
    }

    fn admit(&mut self, command: CoreCommand) {
        let at = self.tick();
        self.drive.admit(command, at).unwrap();
    }

    /// Commits appends and answers compactions until the drive asks for a generation
    /// or tool batch (or has nothing to do).
    fn settle(&mut self) -> Action {
        loop {
            match self.drive.next_action() {
                Action::AppendEvents {
                    expected_head,
                    entries,
                } => {
                    assert_eq!(expected_head, self.log.len() as u64);
                    self.log.extend(entries);
                    self.drive.resume_appended().unwrap();
                }
                Action::CompactContext(intent) => {
                    let summary = vec![item(
                        ItemKind::Summary,
                        &format!("summary {}", intent.compaction),
                        2_000,
                    )];
                    let at = self.tick();
                    assert_eq!(
                        self.drive.resume_compaction(
                            intent.compaction,
                            CompactionOutcome::Compacted { summary },
                            at,
                        ),
                        Resumed::Applied
                    );
                }
                action => return action,
            }
        }
    }

    /// One generation requesting `tool_calls` calls, then their results.
    fn turn(&mut self, tool_calls: usize, steer: bool) {
        let Action::GenerateLlm(intent) = self.settle() else {
            panic!("expected a generation");
        };
        if steer {
            self.admit(CoreCommand::Steer {
                run_id: intent.run_id.clone(),
                input: vec![item(ItemKind::UserMessage, "also update the docs", 20)],
            });
        }
        let mut items = vec![
            item(
                ItemKind::Reasoning,
                &format!("reasoning {}", self.calls),
                80,
            ),
            item(
                ItemKind::AssistantMessage,
                &format!("text {}", self.calls),
                150,
            ),
        ];
        let mut requests = Vec::new();
        for _ in 0..tool_calls {
            self.calls += 1;
            let call_id = ToolCallId::new(format!("call_{:010}", self.calls)).unwrap();
            let arguments_ref =
                BlobRef::of_bytes(format!("{{\"path\":\"src/{}.rs\"}}", self.calls).as_bytes());
            let mut call_item = ItemSpec::new(ItemKind::ToolCall, arguments_ref.clone(), 40);
            call_item.call_id = Some(call_id.clone());
            items.push(call_item);
            requests.push(ToolCallRequest {
                call_id,
                name: "read_file".into(),
                arguments_ref,
            });
        }
        let outcome = GenerationOutcome::Completed(GenerationResult {
            usage: Usage {
                input_tokens: 30_000,
                output_tokens: 400,
                cached_input_tokens: 28_000,
                reasoning_tokens: 120,
                ..Default::default()
            },
            response_id: Some(format!("resp_{}", self.calls)),
            items,
            tool_calls: requests,
            finish_reason: None,
            context_tokens: None,
            request_ref: None,
            context_refresh: Default::default(),
        });
        let at = self.tick();
        assert_eq!(
            self.drive
                .resume_generation(&intent.run_id, intent.turn, outcome, at),
            Resumed::Applied
        );
        if tool_calls == 0 {
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
                token_estimate: 400,
                later: None,
                child: Default::default(),
            })
            .collect();
        let at = self.tick();
        assert_eq!(
            self.drive
                .resume_tool_results(&batch.run_id, batch.batch, results, at),
            Resumed::Applied
        );
    }
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = replay;
    config = config();
    targets = benches
}
criterion_main!(replay);
