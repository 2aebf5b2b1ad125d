//! Admission: deciding which events a command produces, or refusing it. Pure: reads
//! control state, returns events; nothing changes until they are committed.

use sha2::{Digest, Sha256};

use crate::core::command::{CoreCommand, Rejection};
use crate::core::config::{ConfigPatch, RunOverrides, SessionConfig};
use crate::core::context::{ContextItem, ItemKind, ItemSpec, is_valid_item_key};
use crate::core::control::{ControlState, Lifecycle};
use crate::core::event::{self as ev, CompactionReason};
use crate::core::limits::{
    INPUT_ITEMS_MAX, KEYED_ITEMS_MAX, PENDING_STEERS_MAX, QUEUED_RUNS_MAX, TEXT_FIELD_BYTES_MAX,
    TOOLS_MAX,
};
use crate::core::planner::Planned;
use crate::core::run::{ActiveRunStatus, QueuedRun, RunOutcome, Usage};
use crate::core::tools::{ToolSpec, is_valid_tool_name};
use crate::ids::{RunId, SubmissionId};
use crate::log::Joins;

/// What an accepted command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admitted {
    Accepted,
    /// A run request was accepted; `duplicate` when it repeated an earlier
    /// submission, in which case nothing new was recorded.
    Run {
        run_id: RunId,
        duplicate: bool,
    },
}

pub(crate) struct Decision {
    pub(crate) events: Vec<Planned>,
    pub(crate) admitted: Admitted,
}

impl Decision {
    fn accepted(events: Vec<Planned>) -> Self {
        Self {
            events,
            admitted: Admitted::Accepted,
        }
    }
}

/// The key under which session instructions are kept.
pub const INSTRUCTIONS_KEY: &str = "instructions";

