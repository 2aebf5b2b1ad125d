//! Live deltas while a generation streams. They are a side channel for clients (the
//! gateway relays them); the final result is assembled independently, so a slow or
//! absent subscriber never changes what is recorded.

use engine::RunId;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeltaKind {
    Text,
    Reasoning,
    ToolArguments,
    /// A running tool call's progress, one line (`turn` is the tool batch); tools
    /// that report progress (MCP servers) send it, not the model.
    ToolProgress,
    /// Output a running tool call printed (a shell command's stdout and stderr),
    /// appended; `call_id` names the call, `turn` is the tool batch.
    ToolOutput,
    /// The generation of `turn` failed after streaming some of it and is being
    /// tried again: what streamed for the turn so far is void (`text` empty).
    Retry,
}

/// The delta that voids what streamed for `run_id`'s `turn` before it is retried.
pub fn retry_delta(run_id: RunId, turn: u32) -> Delta {
    Delta {
        run_id,
        turn,
        output_index: 0,
        kind: DeltaKind::Retry,
        text: String::new(),
        call_id: None,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delta {
    pub run_id: RunId,
    pub turn: u32,
    /// Index of the output item in provider order.
    pub output_index: u32,
    pub kind: DeltaKind,
    pub text: String,
    /// The tool call a tool delta belongs to (`ToolOutput`); none for the model's.
    pub call_id: Option<String>,
}

/// Receives deltas. Implementations must not block: drop rather than wait.
pub trait DeltaSink: Send + Sync {
    fn delta(&self, delta: Delta);
}

/// Discards every delta.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoDeltas;

impl DeltaSink for NoDeltas {
    fn delta(&self, _delta: Delta) {}
}
