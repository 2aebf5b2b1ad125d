use super::*;

// ---------------------------------------------------------------------------------
// Coverage statistics
// ---------------------------------------------------------------------------------

#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub(crate) cases: u64,
    pub(crate) events: BTreeMap<&'static str, u64>,
    pub(crate) rejections: BTreeMap<String, u64>,
    /// Effect results recorded as failed effects, by the bound they broke.
    pub(crate) invalid_results: BTreeMap<String, u64>,
    pub(crate) limits_hit: BTreeSet<String>,
    pub(crate) watermark_compactions: u64,
    pub(crate) generations_checked: u64,
    pub(crate) crashes: u64,
    pub(crate) checkpoint_restores: u64,
    pub(crate) retried_appends: u64,
    pub(crate) control_bytes_max: usize,
    /// Forks checked, by where they forked: `idle`, `before_run`, `not_open`.
    pub(crate) forks: BTreeMap<&'static str, u64>,
}

impl Stats {
    pub(crate) fn committed(&mut self, event: &CoreEvent) {
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

    pub(crate) fn rejected(&mut self, rejection: &Rejection) {
        *self.rejections.entry(variant(rejection)).or_default() += 1;
    }

    pub(crate) fn invalid(&mut self, reason: &Rejection) {
        *self.invalid_results.entry(variant(reason)).or_default() += 1;
    }

    pub(crate) fn assert_coverage(&self) {
        let missing: Vec<_> = EVENT_KINDS
            .iter()
            // Forks are written by `engine::fork`, never by a drive (`fork.rs`).
            .filter(|(kind, _)| *kind != engine::core::fork::SessionForked::KIND)
            // The operator's pauses have a property of their own (`main.rs`).
            .filter(|(kind, _)| *kind != engine::core::event::DispatchChanged::KIND)
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
            "DuplicateToolResult",
            "TextTooLong",
            "InvalidConfig",
            "NoApprovalPending",
            "NothingDue",
            "UnknownWakeUp",
        ] {
            assert!(
                self.rejections.contains_key(rejection),
                "no scenario was rejected with {rejection}"
            );
        }
        // Malformed generation and compaction results are recorded as failed effects.
        for reason in ["DuplicateToolCall", "TextTooLong"] {
            assert!(
                self.invalid_results.contains_key(reason),
                "no effect result was recorded as invalid for {reason}: {:?}",
                self.invalid_results
            );
        }
        assert!(
            self.limits_hit.len() >= 2,
            "limits hit: {:?}",
            self.limits_hit
        );
        for budget in ["Cost", "SessionCost"] {
            assert!(
                self.limits_hit.contains(budget),
                "no run failed on its {budget} budget: {:?}",
                self.limits_hit
            );
        }
        assert!(
            self.watermark_compactions > 0,
            "no high-watermark compaction"
        );
        assert!(self.generations_checked > 0);
        assert!(self.crashes > 0 && self.checkpoint_restores > 0);
        assert!(self.retried_appends > 0, "no retried append");
        for fork in ["idle", "before_run", "not_open"] {
            assert!(
                self.forks.contains_key(fork),
                "no fork was {fork}: {:?}",
                self.forks
            );
        }
    }
}

/// The variant name of a rejection, from its `Debug` form.
fn variant(rejection: &Rejection) -> String {
    let debug = format!("{rejection:?}");
    debug
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or_default()
        .to_owned()
}
