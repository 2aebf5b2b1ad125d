#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Idle readers cost the filesystem store nothing: commits are pushed in process
//! by the stores' commit hook. (The Postgres path is measured the same way by the
//! Temporal tests, `postgres::idle_readers_cost_postgres_nothing`.)

use std::time::Duration;

use session_stores::FsStores;
use test_support::idle::{IdleSetup, NoProbe, idle_readers};

/// Sessions with a subscriber and a long-poll each.
const SESSIONS: usize = 100;
/// A sixth of a minute, scaled: with readers waiting on pushed commits nothing
/// happens in it, whatever its length.
const WINDOW: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_readers_cost_the_filesystem_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let setup = IdleSetup {
        sessions: SESSIONS,
        long_polls: true,
        window: WINDOW,
    };
    let figures = idle_readers(FsStores::new(dir.path()), "idle", setup, &NoProbe)
        .await
        .unwrap();
    eprintln!("store-fs, {SESSIONS} sessions with a subscriber and a long-poll each: {figures:?}");
    // The wrapper sees readers' calls: each reader read at least once setting up
    // (so a reader that polled would be counted in the window too).
    assert!(figures.setup_calls >= 2 * SESSIONS as u64, "{figures:?}");
    assert_eq!(
        figures.idle_calls, 0,
        "store calls while nothing committed: {figures:?}"
    );
}
