//! Which trace each run's activities join (docs/operating/traces.md).
//!
//! With traces on, the SDK's OpenTelemetry plugin runs each `admit` update under a
//! span whose parent is the caller's (the gateway's span of the API call), and starts
//! a span for every activity the workflow schedules, under whatever context is
//! current when it is scheduled. The drive loop schedules a run's activities outside
//! that update, so this keeps, per run, the context of the update that asked for it,
//! and the loop makes it current while it acts for that run: one trace per run, from
//! the API call to the provider's answer.
//!
//! Nothing here reaches a command or the history: the contexts are rebuilt when the
//! workflow replays (the plugin gives replayed spans the same ids), and with traces
//! off every context is empty and none is kept.

use std::collections::BTreeMap;

use engine::RunId;
use engine::core::control::ControlState;
use opentelemetry::Context;
use opentelemetry::trace::TraceContextExt as _;

#[derive(Default)]
pub(crate) struct RunTraces {
    /// Admissions in flight whose update ran under a span, by admission id.
    admissions: BTreeMap<u64, Context>,
    /// Runs queued or active, by run id.
    runs: BTreeMap<RunId, Context>,
    /// The run that ended last: its parent is notified after it ends.
    ended: Option<(RunId, Context)>,
}

impl RunTraces {
    /// Admission `id` is handled under the current context (the update's span).
    pub(crate) fn admitted(&mut self, id: u64) {
        let context = Context::current();
        if context.has_active_span() {
            self.admissions.insert(id, context);
        }
    }

    /// Admission `id` asked for `run_id`: the run joins the admission's trace (the
    /// first admission naming a run keeps it; a duplicate submission changes nothing).
    pub(crate) fn run_staged(&mut self, id: u64, run_id: &RunId) {
        if let Some(context) = self.admissions.get(&id)
            && !self.runs.contains_key(run_id)
        {
            self.runs.insert(run_id.clone(), context.clone());
        }
    }

    /// Admission `id`'s handler replied.
    pub(crate) fn handled(&mut self, id: u64) {
        self.admissions.remove(&id);
    }

    /// Forgets runs that are neither queued nor active (keeping the last one to end).
    pub(crate) fn prune(&mut self, control: &ControlState) {
        if self.runs.is_empty() {
            return;
        }
        let live = |run_id: &RunId| {
            control
                .runs
                .active
                .as_ref()
                .is_some_and(|active| &active.run_id == run_id)
                || control
                    .runs
                    .queue
                    .iter()
                    .any(|queued| &queued.run_id == run_id)
        };
        let ended: Vec<RunId> = self.runs.keys().filter(|run| !live(run)).cloned().collect();
        for run_id in ended {
            if let Some(context) = self.runs.remove(&run_id) {
                self.ended = Some((run_id, context));
            }
        }
    }

    /// The context `run_id`'s activities are scheduled under, if its admission had one.
    pub(crate) fn of(&self, run_id: &RunId) -> Option<Context> {
        self.runs.get(run_id).cloned().or_else(|| {
            self.ended
                .as_ref()
                .filter(|(ended, _)| ended == run_id)
                .map(|(_, context)| context.clone())
        })
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};

    use super::*;

    fn remote(trace: u128) -> Context {
        Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from(trace),
            SpanId::from(7),
            TraceFlags::SAMPLED,
            true,
            TraceState::default(),
        ))
    }

    fn run(id: &str) -> RunId {
        RunId::new(id).unwrap()
    }

    fn trace_of(traces: &RunTraces, run_id: &RunId) -> Option<TraceId> {
        traces
            .of(run_id)
            .map(|context| context.span().span_context().trace_id())
    }

    #[test]
    fn a_run_joins_the_trace_of_the_update_that_asked_for_it() {
        let mut traces = RunTraces::default();
        // Without a span (traces off) nothing is kept.
        traces.admitted(0);
        traces.run_staged(0, &run("run_1"));
        assert!(traces.of(&run("run_1")).is_none());
        {
            let _current = remote(1).attach();
            traces.admitted(1);
        }
        {
            let _current = remote(2).attach();
            traces.admitted(2);
        }
        traces.run_staged(1, &run("run_2"));
        // A duplicate submission of the same run keeps the first trace.
        traces.run_staged(2, &run("run_2"));
        traces.handled(1);
        traces.handled(2);
        assert_eq!(trace_of(&traces, &run("run_2")), Some(TraceId::from(1)));
        assert!(traces.admissions.is_empty());
    }

    #[test]
    fn runs_that_ended_are_forgotten_but_the_last() {
        let mut traces = RunTraces::default();
        for (id, name) in [(1, "run_1"), (2, "run_2")] {
            let _current = remote(u128::from(id)).attach();
            traces.admitted(id);
            traces.run_staged(id, &run(name));
        }
        traces.prune(&ControlState::default());
        assert!(traces.runs.is_empty());
        assert!(traces.of(&run("run_1")).is_none());
        assert_eq!(trace_of(&traces, &run("run_2")), Some(TraceId::from(2)));
    }
}
