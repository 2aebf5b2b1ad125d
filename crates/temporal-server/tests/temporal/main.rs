//! Live tests: whole sessions through a real Temporal dev server (started by the test
//! binary from the `temporal` CLI; skipped with a note when it is missing, failing
//! under `CI=true`), the worker in process, the fake provider, store-fs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod continue_as_new;
mod control;
mod crash;
mod dev;
mod files;
mod gateway;
mod harness;
mod postgres;
mod seam;
mod sessions;
