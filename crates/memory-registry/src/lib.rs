//! A universe's memory, as the agent and its clients edit it.
//!
//! - [`block`]: a memory block (a label unique in the universe, a description, a
//!   value never longer than its limit, a read-only flag, a revision moved by every
//!   change) and the edits the agent's tools make to it ([`block::replace`],
//!   [`block::append`]), each refused with a typed error the model can act on;
//! - [`archival`]: archival passages (text, tags, created order) and the terms
//!   search matches them by;
//! - [`catalog`]: the `MemoryCatalog` trait every store implements (memory here,
//!   store-fs, store-pg; one conformance suite in test-support), the bounds, and the
//!   decisions every implementation shares so they cannot disagree;
//! - [`memory`]: the reference implementation, maps behind a mutex.
//!
//! Blocks are linked to sessions (at most [`SESSION_BLOCKS_MAX`] per session; a
//! block may be linked to many sessions of its universe, which then share it: an
//! edit is in every linked session's next request).
//!
//! What this crate must not do: I/O, read a clock, draw randomness or need an async
//! runtime (times and ids arrive as arguments); hold anything of another universe
//! (a catalog is one universe's); put a block's or passage's content in an error
//! message (errors name labels and sizes, never text).

pub mod archival;
pub mod block;
pub mod catalog;
pub mod error;
pub mod memory;

pub use archival::{ArchivalQuery, NewPassage, Passage, passage_id};
pub use block::{Block, BlockLabel, BlockPatch};
pub use catalog::{
    ARCHIVAL_PASSAGES_MAX, BLOCKS_MAX, BlockDelete, MemoryCatalog, SESSION_BLOCKS_MAX,
    linked_blocks,
};
pub use error::{MemoryBound, MemoryError};
pub use memory::MemoryMemoryCatalog;
