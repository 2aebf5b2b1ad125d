//! Delivery is at least once, so calls are remembered by id: one that runs is
//! attached to when delivered again (its output sent again from offset 0, then
//! live), one that finished is answered from memory (output from 0, then its
//! result). Nothing is run twice while its id is remembered: running calls
//! always are, finished ones for [`Limits::call_memory`] within
//! [`Limits::calls_remembered_max`] and [`Limits::remembered_output_bytes_max`].

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use env_protocol::{CallResult, DaemonMessage, OUTPUT_CHUNK_BYTES_MAX};
use tokio::sync::{mpsc, watch};

use crate::config::Limits;
use crate::output::{CallOutput, Chunk};

/// Where a connection's frames go: its writer sends them in order.
pub(crate) type Sink = mpsc::Sender<DaemonMessage>;

/// One call, running or finished.
#[derive(Debug)]
pub(crate) struct CallRun {
    /// Process calls have output; file calls have none.
    pub(crate) output: Option<Arc<CallOutput>>,
    result: watch::Sender<Option<CallResult>>,
}

impl CallRun {
    pub(crate) fn new(output: Option<Arc<CallOutput>>) -> Self {
        Self {
            output,
            result: watch::Sender::new(None),
        }
    }

    /// A call answered at once (no output).
    pub(crate) fn answered(result: CallResult) -> Self {
        let run = Self::new(None);
        run.result.send_replace(Some(result));
        run
    }

    fn is_finished(&self) -> bool {
        self.result.borrow().is_some()
    }

    fn output_bytes(&self) -> usize {
        self.output.as_ref().map_or(0, |output| output.bytes())
    }
}

/// Sends one delivery of a call to a connection: its output from offset 0 until
/// complete, then its result. Ends early when the connection goes away (the call
/// itself goes on).
pub(crate) async fn attach(call_id: String, run: Arc<CallRun>, sink: Sink) {
    tokio::select! {
        () = sink.closed() => {}
        () = send_call(&call_id, &run, &sink) => {}
    }
}

async fn send_call(call_id: &str, run: &CallRun, sink: &Sink) {
    if let Some(output) = &run.output {
        let mut changed = output.subscribe();
        let mut offset = 0u64;
        loop {
            match output.chunk(offset, OUTPUT_CHUNK_BYTES_MAX) {
                Chunk::Data(data) => {
                    let len = data.len() as u64;
                    let frame = DaemonMessage::Output {
                        call_id: call_id.to_owned(),
                        offset,
                        data,
                    };
                    if sink.send(frame).await.is_err() {
                        return;
                    }
                    offset += len;
                }
                Chunk::Pending => {
                    if changed.changed().await.is_err() {
                        return;
                    }
                }
                Chunk::End { .. } => break,
            }
        }
    }
    let mut result = run.result.subscribe();
    let result = match result.wait_for(Option::is_some).await {
        Ok(done) => done.clone(),
        Err(_) => None,
    };
    let Some(result) = result else {
        return;
    };
    let frame = DaemonMessage::Result {
        call_id: call_id.to_owned(),
        result,
    };
    // A closed connection is not an error here: the call is remembered.
    let _ = sink.send(frame).await;
}

/// The remembered calls.
#[derive(Debug)]
pub(crate) struct CallTable {
    calls: BTreeMap<String, Arc<CallRun>>,
    /// Finished calls, oldest first, with when they finished.
    finished: VecDeque<(String, Instant)>,
    finished_output_bytes: usize,
    limits: Limits,
}

impl CallTable {
    pub(crate) fn new(limits: Limits) -> Self {
        Self {
            calls: BTreeMap::new(),
            finished: VecDeque::new(),
            finished_output_bytes: 0,
            limits,
        }
    }

    pub(crate) fn get(&self, call_id: &str) -> Option<Arc<CallRun>> {
        self.calls.get(call_id).cloned()
    }

    pub(crate) fn running(&self) -> usize {
        self.calls.len() - self.finished.len()
    }

    pub(crate) fn insert(&mut self, call_id: String, run: Arc<CallRun>) {
        let finished = run.is_finished();
        self.calls.insert(call_id.clone(), run);
        if finished {
            self.remember(call_id, Instant::now());
        }
    }

    /// Records a call's result; every attachment sends it.
    pub(crate) fn finish(&mut self, call_id: &str, result: CallResult, now: Instant) {
        let Some(run) = self.calls.get(call_id) else {
            return;
        };
        if run.is_finished() {
            return;
        }
        run.result.send_replace(Some(result));
        self.remember(call_id.to_owned(), now);
    }

    fn remember(&mut self, call_id: String, now: Instant) {
        if let Some(run) = self.calls.get(&call_id) {
            self.finished_output_bytes += run.output_bytes();
        }
        self.finished.push_back((call_id, now));
        self.forget(now);
    }

    /// Forgets finished calls beyond the memory's age, count and size.
    pub(crate) fn forget(&mut self, now: Instant) {
        while let Some((call_id, finished_at)) = self.finished.front() {
            let expired = now.saturating_duration_since(*finished_at) > self.limits.call_memory;
            let over = self.finished.len() > self.limits.calls_remembered_max
                || self.finished_output_bytes > self.limits.remembered_output_bytes_max;
            if !expired && !over {
                break;
            }
            if let Some(run) = self.calls.remove(call_id) {
                self.finished_output_bytes = self
                    .finished_output_bytes
                    .saturating_sub(run.output_bytes());
            }
            self.finished.pop_front();
        }
    }

    /// Ids running or remembered, for `Hello.known_calls`.
    pub(crate) fn known(&self) -> Vec<String> {
        self.calls.keys().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use env_protocol::FailureCode;

    use super::*;

    fn failed() -> CallResult {
        CallResult::Failed {
            code: FailureCode::Io,
            message: "x".into(),
        }
    }

    #[test]
    fn finished_calls_are_forgotten_by_age_and_count() {
        let limits = Limits {
            calls_remembered_max: 2,
            call_memory: Duration::from_secs(60),
            ..Limits::default()
        };
        let mut table = CallTable::new(limits);
        let start = Instant::now();
        for id in ["a", "b", "c"] {
            table.insert(id.into(), Arc::new(CallRun::new(None)));
        }
        assert_eq!(table.running(), 3);
        table.finish("a", failed(), start);
        table.finish("b", failed(), start);
        table.finish("c", failed(), start);
        // At most two finished remembered: the oldest went.
        assert_eq!(table.known(), vec!["b".to_owned(), "c".to_owned()]);
        table.forget(start + Duration::from_secs(61));
        assert!(table.known().is_empty());
    }

    #[test]
    fn running_calls_are_never_forgotten() {
        let limits = Limits {
            calls_remembered_max: 0,
            ..Limits::default()
        };
        let mut table = CallTable::new(limits);
        table.insert("r".into(), Arc::new(CallRun::new(None)));
        table.forget(Instant::now() + Duration::from_secs(3600));
        assert_eq!(table.known(), vec!["r".to_owned()]);
    }
}
