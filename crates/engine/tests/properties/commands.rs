//! Turning a generated command ([`Cmd`]) into the engine command a host would send,
//! against the session as it stands: revisions offset from the current one, runs
//! and calls picked among those that exist (or deliberately not).

use super::*;

impl Host<'_> {
    pub(crate) fn command(&self, command: &Cmd) -> CoreCommand {
        let control = self.full.projected();
        match command {
            Cmd::Open {
                config,
                instructions,
            } => CoreCommand::OpenSession {
                session_id: session_id(),
                config: config.clone(),
                instructions: instructions.clone(),
                parent: Default::default(),
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
                input: with_voice_notes(input),
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
            Cmd::Compact => CoreCommand::RequestCompaction { instruction: None },
            Cmd::Close => CoreCommand::Close,
            Cmd::Decide {
                run,
                call,
                approve,
                remember,
                message,
            } => CoreCommand::DecideApproval {
                run_id: select_run(control, *run),
                call_ids: waiting_call(control, *call).into_iter().collect(),
                decision: if *approve {
                    ApprovalDecision::Approve {
                        remember: *remember,
                    }
                } else {
                    ApprovalDecision::Deny {
                        output_ref: message.then(|| BlobRef::of_bytes(b"not on main, please")),
                        token_estimate: 6,
                    }
                },
            },
            Cmd::FireTimers => CoreCommand::FireTimers {
                now_ms: self.clock_ms,
            },
            Cmd::ChildFinished { child, run, failed } => CoreCommand::ChildRunFinished {
                child: child_id(*child),
                run_id: RunId::from_ordinal(u64::from(*run)),
                status: if *failed {
                    engine::core::lineage::ChildRunStatus::Failed
                } else {
                    engine::core::lineage::ChildRunStatus::Completed
                },
            },
            Cmd::CancelWakeUp { wake_up } => CoreCommand::CancelWakeUp {
                wake_up: u32::from(*wake_up),
            },
            Cmd::SetDispatch { paused } => CoreCommand::SetDispatch { paused: *paused },
        }
    }
}

/// The `n`-th call of the open batch (any, waiting or not; `n` 0 means none, so the
/// command names every waiting call).
fn waiting_call(control: &ControlState, n: u8) -> Option<ToolCallId> {
    let run = control.runs.active.as_ref()?;
    let engine::core::run::RunPhase::AwaitingTools { calls, .. } = &run.phase else {
        return None;
    };
    let index = usize::from(n.checked_sub(1)?);
    calls.get(index).map(|call| call.request.call_id.clone())
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