pub(crate) fn admit(control: &ControlState, command: CoreCommand) -> Result<Decision, Rejection> {
    if let CoreCommand::OpenSession {
        session_id,
        config,
        instructions,
        parent,
    } = command
    {
        return match control.lifecycle {
            Lifecycle::Uninitialized => open_session(session_id, config, instructions, parent),
            Lifecycle::Open => Err(Rejection::AlreadyOpen),
            Lifecycle::Closed => Err(Rejection::Closed),
        };
    }
    // Closing a session ends its runs, and its parent still hears of those ends.
    if control.lifecycle == Lifecycle::Closed
        && let CoreCommand::ParentNotified { run_id, delivered } = command
    {
        return crate::core::lineage::parent_notified(control, run_id, delivered)
            .map(Decision::accepted);
    }
    match control.lifecycle {
        Lifecycle::Uninitialized => return Err(Rejection::NotOpen),
        Lifecycle::Closed => return Err(Rejection::Closed),
        Lifecycle::Open => {}
    }
    let config = control.config.as_ref().ok_or(Rejection::NotOpen)?;
    match command {
        CoreCommand::OpenSession { .. } => Err(Rejection::AlreadyOpen),
        CoreCommand::PatchConfig {
            expected_revision,
            patch,
        } => patch_config(control, config, expected_revision, &patch),
        CoreCommand::ReplaceTools {
            expected_revision,
            tools,
        } => {
            check_revision(expected_revision, control.tools_revision)?;
            tools_changed(control, tools)
        }
        CoreCommand::PatchTools {
            expected_revision,
            upsert,
            remove,
        } => {
            check_revision(expected_revision, control.tools_revision)?;
            let mut tools = control.tools.clone();
            for name in &remove {
                let before = tools.len();
                tools.retain(|tool| tool.name != *name);
                if tools.len() == before {
                    return Err(Rejection::UnknownTool(name.clone()));
                }
            }
            for tool in upsert {
                tools.retain(|existing| existing.name != tool.name);
                tools.push(tool);
            }
            tools_changed(control, tools)
        }
        CoreCommand::UpsertContextItem { key, item } => upsert_item(control, key, &item),
        CoreCommand::RemoveContextItem { key } => {
            if !control.context.keyed.contains_key(&key) {
                return Err(Rejection::UnknownItemKey(key));
            }
            Ok(Decision::accepted(vec![Planned::session(
                ev::ContextItemRemoved { key },
            )]))
        }
        CoreCommand::RequestRun {
            submission_id,
            input,
            overrides,
        } => request_run(control, config, submission_id, input, overrides),
        CoreCommand::Steer { run_id, input } => steer(control, run_id, input),
        CoreCommand::CancelRun { run_id, reason } => cancel(control, run_id, reason),
        CoreCommand::RequestCompaction { instruction } => {
            if control.compaction.pending.is_some() {
                return Err(Rejection::CompactionPending);
            }
            Ok(Decision::accepted(vec![Planned::session(
                ev::CompactionRequested {
                    compaction: control.compaction.requested_total + 1,
                    reason: CompactionReason::Requested,
                    instruction,
                },
            )]))
        }
        CoreCommand::Close => Ok(Decision::accepted(close(control))),
        CoreCommand::DecideApproval {
            run_id,
            call_ids,
            decision,
        } => crate::core::holds::decide_approval(control, run_id, call_ids, decision)
            .map(Decision::accepted),
        CoreCommand::FireTimers { now_ms } => {
            crate::core::holds::fire_timers(control, now_ms).map(Decision::accepted)
        }
        CoreCommand::CancelWakeUp { wake_up } => {
            crate::core::holds::cancel_wake_up(control, wake_up).map(Decision::accepted)
        }
        CoreCommand::WakeUpNow { wake_up, input } => {
            crate::core::holds::wake_up_now(control, wake_up, input).map(|events| {
                let run_id = RunId::from_ordinal(control.runs.requested_total + 1);
                Decision {
                    events,
                    admitted: Admitted::Run {
                        run_id,
                        duplicate: false,
                    },
                }
            })
        }
        CoreCommand::ChildRunFinished {
            child,
            run_id,
            status,
        } => crate::core::lineage::child_run_finished(control, child, run_id, status)
            .map(Decision::accepted),
        CoreCommand::ParentNotified { run_id, delivered } => {
            crate::core::lineage::parent_notified(control, run_id, delivered)
                .map(Decision::accepted)
        }
        CoreCommand::SetDispatch { paused } => {
            let events = if control.dispatch_paused == paused {
                Vec::new()
            } else {
                vec![Planned::session(ev::DispatchChanged { paused })]
            };
            Ok(Decision::accepted(events))
        }
    }
}

fn open_session(
    session_id: crate::ids::SessionId,
    config: SessionConfig,
    instructions: Option<ItemSpec>,
    parent: Option<crate::core::lineage::ParentLink>,
) -> Result<Decision, Rejection> {
    config.validate()?;
    if let Some(parent) = &parent
        && (parent.depth == 0 || parent.depth > crate::core::lineage::DEPTH_MAX)
    {
        return Err(Rejection::TooMany {
            what: "levels of sub-agents",
            count: parent.depth as usize,
            max: crate::core::lineage::DEPTH_MAX as usize,
        });
    }
    let mut events = vec![Planned::session(ev::SessionOpened {
        session_id,
        config,
        parent,
    })];
    if let Some(spec) = instructions {
        let item = ContextItem::new(0, Some(INSTRUCTIONS_KEY.to_owned()), &spec);
        events.push(Planned::session(ev::ContextItemUpserted { item }));
    }
    Ok(Decision::accepted(events))
}

fn check_revision(expected: u64, actual: u64) -> Result<(), Rejection> {
    if expected == actual {
        Ok(())
    } else {
        Err(Rejection::RevisionConflict { expected, actual })
    }
}

