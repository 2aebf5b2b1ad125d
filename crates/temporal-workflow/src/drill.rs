//! The upgrade drill (feature `upgrade-drill`; tests only, never in a production
//! binary): a deliberately changed session workflow, to show that a workflow change
//! behind a patch marker upgrades sessions in flight (docs/spec/workflow.md,
//! "Upgrade drill").
//!
//! The change is a short timer before every generation: a new command where old
//! histories have the generation's activity, so replaying one of them without the
//! marker is a nondeterminism error. [`UpgradeDrill::Guarded`] takes it behind
//! [`UPGRADE_DRILL_PATCH`], as the rule in docs/spec/workflow.md says;
//! [`UpgradeDrill::Unguarded`] takes it unconditionally, the mistake the rule
//! prevents, so tests can show the replayer catching it.

use std::time::Duration;

use crate::AgentSessionWorkflow;

/// The patch marker of the drill's change.
pub const UPGRADE_DRILL_PATCH: &str = "upgrade-drill-v1";

/// How long the drill's timer waits before a generation: long enough to be a real
/// timer (a `TimerStarted` and a `TimerFired` in history), short enough not to slow
/// the tests.
pub const DRILL_PAUSE: Duration = Duration::from_millis(10);

/// Which variant of the session workflow a worker runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum UpgradeDrill {
    /// The production workflow.
    #[default]
    Off,
    /// The changed workflow, guarded: new workflow runs record the marker and pause
    /// before generations; histories without the marker replay the old path.
    Guarded,
    /// The changed workflow without the guard: pauses before every generation,
    /// whatever the history says. Breaks every history recorded before it.
    Unguarded,
}

impl AgentSessionWorkflow {
    /// The workflow as a worker with `drill` builds it
    /// (`register_workflow_with_factory`).
    pub fn with_upgrade_drill(drill: UpgradeDrill) -> Self {
        Self {
            drill,
            ..Self::default()
        }
    }
}

/// Whether this workflow run pauses before generations. Decided once, at the start
/// of the run: a history that began without the marker keeps the old path for the
/// whole run, even past the point where it stops replaying.
pub(crate) fn pauses_before_generation(ctx: &crate::host::Ctx) -> bool {
    match ctx.state(|wf| wf.drill) {
        UpgradeDrill::Off => false,
        UpgradeDrill::Guarded => ctx.patched(UPGRADE_DRILL_PATCH),
        UpgradeDrill::Unguarded => true,
    }
}
