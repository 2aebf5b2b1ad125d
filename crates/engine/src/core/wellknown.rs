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

/// Every blob the engine may reference without a host having written it.
pub fn well_known_blobs() -> [&'static [u8]; 6] {
    [
        TOOL_CANCELLED_OUTPUT,
        TOOL_LIMIT_OUTPUT,
        TOOL_DENIED_OUTPUT,
        TOOL_DENIED_BY_POLICY_OUTPUT,
        TOOL_APPROVAL_EXPIRED_OUTPUT,
        TOOL_WAKE_UP_REFUSED_OUTPUT,
    ]
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
