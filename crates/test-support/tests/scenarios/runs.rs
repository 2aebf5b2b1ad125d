//! Runs: single turn, tool loops, queueing, cancel and steer.

use super::*;

#[tokio::test]
async fn single_turn_run_completes() {
    let mut runner = runner_with(vec![ScriptedTurn::text("Hello!")], config()).await;
    let run_id = request_run(&mut runner, "sub-1", "hi").await;
    assert_eq!(runner.run_until_idle().await.unwrap(), Settled::Idle);

    let log = runner.log().await.unwrap();
    assert_eq!(outcome_of(&log, &run_id), RunOutcome::Completed);
    let state = runner.state();
    assert_eq!(
        kinds_of(state),
        [
            ItemKind::Instructions,
            ItemKind::UserMessage,
            ItemKind::AssistantMessage
        ]
    );
    assert!(state.control.runs.active.is_none());
    assert!(state.control.usage_total.output_tokens > 0);
    let requests = runner.llm().requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].items.len(),
        2,
        "instructions and the user message"
    );
    assert_eq!(requests[0].tools.len(), 3);
    assert_replays(&runner).await;
}

#[tokio::test]
async fn multi_turn_tool_loop() {
    let script = vec![
        ScriptedTurn::call("add", json!({"a": 2, "b": 3})),
        ScriptedTurn::ToolCalls {
            text: Some("Checking twice.".into()),
            calls: vec![("echo".into(), json!({"x": 1})), ("nope".into(), json!({}))],
        },
        ScriptedTurn::text("2 + 3 = 5"),
    ];
    let mut runner = runner_with(script, config()).await;
    let run_id = request_run(&mut runner, "sub-1", "add 2 and 3").await;
    runner.run_until_idle().await.unwrap();

    let log = runner.log().await.unwrap();
    assert_eq!(outcome_of(&log, &run_id), RunOutcome::Completed);
    let results: Vec<_> = events(&log)
        .into_iter()
        .filter_map(|event| match event {
            CoreEvent::ToolResultRecorded(e) => Some((e.batch, e.status)),
            _ => None,
        })
        .collect();
    assert_eq!(
        results,
        [
            (1, ToolStatus::Ok),
            (2, ToolStatus::Ok),
            (2, ToolStatus::Error)
        ]
    );

    let sum_item = runner
        .state()
        .context
        .items()
        .iter()
        .find(|item| item.kind == ItemKind::ToolResult)
        .unwrap();
    let sum = runner.store().get(&sum_item.content_ref).await;
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&sum.unwrap()).unwrap(),
        json!({"sum": 5})
    );

    let requests = runner.llm().requests();
    assert_eq!(requests.len(), 3);
    // Each request extends the previous one: the transcript only grows, in order.
    for pair in requests.windows(2) {
        assert!(pair[1].items.starts_with(&pair[0].items));
    }
    let last: Vec<_> = requests[2].items.iter().map(|item| item.kind).collect();
    use ItemKind::*;
    assert_eq!(
        last,
        [
            Instructions,
            UserMessage,
            ToolCall,
            ToolResult,
            AssistantMessage,
            ToolCall,
            ToolCall,
            ToolResult,
            ToolResult
        ]
    );
    let control = &runner.state().control;
    assert_eq!(control.runs.last_finished.as_ref().unwrap().run_id, run_id);
    assert_replays(&runner).await;
}

#[tokio::test]
async fn queued_runs_run_in_order() {
    let script = vec![
        ScriptedTurn::text("first answer"),
        ScriptedTurn::text("second answer"),
    ];
    let mut runner = runner_with(script, config()).await;
    let first = request_run(&mut runner, "sub-1", "one").await;
    // Start the first run, then queue the second while it is generating.
    step_until(&mut runner, |action| {
        matches!(action, Action::GenerateLlm(_))
    })
    .await;
    let second = request_run(&mut runner, "sub-2", "two").await;
    assert_eq!(runner.state().control.runs.queue.len(), 1);
    runner.run_until_idle().await.unwrap();

    let log = runner.log().await.unwrap();
    assert_eq!(outcome_of(&log, &first), RunOutcome::Completed);
    assert_eq!(outcome_of(&log, &second), RunOutcome::Completed);
    let requests = runner.llm().requests();
    assert_eq!(requests[0].run_id, first);
    assert_eq!(requests[1].run_id, second);
    assert_eq!(
        requests[1].items.len(),
        4,
        "second run sees the first run's transcript"
    );
}

