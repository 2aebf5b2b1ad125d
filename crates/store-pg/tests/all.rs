#![allow(clippy::unwrap_used, clippy::expect_used)]
//! store-pg live tests, against the Postgres and S3 of the local stack
//! (`local/up.sh`, `source local/env.sh`): the shared store and VFS catalog
//! conformance suites, plus what only a database can get wrong (concurrent appenders,
//! starters and workspace writers, jsonb columns, universes, the blob catalog, API
//! keys).
//!
//! Each test works in a fresh universe (or schema), so reruns never collide. Without
//! `LIGHTSPEED_POSTGRES_URL` the tests print a note and pass; with `CI=true` they fail.

#[path = "all/support.rs"]
mod support;

#[path = "all/conformance.rs"]
mod conformance;

#[path = "all/concurrency.rs"]
mod concurrency;

#[path = "all/columns.rs"]
mod columns;

#[path = "all/blobs.rs"]
mod blobs;

#[path = "all/keys.rs"]
mod keys;

#[path = "all/notify.rs"]
mod notify;

#[path = "all/vfs_catalog.rs"]
mod vfs_catalog;

#[path = "all/usage.rs"]
mod usage;

#[path = "all/activity.rs"]
mod activity;

#[path = "all/auth_catalog.rs"]
mod auth_catalog;
#[path = "all/env_catalog.rs"]
mod env_catalog;
#[path = "all/mcp_catalog.rs"]
mod mcp_catalog;
#[path = "all/memory_catalog.rs"]
mod memory_catalog;
#[path = "all/schedule_catalog.rs"]
mod schedule_catalog;

#[path = "all/dispatch.rs"]
mod dispatch;
