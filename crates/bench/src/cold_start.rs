//! `cold-start`: what it costs to bring a long session back, on Postgres. A session
//! of `--cold-start-entries` log entries (text turns decided by the engine's own
//! drive, so every entry is one a real session would hold) is written to a fresh
//! universe with a checkpoint a few entries behind its head, then rehydrated both
//! ways, several times each:
//!
//! - control state from checkpoint + tail: what `load_session` runs (and the API's
//!   control cache), against a full replay of the log into control state;
//! - full state from checkpoint (its items fetched from the CAS chunks) + tail: what
//!   the LLM activity runs to rebuild a request, against a full replay into full
//!   state.
//!
//! Needs `LIGHTSPEED_POSTGRES_URL` (the local stack's, `source local/env.sh`).

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use engine::core::command::CoreCommand;
use engine::core::config::{CompactionMode, ContextPolicy, ModelRoute, SessionConfig};
use engine::core::context::{ItemKind, ItemSpec};
use engine::core::control::ControlState;
use engine::core::effects::{GenerationOutcome, GenerationResult};
use engine::core::run::{FinishReason, Usage};
use engine::core::state::SessionState;
use engine::drive::{Action, Drive};
use engine::rehydrate::{advance, state_at, write_checkpoint};
use engine::store::{CheckpointStore as _, SessionLog as _};
use engine::{BlobRef, LogEntry, Seq, SessionId, SubmissionId};
use serde::Serialize;
use store_pg::{PgConfig, PgDatabase, PgStore};

/// Entries written per append.
const APPEND_BATCH: usize = 1_000;
/// The checkpoint sits this far behind the head, as it would between two checkpoint
/// intervals (the worker writes one every 64 entries).
const TAIL_ENTRIES: usize = 32;
/// Timed repetitions of each way; the median is reported.
const REPEATS: usize = 3;

#[derive(Debug, Clone, Serialize)]
pub(crate) struct ColdStart {
    pub(crate) entries: u64,
    pub(crate) context_items: u64,
    pub(crate) checkpoint_seq: u64,
    pub(crate) checkpoint_bytes: u64,
    pub(crate) checkpoint_chunks: u64,
    /// `load_session`: control state from checkpoint + tail.
    pub(crate) control_checkpoint_ms: f64,
    pub(crate) control_replay_ms: f64,
    /// `control_checkpoint_ms` as a percentage of `control_replay_ms` (target ≤ 5).
    pub(crate) control_percent: f64,
    /// The LLM activity's rebuild: full state from checkpoint (+ chunks) + tail.
    pub(crate) full_checkpoint_ms: f64,
    pub(crate) full_replay_ms: f64,
    pub(crate) full_percent: f64,
}

fn config() -> SessionConfig {
    SessionConfig {
        model: ModelRoute {
            provider_id: "bench".into(),
            api_kind: "openai:responses".into(),
            model: "bench-model".into(),
        },
        generation: Default::default(),
        // Manual: a watermark compaction would need a compactor in the loop.
        context: ContextPolicy {
            compaction: CompactionMode::Manual,
            ..ContextPolicy::default()
        },
        run_limits: Default::default(),
        tool_policy: Default::default(),
        budget: Default::default(),
    }
}

fn text(kind: ItemKind, text: &str) -> ItemSpec {
    ItemSpec::new(kind, BlobRef::of_bytes(text.as_bytes()), 8)
}

/// Drives text turns until the log has at least `entries` entries. Returns the
/// entries, and the full state `TAIL_ENTRIES` or so behind the end (at a batch
/// boundary, where a worker would have checkpointed).
fn build_log(entries: usize) -> anyhow::Result<(Vec<LogEntry>, SessionState)> {
    let session = SessionId::new("cold-start").context("session id")?;
    let mut drive = Drive::new(SessionState::default()).with_plan_ahead(true);
    let mut log = Vec::with_capacity(entries + 8);
    let mut checkpointed = None;
    let mut now = 1_767_225_600_000u64;
    let open = CoreCommand::OpenSession {
        session_id: session,
        config: config(),
        instructions: None,
        parent: Default::default(),
    };
    drive
        .admit(open, now)
        .map_err(|rejection| anyhow::anyhow!("open refused: {rejection}"))?;
    let mut turn = 0u64;
    while log.len() < entries {
        turn += 1;
        now += 1_000;
        if checkpointed.is_none() && log.len() + TAIL_ENTRIES >= entries {
            checkpointed = Some(drive.state().clone());
        }
        let request = CoreCommand::RequestRun {
            submission_id: SubmissionId::new(format!("sub-{turn}")).context("submission id")?,
            input: vec![text(ItemKind::UserMessage, &format!("question {turn}"))],
            overrides: Default::default(),
        };
        drive
            .admit(request, now)
            .map_err(|rejection| anyhow::anyhow!("run refused: {rejection}"))?;
        loop {
            match drive.next_action() {
                Action::AppendEvents { entries, .. } => {
                    log.extend(entries);
                    drive.resume_appended().context("applying staged entries")?;
                }
                Action::GenerateLlm(intent) => {
                    let answer = GenerationOutcome::Completed(GenerationResult {
                        usage: Usage {
                            input_tokens: 100,
                            output_tokens: 8,
                            ..Usage::default()
                        },
                        response_id: None,
                        items: vec![text(ItemKind::AssistantMessage, &format!("answer {turn}"))],
                        tool_calls: Vec::new(),
                        finish_reason: Some(FinishReason::Stop),
                        context_tokens: None,
                        request_ref: None,
                        context_refresh: Default::default(),
                    });
                    let _ = drive.resume_generation(&intent.run_id, intent.turn, answer, now);
                }
                Action::Idle => break,
                other => bail!("unexpected action while building the log: {other:?}"),
            }
        }
    }
    let checkpointed = checkpointed.unwrap_or_else(|| drive.state().clone());
    Ok((log, checkpointed))
}

