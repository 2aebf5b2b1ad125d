//! The CLI end to end: the built `lightspeed` binary (and the library's client and
//! TUI state) against a gateway over the in-process `LocalApi`, with the fake
//! provider behind it, all started by each test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod approvals;
mod auth;
mod env;
mod follow;
mod mcp;
mod oneshot;
mod schedule;
mod sessions;
mod stack;
mod tmux;
mod tui;
mod vfs;
