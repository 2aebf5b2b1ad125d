//! The effects crate's tests: the LLM compactor over real HTTP against the fake
//! provider, and the crate's dependency rule.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod compactor;
mod invariants;
