//! Compaction, checkpoints and closing.

use super::*;

#[tokio::test]
async fn high_watermark_triggers_compaction() {
    let mut config = config();
    config.context = ContextPolicy {
        compaction: CompactionMode::Auto,
        high_watermark_tokens: 200,
    };
    let script = vec![
        ScriptedTurn::text("a long answer ".repeat(40)),
        ScriptedTurn::text("ok"),
    ];
    let mut runner = runner_with(script, config).await;
    request_run(
        &mut runner,
        "sub-1",
        &"tell me a long story please ".repeat(20),
    )
    .await;
    runner.run_until_idle().await.unwrap();
    let log = runner.log().await.unwrap();
    assert!(
        events(&log)
            .iter()
            .any(|event| matches!(event, CoreEvent::ContextCompacted(_)))
    );
    assert_eq!(
        kinds_of(runner.state()),
        [ItemKind::Instructions, ItemKind::Summary]
    );

    request_run(&mut runner, "sub-2", "next").await;
    runner.run_until_idle().await.unwrap();
    let last = runner.llm().requests().pop().unwrap();
    let kinds: Vec<_> = last.items.iter().map(|item| item.kind).collect();
    assert_eq!(
        kinds,
        [
            ItemKind::Instructions,
            ItemKind::Summary,
            ItemKind::UserMessage
        ]
    );
    assert_replays(&runner).await;
}

#[tokio::test]
async fn manual_compaction_and_rehydration_from_checkpoints() {
    let store = Arc::new(MemoryStore::new());
    let script: Vec<_> = (0..6)
        .map(|i| ScriptedTurn::text(format!("answer {i}")))
        .collect();
    let mut runner = runner_on(store.clone(), ScriptedLlm::new(script), config())
        .await
        .with_checkpoint_interval(5);
    for i in 0..3 {
        request_run(&mut runner, &format!("sub-{i}"), "question").await;
        runner.run_until_idle().await.unwrap();
    }
    runner
        .admit(CoreCommand::RequestCompaction { instruction: None })
        .await
        .unwrap();
    runner.run_until_idle().await.unwrap();
    assert_eq!(
        kinds_of(runner.state()),
        [ItemKind::Instructions, ItemKind::Summary]
    );
    let checkpoint =
        engine::store::CheckpointStore::latest_checkpoint(&*store, runner.session_id())
            .await
            .unwrap();
    let checkpoint = checkpoint.expect("a checkpoint was written");
    assert!(checkpoint.seq > 0 && checkpoint.seq <= runner.state().head());

    let expected = runner.state().to_canonical_bytes();
    let runner = runner.restart().await.unwrap();
    assert_eq!(
        runner.state().to_canonical_bytes(),
        expected,
        "checkpoint + tail equals the live state"
    );
    assert_replays(&runner).await;
}

#[tokio::test]
async fn close_cancels_work_and_refuses_more() {
    let mut runner = runner_with(vec![ScriptedTurn::text("unused")], config()).await;
    let run_id = request_run(&mut runner, "sub-1", "hi").await;
    runner.admit(CoreCommand::Close).await.unwrap();
    assert_eq!(runner.run_until_idle().await.unwrap(), Settled::Closed);
    assert!(matches!(
        outcome_of(&runner.log().await.unwrap(), &run_id),
        RunOutcome::Cancelled { .. }
    ));
    let refused = runner
        .admit(CoreCommand::RequestCompaction { instruction: None })
        .await;
    assert!(matches!(
        refused,
        Err(RunnerError::Rejected(Rejection::Closed))
    ));
}

#[tokio::test]
async fn close_during_tool_batch_closes_open_calls() {
    let mut runner = runner_with(vec![ScriptedTurn::call("echo", json!({"x": 1}))], config()).await;
    let run_id = request_run(&mut runner, "sub-1", "go").await;
    step_until(&mut runner, |action| {
        matches!(action, Action::InvokeTools(_))
    })
    .await;
    runner.admit(CoreCommand::Close).await.unwrap();
    assert_eq!(runner.run_until_idle().await.unwrap(), Settled::Closed);
    let log = runner.log().await.unwrap();
    assert!(matches!(
        outcome_of(&log, &run_id),
        RunOutcome::Cancelled { .. }
    ));
    let not_executed = events(&log)
        .into_iter()
        .filter(|event| matches!(event, CoreEvent::ToolResultRecorded(e) if e.status == ToolStatus::NotExecuted))
        .count();
    assert_eq!(not_executed, 1);
}

#[tokio::test]
async fn compaction_result_after_close_is_stale() {
    let mut runner = runner_with(vec![], config()).await;
    runner
        .admit(CoreCommand::RequestCompaction { instruction: None })
        .await
        .unwrap();
    let Action::CompactContext(intent) = runner.peek() else {
        panic!("expected a compaction")
    };
    runner.admit(CoreCommand::Close).await.unwrap();
    let mut drive = engine::drive::Drive::new(runner.state().clone());
    let outcome = engine::core::effects::CompactionOutcome::Compacted { summary: vec![] };
    assert!(matches!(
        drive.resume_compaction(intent.compaction, outcome, 99),
        engine::drive::Resumed::Stale {
            reason: Rejection::StaleResult { .. }
        }
    ));
}
