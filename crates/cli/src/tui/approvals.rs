//! Approvals in the TUI: calls the session's tool policy holds for a person. When a
//! call waits, the transcript says so and, while the composer is empty, `y` approves,
//! `a` approves the tool for the rest of the session and `n` denies; `/approve`,
//! `/approve all` and `/deny [MESSAGE]` do the same from the composer.

use api::types::events::{EventView, HoldState};
use api::types::run::{RunAccepted, RunApproveParams, RunDenyParams};

use super::app::{App, Call, UiAction};

/// Calls of one run that wait for a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PendingApproval {
    pub(super) run_id: String,
    pub(super) call_ids: Vec<String>,
}

/// What a person decided, from a key or a slash command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Decision {
    Approve { remember: bool },
    Deny { message: Option<String> },
}

impl App {
    /// Keeps the pending approvals in step with the session's events.
    pub(super) fn on_hold(&mut self, event: &EventView) {
        let Some(hold) = &event.hold else { return };
        let run_id = event.run_id.clone().unwrap_or_default();
        match hold.state {
            HoldState::AwaitingApproval => {
                let names = self.transcript.tool_names(&hold.call_ids);
                let deadline = hold
                    .until_ms
                    .map(|at| {
                        let seconds = at.saturating_sub(event.at_ms) / 1_000;
                        format!(" (denied in {seconds} s without an answer)")
                    })
                    .unwrap_or_default();
                self.transcript.notice(format!(
                    "waiting for your approval: {}{deadline}. y approve · a approve for this \
                     session · n deny · /deny MESSAGE",
                    names.join(", ")
                ));
                self.approvals.retain(|pending| pending.run_id != run_id);
                self.approvals.push(PendingApproval {
                    run_id,
                    call_ids: hold.call_ids.clone(),
                });
            }
            HoldState::Approved | HoldState::Denied | HoldState::Expired => {
                for pending in &mut self.approvals {
                    pending.call_ids.retain(|id| !hold.call_ids.contains(id));
                }
                self.approvals
                    .retain(|pending| !pending.call_ids.is_empty());
                if hold.state == HoldState::Expired {
                    self.transcript
                        .notice("the approval deadline passed: the call was denied");
                }
            }
            HoldState::AwaitingChildren => {
                self.transcript
                    .notice("waiting for sub-agents to finish (no worker is held meanwhile)");
            }
            HoldState::Deferred => {}
        }
    }

    /// Forgets a finished run's approvals.
    pub(super) fn forget_approvals(&mut self, run_id: &str) {
        self.approvals.retain(|pending| pending.run_id != run_id);
    }

    /// Whether a call waits for this person's decision.
    pub fn awaiting_approval(&self) -> bool {
        !self.approvals.is_empty()
    }

    /// `y`, `a` or `n` with an empty composer while a call waits.
    pub(super) fn approval_key(&mut self, key: char) -> Option<UiAction> {
        if self.approvals.is_empty() || !self.composer.is_empty() {
            return None;
        }
        let decision = match key {
            'y' => Decision::Approve { remember: false },
            'a' => Decision::Approve { remember: true },
            'n' => Decision::Deny { message: None },
            _ => return None,
        };
        self.decide(decision)
    }

    /// Decides the oldest pending approval (every call of it).
    pub(super) fn decide(&mut self, decision: Decision) -> Option<UiAction> {
        let Some(pending) = self.approvals.first().cloned() else {
            self.transcript.error("no call is waiting for approval");
            return None;
        };
        let session_id = self.session.session_id.clone();
        let call = match decision {
            Decision::Approve { remember } => Call::Approve(RunApproveParams {
                session_id,
                run_id: pending.run_id,
                call_ids: pending.call_ids,
                remember,
            }),
            Decision::Deny { message } => Call::Deny(RunDenyParams {
                session_id,
                run_id: pending.run_id,
                call_ids: pending.call_ids,
                message,
            }),
        };
        Some(UiAction::Call(call))
    }

    pub(super) fn on_decided(&mut self, accepted: &RunAccepted, approved: bool) {
        let what = if approved { "approved" } else { "denied" };
        self.transcript
            .notice(format!("{what}: {} continues", accepted.run_id));
    }
}
