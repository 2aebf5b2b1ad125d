//! Blobs the engine itself refers to. The engine performs no I/O, so hosts put these
//! into their blob store once, before driving (see [`well_known_blobs`]).

use crate::blob_ref::BlobRef;

/// Tool output recorded for calls that never ran because the run was cancelled.
pub const TOOL_CANCELLED_OUTPUT: &[u8] =
    b"Tool call not executed: the run was cancelled before it ran.";
/// Tool output recorded for calls that never ran because a run limit was reached.
pub const TOOL_LIMIT_OUTPUT: &[u8] =
    b"Tool call not executed: the run reached one of its limits before it ran.";

/// Every blob the engine may reference without a host having written it.
pub fn well_known_blobs() -> [&'static [u8]; 2] {
    [TOOL_CANCELLED_OUTPUT, TOOL_LIMIT_OUTPUT]
}

pub(crate) fn tool_cancelled_ref() -> BlobRef {
    BlobRef::of_bytes(TOOL_CANCELLED_OUTPUT)
}

pub(crate) fn tool_limit_ref() -> BlobRef {
    BlobRef::of_bytes(TOOL_LIMIT_OUTPUT)
}