#[tokio::test]
async fn cancel_during_tool_batch() {
    let mut runner = runner_with(vec![ScriptedTurn::call("echo", json!({"x": 1}))], config()).await;
    let run_id = request_run(&mut runner, "sub-1", "go").await;
    step_until(&mut runner, |action| {
        matches!(action, Action::InvokeTools(_))
    })
    .await;
    let Action::InvokeTools(batch) = runner.peek() else {
        unreachable!()
    };
    runner
        .admit(CoreCommand::CancelRun {
            run_id: run_id.clone(),
            reason: Some("user".into()),
        })
        .await
        .unwrap();
    runner.run_until_idle().await.unwrap();

    let log = runner.log().await.unwrap();
    assert_eq!(
        outcome_of(&log, &run_id),
        RunOutcome::Cancelled {
            reason: Some("user".into())
        }
    );
    let last_item = runner.state().context.items().last().unwrap().clone();
    assert_eq!(
        last_item.kind,
        ItemKind::ToolResult,
        "the open call got a not-executed result"
    );
    assert!(last_item.is_error);
    assert!(
        runner.store().get(&last_item.content_ref).await.is_ok(),
        "well-known blob is stored"
    );

    // A tool result arriving late is refused and changes nothing.
    let output_ref = runner.store().put(b"late".to_vec()).await.unwrap();
    let late = engine::core::effects::ToolResult {
        call_id: batch.calls[0].call_id.clone(),
        status: ToolStatus::Ok,
        output_ref,
        token_estimate: 1,
        later: None,
        child: Default::default(),
    };
    let before = runner.state().to_canonical_bytes();
    let mut drive = engine::drive::Drive::new(runner.state().clone());
    assert!(matches!(
        drive.resume_tool_results(&run_id, batch.batch, vec![late], 99),
        Resumed::Stale {
            reason: Rejection::StaleResult { .. }
        }
    ));
    assert!(!drive.has_staged());
    assert_eq!(drive.state().to_canonical_bytes(), before);
    assert_replays(&runner).await;
}

#[tokio::test]
async fn cancel_during_generation() {
    let mut runner = runner_with(vec![ScriptedTurn::text("never delivered")], config()).await;
    let run_id = request_run(&mut runner, "sub-1", "go").await;
    step_until(&mut runner, |action| {
        matches!(action, Action::GenerateLlm(_))
    })
    .await;
    runner
        .admit(CoreCommand::CancelRun {
            run_id: run_id.clone(),
            reason: None,
        })
        .await
        .unwrap();
    runner.run_until_idle().await.unwrap();

    let log = runner.log().await.unwrap();
    assert_eq!(
        outcome_of(&log, &run_id),
        RunOutcome::Cancelled { reason: None }
    );
    assert!(
        events(&log)
            .iter()
            .any(|event| matches!(event, CoreEvent::TurnAborted(e) if e.turn == 1))
    );
    assert_eq!(
        runner.llm().remaining(),
        1,
        "the in-flight generation was abandoned, not awaited"
    );
    // The session takes new work afterwards.
    runner.llm().push(ScriptedTurn::text("ok"));
    let next = request_run(&mut runner, "sub-2", "again").await;
    runner.run_until_idle().await.unwrap();
    assert_eq!(
        outcome_of(&runner.log().await.unwrap(), &next),
        RunOutcome::Completed
    );
}

#[tokio::test]
async fn steer_mid_run_enters_at_the_next_boundary() {
    let script = vec![
        ScriptedTurn::call("echo", json!({"step": 1})),
        ScriptedTurn::text("done, as steered"),
    ];
    let mut runner = runner_with(script, config()).await;
    let run_id = request_run(&mut runner, "sub-1", "start").await;
    step_until(&mut runner, |action| {
        matches!(action, Action::GenerateLlm(_))
    })
    .await;
    let steer = vec![runner.user_text("also say please").await.unwrap()];
    runner
        .admit(CoreCommand::Steer {
            run_id: run_id.clone(),
            input: steer.clone(),
        })
        .await
        .unwrap();
    runner.run_until_idle().await.unwrap();

    let requests = runner.llm().requests();
    assert_eq!(requests.len(), 2);
    let second = &requests[1].items;
    let last = second.last().unwrap();
    assert_eq!(
        (last.kind, &last.content_ref),
        (ItemKind::UserMessage, &steer[0].content_ref)
    );
    assert_eq!(
        second[second.len() - 2].kind,
        ItemKind::ToolResult,
        "steer follows the tool result"
    );
    assert_eq!(
        outcome_of(&runner.log().await.unwrap(), &run_id),
        RunOutcome::Completed
    );
}

#[tokio::test]
async fn steer_after_final_answer_adds_a_turn() {
    let script = vec![ScriptedTurn::text("first"), ScriptedTurn::text("revised")];
    let mut runner = runner_with(script, config()).await;
    let run_id = request_run(&mut runner, "sub-1", "start").await;
    step_until(&mut runner, |action| {
        matches!(action, Action::GenerateLlm(_))
    })
    .await;
    let steer = vec![runner.user_text("shorter please").await.unwrap()];
    runner
        .admit(CoreCommand::Steer {
            run_id: run_id.clone(),
            input: steer,
        })
        .await
        .unwrap();
    runner.run_until_idle().await.unwrap();
    assert_eq!(runner.llm().requests().len(), 2);
    assert_eq!(
        outcome_of(&runner.log().await.unwrap(), &run_id),
        RunOutcome::Completed
    );
}
