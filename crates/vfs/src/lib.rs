//! The agent's virtual filesystem. Files live in the content-addressed store; this
//! crate gives them structure:
//!
//! - [`snapshot`]: an immutable tree, stored as one canonical manifest blob (with
//!   its file count and byte total); its ref is its identity;
//! - [`workspace`]: a mutable head over snapshots with a revision; every write
//!   commits a new snapshot and compare-and-sets the head, failing with
//!   [`VfsError::Conflict`] if another write won;
//! - [`mount`]: session paths bound to snapshots (read-only) or workspaces
//!   (read-only or read-write), routed by longest prefix;
//! - [`path`]: normalisation and the rules that refuse escapes, NUL and the like;
//! - [`limits`]: file count, total bytes, per-file bytes, path depth and length,
//!   mounts per session;
//! - [`catalog`]: the [`VfsCatalog`] trait for the mutable records (workspace heads,
//!   mount tables), with [`memory::MemoryCatalog`] as its reference implementation.
//!
//! What this crate must not do: touch a host filesystem, network or clock, or depend
//! on an async runtime. Its only I/O is through the engine's [`engine::store::BlobStore`]
//! and a [`VfsCatalog`]. It knows nothing of tools or of providers.

pub mod catalog;
pub mod error;
pub mod limits;
pub mod memory;
pub mod mount;
pub mod path;
pub mod snapshot;
pub mod workspace;

pub use catalog::VfsCatalog;
pub use error::VfsError;
pub use limits::Limits;
pub use mount::{Mount, MountMode, MountSource, MountTable};
pub use path::{PathError, SessionPath, VfsPath};
pub use snapshot::{FileEntry, NodeKind, Snapshot};
pub use workspace::{Workspace, WorkspaceId};
