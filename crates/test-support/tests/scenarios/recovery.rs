//! Crashes between deciding and committing.

use super::*;

/// Each turn is planned once and each run finishes once: no duplicate, no gap.
fn assert_well_formed(log: &[LogEntry], runs: usize) {
    for (index, entry) in log.iter().enumerate() {
        assert_eq!(entry.seq, index as u64 + 1);
    }
    let events = events(log);
    let planned: Vec<_> = events
        .iter()
        .filter_map(|event| match event {
            CoreEvent::TurnPlanned(e) => Some((e.run_id.clone(), e.turn)),
            _ => None,
        })
        .collect();
    let mut unique = planned.clone();
    unique.dedup();
    assert_eq!(planned, unique, "a turn was planned twice");
    let finished = events
        .iter()
        .filter(|event| matches!(event, CoreEvent::RunFinished(_)))
        .count();
    assert_eq!(finished, runs);
}

#[tokio::test]
async fn crash_after_append_before_resume_does_not_duplicate() {
    let script = vec![
        ScriptedTurn::call("add", json!({"a": 1, "b": 1})),
        ScriptedTurn::text("2"),
    ];
    let store = Arc::new(MemoryStore::new());
    let mut runner = runner_on(store.clone(), ScriptedLlm::new(script), config()).await;
    request_run(&mut runner, "sub-1", "1+1").await;
    // Crash at every append of the run: the entries land, the drive never hears.
    let mut crashes = 0;
    loop {
        match runner.peek() {
            Action::AppendEvents { .. } => {
                let llm_requests = runner.llm().requests().len();
                let session_id = runner.session_id().clone();
                let llm = ScriptedLlm::new(endless_script_after(llm_requests));
                runner.append_then_crash().await.unwrap();
                runner = SessionRunner::new(store.clone(), session_id, llm, BuiltinTools)
                    .await
                    .unwrap();
                crashes += 1;
            }
            Action::Idle => break,
            _ => {
                runner.step().await.unwrap();
            }
        }
    }
    assert!(crashes >= 4, "crashed at {crashes} appends");
    assert_well_formed(&runner.log().await.unwrap(), 1);
    assert_replays(&runner).await;
}

/// The remainder of the crash test's script, given how many turns already ran.
fn endless_script_after(turns_done: usize) -> Vec<ScriptedTurn> {
    let all = [
        ScriptedTurn::call("add", json!({"a": 1, "b": 1})),
        ScriptedTurn::text("2"),
    ];
    all.into_iter().skip(turns_done).collect()
}

#[tokio::test]
async fn crash_before_append_replans_the_same_entries() {
    let store = Arc::new(MemoryStore::new());
    let mut runner = runner_on(
        store.clone(),
        ScriptedLlm::new(vec![ScriptedTurn::text("hi")]),
        config(),
    )
    .await;
    request_run(&mut runner, "sub-1", "hello").await;
    let Action::AppendEvents {
        entries: before, ..
    } = runner.peek()
    else {
        panic!("expected an append")
    };
    let runner = runner.restart().await.unwrap();
    let mut runner = runner;
    let Action::AppendEvents { entries: after, .. } = runner.peek() else {
        panic!("expected an append")
    };
    assert_eq!(
        before, after,
        "re-driving from the log decides the very same entries"
    );
    runner.run_until_idle().await.unwrap();
    assert_well_formed(&runner.log().await.unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn session_on_disk_survives_a_process_restart() {
    let dir = tempfile::tempdir().unwrap();
    let script = vec![
        ScriptedTurn::call("add", json!({"a": 20, "b": 22})),
        ScriptedTurn::text("42"),
    ];
    let store = Arc::new(store_fs::FsStore::open(dir.path()).unwrap());
    let session_id = SessionId::new("disk-session").unwrap();
    let mut runner = SessionRunner::new(
        store,
        session_id.clone(),
        ScriptedLlm::new(script),
        BuiltinTools,
    )
    .await
    .unwrap()
    .with_checkpoint_interval(4);
    runner
        .admit(CoreCommand::OpenSession {
            session_id: session_id.clone(),
            config: config(),
            instructions: None,
            parent: Default::default(),
        })
        .await
        .unwrap();
    let input = vec![runner.user_text("what is 20 + 22?").await.unwrap()];
    let submission_id = SubmissionId::new("sub-1").unwrap();
    runner
        .admit(CoreCommand::RequestRun {
            submission_id,
            input,
            overrides: RunOverrides::default(),
        })
        .await
        .unwrap();
    runner.run_until_idle().await.unwrap();
    let expected = runner.state().to_canonical_bytes();
    let log = runner.log().await.unwrap();
    drop(runner);

    // A new process: a fresh store instance over the same directory.
    let store = Arc::new(store_fs::FsStore::open(dir.path()).unwrap());
    let reopened = SessionRunner::new(store, session_id, ScriptedLlm::new(vec![]), BuiltinTools)
        .await
        .unwrap();
    assert_eq!(reopened.state().to_canonical_bytes(), expected);
    assert_eq!(reopened.log().await.unwrap(), log);
    assert_well_formed(&log, 1);
}
