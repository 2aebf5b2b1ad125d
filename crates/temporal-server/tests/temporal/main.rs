//! Live tests: whole sessions through a real Temporal dev server (started by the test
//! binary from the `temporal` CLI; skipped with a note when it is missing, failing
//! under `CI=true`), the worker in process, the fake provider, store-fs.
//!
//! `conformance` runs the API conformance suite over the Temporal host (with Postgres
//! and S3 from the local stack); the other modules test what only this host has:
//! workflow history, crashes, continue-as-new, activity retries, the seam.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod agents;
mod backup;
mod collection;
mod compaction;
mod conformance;
mod context_files;
mod continue_as_new;
mod control;
mod crash;
mod dev;
mod dispatch;
mod environments;
mod faults;
mod fork;
mod harness;
mod history_budget;
mod holds;
mod idle;
mod intake;
mod mcp;
mod memory;
mod operators;
mod postgres;
mod postgres_push;
mod private_stack;
mod provider_tools;
mod providers;
mod record;
mod scale_out;
mod schedules;
mod seam;
mod seam_shapes;
mod secrets_scan;
mod sessions;
mod traces;
mod upgrade;
mod voice;
