//! At most once per call id: re-deliveries attach or are answered from memory.

use std::time::Duration;

use env_protocol::CallResult;

use crate::support::{WITHIN, outcome, shell, start};

#[tokio::test]
async fn a_call_delivered_twice_runs_once() -> anyhow::Result<()> {
    let (daemon, mut gateway) = start().await?;
    let op = shell("echo run >> log.txt; sleep 0.5; echo done");
    gateway.send_call("once", op.clone()).await?;
    gateway.send_call("once", op.clone()).await?;
    // Each delivery is answered (on one connection the second's output repeats
    // the first's from offset 0, which the stand-in checks and folds).
    let first = gateway.answer("once", WITHIN).await?;
    let second = gateway.answer("once", WITHIN).await?;
    assert_eq!(first.output, "done\n");
    assert_eq!(outcome(&first.result).exit_code, Some(0));
    assert_eq!(second.result, first.result);
    // Finished: answered from memory, output from 0 and the same result.
    let third = gateway.call("once", op, WITHIN).await?;
    assert_eq!(third.output, "done\n");
    assert_eq!(third.result, first.result);
    assert_eq!(std::fs::read_to_string(daemon.path("log.txt"))?, "run\n");
    daemon.stop().await;
    Ok(())
}

#[tokio::test]
async fn a_running_call_re_delivered_after_a_reconnect_attaches_from_offset_zero()
-> anyhow::Result<()> {
    let (daemon, mut gateway) = start().await?;
    let op = shell("echo run >> log.txt; echo start; sleep 1.5; echo end");
    gateway.send_call("long", op.clone()).await?;
    // Let it start, then lose the connection mid-run.
    tokio::time::sleep(Duration::from_millis(500)).await;
    gateway.drop_socket();
    let mut gateway = daemon.gateway.accept(WITHIN).await?;
    assert!(
        gateway.hello.known_calls.contains(&"long".to_owned()),
        "{:?}",
        gateway.hello.known_calls
    );
    gateway.send_call("long", op).await?;
    let answer = gateway.answer("long", WITHIN).await?;
    assert_eq!(answer.output, "start\nend\n");
    assert!(matches!(answer.result, CallResult::Process(_)));
    assert_eq!(std::fs::read_to_string(daemon.path("log.txt"))?, "run\n");
    daemon.stop().await;
    Ok(())
}
