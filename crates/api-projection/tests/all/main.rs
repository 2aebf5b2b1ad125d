//! Integration tests: views of sessions driven through the engine, with blobs in a
//! memory store, checked against the contract's JSON Schemas.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod event_views;
mod session_views;
mod support;
mod vfs;
mod written_entries;
