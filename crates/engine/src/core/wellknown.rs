//! Blobs the engine itself refers to. The engine performs no I/O, so hosts put these
//! into their blob store once, before driving (see [`well_known_blobs`]).

use crate::blob_ref::BlobRef;

/// Tool output recorded for calls that never ran because the run was cancelled.
pub const TOOL_CANCELLED_OUTPUT: &[u8] =
    b"Tool call not executed: the run was cancelled before it ran.";
/// Tool output recorded for calls that never ran because a run limit was reached.
pub const TOOL_LIMIT_OUTPUT: &[u8] =
    b"Tool call not executed: the run reached one of its limits before it ran.";

/// Tool output recorded for calls a person denied without a message.
pub const TOOL_DENIED_OUTPUT: &[u8] =
    b"Tool call not executed: the user denied it. Do not retry it unchanged; ask the user or take another approach.";
/// Tool output recorded for calls the session's tool policy refuses.
pub const TOOL_DENIED_BY_POLICY_OUTPUT: &[u8] =
    b"Tool call not executed: this session's tool policy does not allow this tool.";
/// Tool output recorded for calls whose approval deadline passed without a decision.
pub const TOOL_APPROVAL_EXPIRED_OUTPUT: &[u8] =
    b"Tool call not executed: nobody approved it before its approval deadline, so it was denied.";
/// Tool output recorded when a wake-up cannot be scheduled (too many pending, or
/// no usable input).
pub const TOOL_WAKE_UP_REFUSED_OUTPUT: &[u8] =
    b"Wake-up not scheduled: this session already has the most pending wake-ups it may have, or the note was empty.";

/// Tool output recorded when a call started a run on a new child but the session
/// already has the most children it may link.
pub const TOOL_CHILD_REFUSED_OUTPUT: &[u8] =
    b"The sub-agent was started, but this session already has the most sub-agents it may track, so it will not hear when it finishes.";
/// Tool output recorded when `agent_wait`'s timeout passes first.
pub const TOOL_CHILDREN_WAIT_EXPIRED_OUTPUT: &[u8] =
    b"Stopped waiting: the timeout passed before the sub-agents finished. Use agent_list or agent_read to see where they are, or wait again.";

/// Every blob the engine may reference without a host having written it.
pub fn well_known_blobs() -> [&'static [u8]; 8] {
    [
        TOOL_CANCELLED_OUTPUT,
        TOOL_LIMIT_OUTPUT,
        TOOL_DENIED_OUTPUT,
        TOOL_DENIED_BY_POLICY_OUTPUT,
        TOOL_APPROVAL_EXPIRED_OUTPUT,
        TOOL_WAKE_UP_REFUSED_OUTPUT,
        TOOL_CHILD_REFUSED_OUTPUT,
        TOOL_CHILDREN_WAIT_EXPIRED_OUTPUT,
    ]
}

pub(crate) fn tool_child_refused_ref() -> BlobRef {
    BlobRef::of_bytes(TOOL_CHILD_REFUSED_OUTPUT)
}

pub(crate) fn tool_children_wait_expired_ref() -> BlobRef {
    BlobRef::of_bytes(TOOL_CHILDREN_WAIT_EXPIRED_OUTPUT)
}

pub(crate) fn tool_cancelled_ref() -> BlobRef {
    BlobRef::of_bytes(TOOL_CANCELLED_OUTPUT)
}

pub(crate) fn tool_limit_ref() -> BlobRef {
    BlobRef::of_bytes(TOOL_LIMIT_OUTPUT)
}

pub(crate) fn tool_denied_ref() -> BlobRef {
    BlobRef::of_bytes(TOOL_DENIED_OUTPUT)
}

pub(crate) fn tool_denied_by_policy_ref() -> BlobRef {
    BlobRef::of_bytes(TOOL_DENIED_BY_POLICY_OUTPUT)
}

pub(crate) fn tool_approval_expired_ref() -> BlobRef {
    BlobRef::of_bytes(TOOL_APPROVAL_EXPIRED_OUTPUT)
}

pub(crate) fn tool_wake_up_refused_ref() -> BlobRef {
    BlobRef::of_bytes(TOOL_WAKE_UP_REFUSED_OUTPUT)
}