fn median_ms(mut samples: Vec<Duration>) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64() * 1_000.0
}

async fn timed<T, F, Fut>(what: &str, mut run: F) -> anyhow::Result<f64>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let mut samples = Vec::with_capacity(REPEATS);
    for repeat in 1..=REPEATS {
        let started = Instant::now();
        run().await?;
        let took = started.elapsed();
        crate::progress(format_args!(
            "cold-start: {what} {repeat}/{REPEATS}: {:.1} ms",
            took.as_secs_f64() * 1_000.0
        ));
        samples.push(took);
    }
    Ok(median_ms(samples))
}

pub(crate) async fn measure(entries: u64) -> anyhow::Result<ColdStart> {
    let url = std::env::var("LIGHTSPEED_POSTGRES_URL")
        .ok()
        .filter(|url| !url.is_empty())
        .context("cold-start needs LIGHTSPEED_POSTGRES_URL (local/up.sh; source local/env.sh)")?;
    let wanted = usize::try_from(entries).context("entries")?;
    crate::progress(format_args!("cold-start: deciding {wanted} log entries"));
    let (log, checkpointed) = build_log(wanted)?;
    let db = PgDatabase::connect(&PgConfig::new(&url))
        .await
        .context("connecting to Postgres")?;
    let universe = uuid::Uuid::new_v4();
    let store: PgStore = db.store(universe, None).await.context("universe store")?;
    let session = SessionId::new("cold-start").context("session id")?;
    let mut head: Seq = 0;
    for (index, batch) in log.chunks(APPEND_BATCH).enumerate() {
        store
            .append(&session, head, batch)
            .await
            .context("appending the log")?;
        head += batch.len() as u64;
        if index % 20 == 0 {
            crate::progress(format_args!(
                "cold-start: {head}/{} entries in Postgres",
                log.len()
            ));
        }
    }
    write_checkpoint(&store, &session, &checkpointed)
        .await
        .context("writing the checkpoint")?;
    let checkpoint = store
        .latest_checkpoint(&session)
        .await?
        .context("the checkpoint just written")?;
    let chunks = checkpointed
        .context
        .items()
        .len()
        .div_ceil(engine::rehydrate::CHECKPOINT_CHUNK_ITEMS) as u64;

    let control_checkpoint_ms = timed("control from checkpoint + tail", || async {
        let control: ControlState = state_at(&store, &session, Seq::MAX).await?;
        anyhow::ensure!(control.head == head, "rehydrated to {}", control.head);
        Ok(())
    })
    .await?;
    let control_replay_ms = timed("control by full replay", || async {
        let control = advance(&store, &session, ControlState::default(), Seq::MAX).await?;
        anyhow::ensure!(control.head == head, "replayed to {}", control.head);
        Ok(())
    })
    .await?;
    let full_checkpoint_ms = timed("full state from checkpoint + tail", || async {
        let state: SessionState = state_at(&store, &session, Seq::MAX).await?;
        anyhow::ensure!(state.head() == head, "rehydrated to {}", state.head());
        Ok(())
    })
    .await?;
    let full_replay_ms = timed("full state by full replay", || async {
        let state = advance(&store, &session, SessionState::default(), Seq::MAX).await?;
        anyhow::ensure!(state.head() == head, "replayed to {}", state.head());
        Ok(())
    })
    .await?;
    db.close().await;
    let percent = |part: f64, whole: f64| {
        if whole > 0.0 {
            100.0 * part / whole
        } else {
            0.0
        }
    };
    Ok(ColdStart {
        entries: head,
        context_items: checkpointed.context.items().len() as u64,
        checkpoint_seq: checkpoint.seq,
        checkpoint_bytes: checkpoint.state.len() as u64,
        checkpoint_chunks: chunks,
        control_checkpoint_ms,
        control_replay_ms,
        control_percent: percent(control_checkpoint_ms, control_replay_ms),
        full_checkpoint_ms,
        full_replay_ms,
        full_percent: percent(full_checkpoint_ms, full_replay_ms),
    })
}
