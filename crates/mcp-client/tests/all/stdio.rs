use std::collections::BTreeMap;
use std::time::Duration;

use mcp_client::{ErrorKind, McpPool, PoolConfig, Transport};

use crate::support::{
    echo, eventually, everything_bin, kill_hard, options, pool, process_exists, stdio, text,
};

#[tokio::test]
async fn stdio_everything() {
    let Some(bin) = everything_bin() else { return };
    let pool = pool();
    crate::scenario::everything(&pool, "u/everything@1", &stdio(&bin)).await;
    // Every call above went over one child.
    let stats = pool.stats();
    assert_eq!(stats.connects_total, 1);
    assert_eq!(stats.entries.len(), 1);
    assert!(stats.entries[0].calls >= 8);
    assert_eq!(stats.entries[0].transport, Some("stdio"));
}

#[tokio::test]
async fn stdio_server_killed_is_restarted() {
    let Some(bin) = everything_bin() else { return };
    let pool = pool();
    let transport = stdio(&bin);
    let key = "u/everything@1";
    pool.call_tool(key, &transport, None, "echo", echo("one"), options(20_000))
        .await
        .unwrap();
    pool.call_tool(key, &transport, None, "echo", echo("two"), options(20_000))
        .await
        .unwrap();
    let stats = pool.stats();
    assert_eq!(stats.connects_total, 1, "two calls share one child");
    let pid = stats.entries[0].pid.expect("a stdio child has a pid");
    assert!(process_exists(pid));

    kill_hard(pid);
    assert!(
        eventually(Duration::from_secs(10), || !pool.stats().entries[0].alive).await,
        "the pool notices the child exited"
    );
    let output = pool
        .call_tool(
            key,
            &transport,
            None,
            "echo",
            echo("three"),
            options(20_000),
        )
        .await
        .unwrap();
    assert_eq!(text(&output), "Echo: three");
    let stats = pool.stats();
    assert_eq!(stats.connects_total, 2);
    assert_eq!(stats.entries[0].failures, 1);
    assert_ne!(stats.entries[0].pid, Some(pid));
}

#[tokio::test]
async fn idle_stdio_connections_are_closed_and_children_killed() {
    let Some(bin) = everything_bin() else { return };
    let pool = McpPool::new(PoolConfig {
        idle_ms: 300,
        reap_interval_ms: 50,
        ..PoolConfig::default()
    })
    .unwrap();
    let transport = stdio(&bin);
    pool.call_tool("k", &transport, None, "echo", echo("x"), options(20_000))
        .await
        .unwrap();
    let pid = pool.stats().entries[0].pid.unwrap();
    assert!(
        eventually(Duration::from_secs(10), || pool.stats().entries.is_empty()).await,
        "the idle entry is closed"
    );
    assert!(
        eventually(Duration::from_secs(10), || !process_exists(pid)).await,
        "the idle child is killed"
    );
}

#[tokio::test]
async fn least_recently_used_is_evicted() {
    let Some(bin) = everything_bin() else { return };
    let pool = McpPool::new(PoolConfig {
        connections_max: 1,
        ..PoolConfig::default()
    })
    .unwrap();
    let transport = stdio(&bin);
    pool.call_tool("a", &transport, None, "echo", echo("a"), options(20_000))
        .await
        .unwrap();
    let first = pool.stats().entries[0].pid.unwrap();
    pool.call_tool("b", &transport, None, "echo", echo("b"), options(20_000))
        .await
        .unwrap();
    let stats = pool.stats();
    assert_eq!(stats.entries.len(), 1);
    assert_eq!(stats.entries[0].key, "b");
    assert!(
        eventually(Duration::from_secs(10), || !process_exists(first)).await,
        "the evicted child is killed"
    );
}

#[tokio::test]
async fn spawn_failures_are_spawn_errors() {
    let pool = pool();
    let missing = Transport::Stdio {
        command: "/nonexistent/mcp-server".to_owned(),
        args: vec![],
        env: BTreeMap::new(),
        cwd: None,
    };
    let error = pool
        .call_tool("m", &missing, None, "echo", echo("x"), options(5_000))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Spawn, "{error}");
    assert!(!error.is_retryable());

    let exits = Transport::Stdio {
        command: "sh".to_owned(),
        args: vec!["-c".to_owned(), "echo failing >&2; exit 3".to_owned()],
        env: BTreeMap::new(),
        cwd: None,
    };
    let error = pool
        .call_tool("e", &exits, None, "echo", echo("x"), options(5_000))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Spawn, "{error}");
    // The first restart is immediate; after a second failure in a row the next
    // attempt is held back by the restart backoff (retryable, nothing spawned).
    let error = pool
        .call_tool("e", &exits, None, "echo", echo("x"), options(5_000))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Spawn, "{error}");
    let connects = pool.stats().connects_total;
    let error = pool
        .call_tool("e", &exits, None, "echo", echo("x"), options(5_000))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Transport, "{error}");
    assert!(error.is_retryable());
    assert_eq!(pool.stats().connects_total, connects);
}
