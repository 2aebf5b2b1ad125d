//! The effects crate's tests: the LLM compactor over real HTTP against the fake
//! provider. Its dependency rule is checked in `crates/architecture`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod compactor;
mod vfs_tools;
