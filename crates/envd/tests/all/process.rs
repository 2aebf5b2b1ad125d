//! Commands: exit codes, output, timeouts that kill the whole group, stdin.

use std::collections::BTreeMap;
use std::time::Duration;

use env_protocol::{CallResult, Command, FailureCode, OUTPUT_CHUNK_BYTES_MAX, Op};
use envd::Limits;

use crate::support::{WITHIN, outcome, shell, shell_yield, start, start_with};

#[tokio::test]
async fn a_passing_command_reports_exit_zero_and_its_output() -> anyhow::Result<()> {
    let (daemon, mut gateway) = start().await?;
    let answer = gateway
        .call("c1", shell("echo hello; echo oops >&2"), WITHIN)
        .await?;
    let outcome = outcome(&answer.result);
    assert_eq!(outcome.exit_code, Some(0));
    assert!(!outcome.running && !outcome.timed_out);
    assert_eq!(answer.output, "hello\noops\n");
    let argv = Op::Exec {
        command: Command::Argv(vec![
            "printf".into(),
            "%s-%s".into(),
            "a b".into(),
            "c".into(),
        ]),
        workdir: None,
        env: BTreeMap::from([("EXTRA".into(), "1".into())]),
        stdin: Some("ignored".into()),
        timeout_ms: 10_000,
        yield_ms: None,
    };
    let answer = gateway.call("c2", argv, WITHIN).await?;
    assert_eq!(answer.output, "a b-c");
    daemon.stop().await;
    Ok(())
}

#[tokio::test]
async fn a_failing_command_reports_its_exit_code_and_a_missing_one_fails_to_spawn()
-> anyhow::Result<()> {
    let (daemon, mut gateway) = start().await?;
    let answer = gateway.call("c1", shell("echo no; exit 3"), WITHIN).await?;
    assert_eq!(outcome(&answer.result).exit_code, Some(3));
    assert_eq!(answer.output, "no\n");
    let missing = Op::Exec {
        command: Command::Argv(vec!["/nonexistent/program".into()]),
        workdir: None,
        env: BTreeMap::new(),
        stdin: None,
        timeout_ms: 10_000,
        yield_ms: None,
    };
    let answer = gateway.call("c2", missing, WITHIN).await?;
    assert!(
        matches!(
            answer.result,
            CallResult::Failed {
                code: FailureCode::Spawn,
                ..
            }
        ),
        "{:?}",
        answer.result
    );
    let outside = Op::Exec {
        command: Command::Shell("pwd".into()),
        workdir: Some("../..".into()),
        env: BTreeMap::new(),
        stdin: None,
        timeout_ms: 10_000,
        yield_ms: None,
    };
    let answer = gateway.call("c3", outside, WITHIN).await?;
    assert!(
        matches!(
            answer.result,
            CallResult::Failed {
                code: FailureCode::OutsideRoot,
                ..
            }
        ),
        "{:?}",
        answer.result
    );
    daemon.stop().await;
    Ok(())
}

#[tokio::test]
async fn ten_megabytes_of_output_arrive_whole_in_bounded_contiguous_chunks() -> anyhow::Result<()> {
    let (daemon, mut gateway) = start().await?;
    let lines = 1_400_000u32;
    let answer = gateway
        .call("big", shell(&format!("seq 1 {lines}")), WITHIN)
        .await?;
    let expected: String = (1..=lines).map(|n| format!("{n}\n")).collect();
    assert!(expected.len() > 10_000_000, "{}", expected.len());
    // `answer` checked the offsets are contiguous from 0 and match outputEnd.
    assert_eq!(answer.output.len(), expected.len());
    assert!(answer.output == expected, "the output differs");
    assert!(
        answer
            .chunk_sizes
            .iter()
            .all(|&size| size <= OUTPUT_CHUNK_BYTES_MAX)
    );
    let outcome = outcome(&answer.result);
    assert_eq!((outcome.exit_code, outcome.output_dropped), (Some(0), 0));
    daemon.stop().await;
    Ok(())
}

#[tokio::test]
async fn output_beyond_the_memory_bound_keeps_head_and_tail() -> anyhow::Result<()> {
    let limits = Limits {
        output_bytes_max: 64 * 1024,
        ..Limits::default()
    };
    let (daemon, mut gateway) = start_with(crate::support::TOKEN, limits, 30_000).await?;
    let answer = gateway.call("big", shell("seq 1 100000"), WITHIN).await?;
    let outcome = outcome(&answer.result);
    let full: String = (1..=100_000).map(|n| format!("{n}\n")).collect();
    assert_eq!(answer.output.len(), 64 * 1024);
    assert_eq!(outcome.output_dropped as usize, full.len() - 64 * 1024);
    assert!(full.starts_with(&answer.output[..32 * 1024]));
    assert!(full.ends_with(&answer.output[32 * 1024..]));
    daemon.stop().await;
    Ok(())
}

