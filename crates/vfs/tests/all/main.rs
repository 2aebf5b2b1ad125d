//! Integration tests of the VFS: regressions for the hardening findings (limits
//! checked before work, bounded manifests) and proptest fuzzing of path and
//! manifest parsing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fuzz;
mod limits;
