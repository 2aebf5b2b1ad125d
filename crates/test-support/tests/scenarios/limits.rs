//! Run limits, idempotent submission, failures and rejections.

use super::*;

fn limits(turns: Option<u32>, batches: Option<u32>, tokens: Option<u64>) -> RunOverrides {
    RunOverrides {
        limits: Some(RunLimitsPatch {
            turns_max: turns,
            tool_batches_max: batches,
            output_tokens_max: tokens,
            cost_nanos_max: None,
        }),
        ..RunOverrides::default()
    }
}

fn endless_calls(count: usize) -> Vec<ScriptedTurn> {
    (0..count)
        .map(|i| ScriptedTurn::call("echo", json!({"i": i})))
        .collect()
}

#[tokio::test]
async fn turn_limit_fails_the_run() {
    let mut runner = runner_with(endless_calls(10), config()).await;
    let run_id = request_run_with(&mut runner, "sub-1", "loop", limits(Some(2), None, None)).await;
    runner.run_until_idle().await.unwrap();
    let expected = RunFailure::LimitExceeded {
        limit: LimitKind::Turns,
        used: 2,
        max: 2,
    };
    assert_eq!(
        outcome_of(&runner.log().await.unwrap(), &run_id),
        RunOutcome::Failed { failure: expected }
    );
    assert_eq!(runner.llm().requests().len(), 2);
}

#[tokio::test]
async fn tool_batch_limit_fails_the_run() {
    let mut runner = runner_with(endless_calls(10), config()).await;
    let run_id = request_run_with(&mut runner, "sub-1", "loop", limits(None, Some(1), None)).await;
    runner.run_until_idle().await.unwrap();
    let log = runner.log().await.unwrap();
    let expected = RunFailure::LimitExceeded {
        limit: LimitKind::ToolBatches,
        used: 1,
        max: 1,
    };
    assert_eq!(
        outcome_of(&log, &run_id),
        RunOutcome::Failed { failure: expected }
    );
    let not_executed = events(&log)
        .into_iter()
        .filter(|event| matches!(event, CoreEvent::ToolResultRecorded(e) if e.status == ToolStatus::NotExecuted))
        .count();
    assert_eq!(
        not_executed, 1,
        "the second batch's call is closed, not run"
    );
}

#[tokio::test]
async fn output_token_limit_fails_the_run_and_clips_turns() {
    let llm = ScriptedLlm::new(endless_calls(10)).with_output_tokens(60);
    let mut runner = runner_on(Arc::new(MemoryStore::new()), llm, config()).await;
    let run_id =
        request_run_with(&mut runner, "sub-1", "loop", limits(None, None, Some(100))).await;
    runner.run_until_idle().await.unwrap();
    let expected = RunFailure::LimitExceeded {
        limit: LimitKind::OutputTokens,
        used: 120,
        max: 100,
    };
    assert_eq!(
        outcome_of(&runner.log().await.unwrap(), &run_id),
        RunOutcome::Failed { failure: expected }
    );
    let caps: Vec<_> = runner
        .llm()
        .requests()
        .iter()
        .map(|request| request.output_tokens_max)
        .collect();
    assert_eq!(
        caps,
        [100, 40],
        "each turn is capped at what the run has left"
    );
}

#[tokio::test]
async fn resubmission_is_idempotent_and_conflicts_are_typed() {
    let mut runner = runner_with(vec![ScriptedTurn::text("once")], config()).await;
    let input = vec![runner.user_text("hello").await.unwrap()];
    let submission_id = SubmissionId::new("sub-1").unwrap();
    let request = CoreCommand::RequestRun {
        submission_id: submission_id.clone(),
        input: input.clone(),
        overrides: RunOverrides::default(),
    };
    let first = runner.admit(request.clone()).await.unwrap();
    let Admitted::Run {
        run_id,
        duplicate: false,
    } = first
    else {
        panic!("{first:?}")
    };
    let head = runner.state().head();
    assert_eq!(
        runner.admit(request).await.unwrap(),
        Admitted::Run {
            run_id: run_id.clone(),
            duplicate: true
        }
    );
    assert_eq!(runner.state().head(), head, "a duplicate appends nothing");

    let other = vec![runner.user_text("something else").await.unwrap()];
    let conflict = CoreCommand::RequestRun {
        submission_id,
        input: other,
        overrides: RunOverrides::default(),
    };
    match runner.admit(conflict).await {
        Err(RunnerError::Rejected(Rejection::SubmissionConflict {
            run_id: existing, ..
        })) => {
            assert_eq!(existing, run_id)
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(runner.state().head(), head);
    runner.run_until_idle().await.unwrap();
    assert_eq!(runner.llm().requests().len(), 1, "one run, not two");
}

#[tokio::test]
async fn generation_failure_fails_the_run() {
    let mut runner = runner_with(
        vec![ScriptedTurn::fail("context_length_exceeded")],
        config(),
    )
    .await;
    let run_id = request_run(&mut runner, "sub-1", "hi").await;
    runner.run_until_idle().await.unwrap();
    match outcome_of(&runner.log().await.unwrap(), &run_id) {
        RunOutcome::Failed {
            failure: RunFailure::GenerationFailed { error },
        } => {
            assert_eq!(error.code, "context_length_exceeded")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn rejected_commands_append_nothing() {
    let mut runner = runner_with(vec![], config()).await;
    let head = runner.state().head();
    let bad = [
        CoreCommand::PatchConfig {
            expected_revision: 7,
            patch: Default::default(),
        },
        CoreCommand::CancelRun {
            run_id: RunId::from_ordinal(9),
            reason: None,
        },
        CoreCommand::RemoveContextItem {
            key: "missing".into(),
        },
        CoreCommand::RequestRun {
            submission_id: SubmissionId::new("s").unwrap(),
            input: vec![],
            overrides: RunOverrides::default(),
        },
    ];
    for command in bad {
        assert!(matches!(
            runner.admit(command).await,
            Err(RunnerError::Rejected(_))
        ));
    }
    assert_eq!(runner.state().head(), head);
    assert_eq!(runner.log().await.unwrap().len() as u64, head);
}
