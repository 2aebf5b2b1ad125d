//! The daemon against a stand-in gateway (`envd::testing`), with real processes
//! and files and no sandbox (`none`); the sandboxes are tested through the real
//! `lightspeed` binary in `crates/cli/tests/all/env.rs`, since Landlock needs
//! the launcher.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod calls;
mod connection;
mod files;
mod process;
mod support;
