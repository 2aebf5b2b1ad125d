//! The agent's file tools over the VFS: `read_file`, `write_file`, `edit_file`,
//! `apply_patch`, `grep`, `glob` and `list_dir`, on the paths a session has mounted.
//!
//! - [`definitions_for`] gives the definitions a session gets for its API kind and
//!   [`Mode`] (Claude-style names for `anthropic:messages`, snake_case otherwise);
//! - [`Toolbox::invoke`] runs one call (either spelling of the name) and returns a
//!   [`ToolOutcome`]: UTF-8 output and a status. The host stores the output in the
//!   CAS and hands the engine only its ref.
//!
//! Every failure the model caused (a bad path, no match, a read-only mount, a limit)
//! is an outcome with status `error`, never a panic or an `Err`; `Err` means the
//! storage failed. Bounds are in [`Limits`].
//!
//! What this crate must not do: touch a host filesystem, process or network (files
//! exist only as CAS blobs behind the VFS), depend on an async runtime, or know the
//! engine beyond its blob store, refs and tool status.

mod definitions;
mod edit;
mod error;
pub mod limits;
mod list;
mod names;
mod patch;
mod read;
mod search;
mod toolbox;

pub use definitions::{ToolDefinition, definitions_for, definitions_with};
pub use error::{InvokeError, ToolError};
pub use limits::Limits;
pub use names::{Mode, Surface, ToolKind};
pub use toolbox::{ToolOutcome, Toolbox};