/// Whether a pid is gone (or a zombie nobody reaped yet: dead all the same).
fn dead(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

#[tokio::test]
async fn a_timeout_kills_the_whole_process_group() -> anyhow::Result<()> {
    let (daemon, mut gateway) = start().await?;
    let op = Op::Exec {
        command: Command::Shell("sleep 100 & echo $!; sleep 100".into()),
        workdir: None,
        env: BTreeMap::new(),
        stdin: None,
        timeout_ms: 1000,
        yield_ms: None,
    };
    let answer = gateway.call("t", op, WITHIN).await?;
    let outcome = outcome(&answer.result);
    assert!(outcome.timed_out, "{outcome:?}");
    assert_eq!(outcome.signal, Some(9));
    assert!(
        outcome.duration_ms >= 1000 && outcome.duration_ms < 10_000,
        "{outcome:?}"
    );
    let grandchild: i32 = answer.output.trim().parse()?;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !dead(grandchild) && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        dead(grandchild),
        "the background sleep {grandchild} survived"
    );
    daemon.stop().await;
    Ok(())
}

#[tokio::test]
async fn an_interactive_command_is_driven_through_stdin() -> anyhow::Result<()> {
    let (daemon, mut gateway) = start().await?;
    let script = "echo ready; read a; echo got $a; read b; echo got $b";
    let answer = gateway.call("i0", shell_yield(script, 500), WITHIN).await?;
    let started = outcome(&answer.result);
    assert!(started.running, "{started:?}");
    assert_eq!(answer.output, "ready\n");
    let id = started.process_id;
    let write = |data: &str, close: bool, yield_ms: u64| Op::WriteStdin {
        process_id: id,
        data: data.into(),
        close,
        yield_ms,
    };
    let answer = gateway
        .call("i1", write("one\n", false, 500), WITHIN)
        .await?;
    assert!(outcome(&answer.result).running);
    assert_eq!(answer.output, "got one\n");
    let answer = gateway
        .call("i2", write("two\n", true, 10_000), WITHIN)
        .await?;
    let done = outcome(&answer.result);
    assert_eq!((done.running, done.exit_code), (false, Some(0)));
    assert_eq!(answer.output, "got two\n");
    // Exited and reported: the process is gone.
    let answer = gateway.call("i3", write("", false, 10), WITHIN).await?;
    assert!(
        matches!(
            answer.result,
            CallResult::Failed {
                code: FailureCode::NoSuchProcess,
                ..
            }
        ),
        "{:?}",
        answer.result
    );
    daemon.stop().await;
    Ok(())
}

#[tokio::test]
async fn processes_are_bounded_and_kill_frees_a_place() -> anyhow::Result<()> {
    let limits = Limits {
        processes_max: 2,
        ..Limits::default()
    };
    let (daemon, mut gateway) = start_with(crate::support::TOKEN, limits, 30_000).await?;
    let first = gateway
        .call("p1", shell_yield("sleep 60", 50), WITHIN)
        .await?;
    gateway
        .call("p2", shell_yield("sleep 60", 50), WITHIN)
        .await?;
    let refused = gateway.call("p3", shell("true"), WITHIN).await?;
    assert!(
        matches!(
            refused.result,
            CallResult::Failed {
                code: FailureCode::Busy,
                ..
            }
        ),
        "{:?}",
        refused.result
    );
    let id = outcome(&first.result).process_id;
    let killed = gateway
        .call("k1", Op::Kill { process_id: id }, WITHIN)
        .await?;
    let killed = outcome(&killed.result);
    assert_eq!((killed.running, killed.signal), (false, Some(9)));
    // A refusal for capacity is not remembered: the same id runs now.
    let retried = gateway.call("p3", shell("echo ok"), WITHIN).await?;
    assert_eq!(retried.output, "ok\n");
    daemon.stop().await;
    Ok(())
}

#[tokio::test]
async fn commands_get_a_private_temp_directory_and_no_secrets() -> anyhow::Result<()> {
    let (daemon, mut gateway) = start().await?;
    let op = Op::Exec {
        command: Command::Shell(
            "echo $TMPDIR; echo ${CALL_VAR}; env | grep -c LIGHTSPEED_ENV_TOKEN || true".into(),
        ),
        workdir: None,
        env: BTreeMap::from([("CALL_VAR".into(), "from-the-call".into())]),
        stdin: None,
        timeout_ms: 10_000,
        yield_ms: None,
    };
    let answer = gateway.call("e", op, WITHIN).await?;
    let lines: Vec<&str> = answer.output.lines().collect();
    assert!(lines[0].contains("lightspeed-env-"), "{lines:?}");
    assert_eq!(lines[1], "from-the-call");
    assert_eq!(lines[2], "0");
    daemon.stop().await;
    Ok(())
}

#[tokio::test]
async fn stopping_the_daemon_kills_its_process_groups() -> anyhow::Result<()> {
    let (daemon, mut gateway) = start().await?;
    let answer = gateway
        .call(
            "s",
            shell_yield("sleep 100 & echo $!; sleep 100", 300),
            WITHIN,
        )
        .await?;
    let grandchild: i32 = answer.output.trim().parse()?;
    let leader = outcome(&answer.result);
    assert!(leader.running);
    daemon.stop().await;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !dead(grandchild) && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(dead(grandchild), "{grandchild} outlived the daemon");
    Ok(())
}