fn patch_config(
    control: &ControlState,
    config: &SessionConfig,
    expected_revision: u64,
    patch: &ConfigPatch,
) -> Result<Decision, Rejection> {
    check_revision(expected_revision, control.config_revision)?;
    if !control.runs.is_idle() {
        return Err(Rejection::SessionBusy);
    }
    let next = config.patched(patch);
    next.validate()?;
    Ok(Decision::accepted(vec![Planned::session(
        ev::ConfigChanged {
            revision: control.config_revision + 1,
            config: next,
        },
    )]))
}

fn tools_changed(control: &ControlState, mut tools: Vec<ToolSpec>) -> Result<Decision, Rejection> {
    check_count("tools", tools.len(), TOOLS_MAX)?;
    if let Some(bad) = tools.iter().find(|tool| !is_valid_tool_name(&tool.name)) {
        return Err(Rejection::InvalidToolName(bad.name.clone()));
    }
    tools.sort();
    if let Some(pair) = tools.windows(2).find(|pair| pair[0].name == pair[1].name) {
        return Err(Rejection::DuplicateTool(pair[0].name.clone()));
    }
    Ok(Decision::accepted(vec![Planned::session(
        ev::ToolsChanged {
            revision: control.tools_revision + 1,
            tools,
        },
    )]))
}

fn upsert_item(
    control: &ControlState,
    key: String,
    spec: &ItemSpec,
) -> Result<Decision, Rejection> {
    // Sourced items belong to the host's context sources (`core::refresh`).
    if !is_valid_item_key(&key) || crate::core::refresh::is_source_key(&key) {
        return Err(Rejection::InvalidItemKey(key));
    }
    let ordinal = match control.context.keyed.get(&key) {
        Some(existing) => existing.ordinal,
        None => {
            check_count(
                "keyed context items",
                control.context.keyed.len() + 1,
                KEYED_ITEMS_MAX,
            )?;
            control.context.next_ordinal
        }
    };
    let item = ContextItem::new(ordinal, Some(key), spec);
    Ok(Decision::accepted(vec![Planned::session(
        ev::ContextItemUpserted { item },
    )]))
}

fn check_count(what: &'static str, count: usize, max: usize) -> Result<(), Rejection> {
    if count > max {
        Err(Rejection::TooMany { what, count, max })
    } else {
        Ok(())
    }
}

/// Run and steer input must be transcript items and bounded in number. Voice notes
/// are run input only: they are transcribed before a run starts
/// (`core::transcription`), and a steer lands in a running turn.
fn check_input(what: &'static str, input: &[ItemSpec]) -> Result<(), Rejection> {
    if input.is_empty() {
        return Err(Rejection::Empty { what });
    }
    check_count(what, input.len(), INPUT_ITEMS_MAX)?;
    let steering = what == STEER_INPUT;
    if let Some(item) = input
        .iter()
        .find(|item| item.kind.band() != 3 || (steering && item.kind == ItemKind::UserAudio))
    {
        return Err(Rejection::InvalidItemKind(item.kind));
    }
    Ok(())
}

const STEER_INPUT: &str = "steer input";

pub(crate) fn input_digest(input: &[ItemSpec], overrides: &RunOverrides) -> String {
    let bytes = crate::canonical::to_vec(&(input, overrides));
    hex::encode(Sha256::digest(bytes))
}

fn request_run(
    control: &ControlState,
    config: &SessionConfig,
    submission_id: SubmissionId,
    input: Vec<ItemSpec>,
    overrides: RunOverrides,
) -> Result<Decision, Rejection> {
    check_input("run input", &input)?;
    overrides.validate(config)?;
    let input_digest = input_digest(&input, &overrides);
    if let Some(record) = control.runs.submission(&submission_id) {
        if record.input_digest != input_digest {
            return Err(Rejection::SubmissionConflict {
                submission_id,
                run_id: record.run_id.clone(),
            });
        }
        return Ok(Decision {
            events: Vec::new(),
            admitted: Admitted::Run {
                run_id: record.run_id.clone(),
                duplicate: true,
            },
        });
    }
    check_count("run queue", control.runs.queue.len() + 1, QUEUED_RUNS_MAX)?;
    let run_id = RunId::from_ordinal(control.runs.requested_total + 1);
    let limits = config
        .run_limits
        .patched(&overrides.limits.unwrap_or_default());
    let run = QueuedRun {
        run_id: run_id.clone(),
        submission_id,
        input,
        overrides,
        limits,
    };
    Ok(Decision {
        events: vec![Planned::run(
            &run_id,
            ev::RunRequested { run, input_digest },
        )],
        admitted: Admitted::Run {
            run_id,
            duplicate: false,
        },
    })
}

fn steer(
    control: &ControlState,
    run_id: RunId,
    input: Vec<ItemSpec>,
) -> Result<Decision, Rejection> {
    check_input(STEER_INPUT, &input)?;
    let Some(run) = control
        .runs
        .active
        .as_ref()
        .filter(|run| run.run_id == run_id)
    else {
        return Err(Rejection::RunNotActive(run_id));
    };
    if matches!(run.status, ActiveRunStatus::Cancelling { .. }) {
        return Err(Rejection::AlreadyCancelling(run_id));
    }
    check_count(
        "pending steer input",
        run.pending_steers.len() + input.len(),
        PENDING_STEERS_MAX,
    )?;
    Ok(Decision::accepted(vec![Planned::run(
        &run_id,
        ev::RunSteered {
            run_id: run_id.clone(),
            input,
        },
    )]))
}

fn cancel(
    control: &ControlState,
    run_id: RunId,
    reason: Option<String>,
) -> Result<Decision, Rejection> {
    if reason
        .as_ref()
        .is_some_and(|text| text.len() > TEXT_FIELD_BYTES_MAX)
    {
        return Err(Rejection::TextTooLong("cancel reason"));
    }
    if let Some(run) = control
        .runs
        .active
        .as_ref()
        .filter(|run| run.run_id == run_id)
    {
        if matches!(run.status, ActiveRunStatus::Cancelling { .. }) {
            return Err(Rejection::AlreadyCancelling(run_id));
        }
        let event = ev::RunCancelRequested {
            run_id: run_id.clone(),
            reason,
        };
        return Ok(Decision::accepted(vec![Planned::run(&run_id, event)]));
    }
    if control.runs.queue.iter().any(|run| run.run_id == run_id) {
        let event = ev::RunFinished {
            run_id: run_id.clone(),
            outcome: RunOutcome::Cancelled { reason },
            usage: Usage::default(),
            turns: 0,
        };
        return Ok(Decision::accepted(vec![Planned::run(&run_id, event)]));
    }
    Err(Rejection::UnknownRun(run_id))
}

/// Closing cancels the active run (aborting what it has in flight, exactly as a
/// cancel would) and the queued runs, then closes.
fn close(control: &ControlState) -> Vec<Planned> {
    let reason = Some("session closed".to_owned());
    let mut events = Vec::new();
    if let Some(run) = &control.runs.active {
        let outcome = RunOutcome::Cancelled {
            reason: reason.clone(),
        };
        events.extend(crate::core::planner::abandon(control, run, outcome));
    }
    for run in &control.runs.queue {
        let outcome = RunOutcome::Cancelled {
            reason: reason.clone(),
        };
        let finished = ev::RunFinished {
            run_id: run.run_id.clone(),
            outcome,
            usage: Usage::default(),
            turns: 0,
        };
        events.push(Planned::run(&run.run_id, finished));
    }
    events.push(Planned::session(ev::SessionClosed {}));
    events
}

impl Planned {
    pub(crate) fn session(event: impl Into<crate::core::event::CoreEvent>) -> Self {
        Self {
            joins: Joins::default(),
            event: event.into(),
        }
    }

    pub(crate) fn run(run_id: &RunId, event: impl Into<crate::core::event::CoreEvent>) -> Self {
        Self {
            joins: Joins {
                run_id: Some(run_id.clone()),
                ..Joins::default()
            },
            event: event.into(),
        }
    }
}
