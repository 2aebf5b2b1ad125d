//! The fork conformance suite: what `engine::fork` must find in every store it runs
//! on (in memory, on disk, in Postgres with S3): a fork at a cursor between two runs
//! has the source's items up to it by the same refs, its base and item-list chunks
//! are in the CAS, it rehydrates to the planned state from its checkpoint and, once
//! that is pruned, from its first entry; it takes a run whose request holds the
//! shared history and none of the source's later runs; forking into an existing
//! session or beyond the source's head is refused, writing nothing.
//!
//! Sessions are unique per call, so the suite runs on a store holding other data.

use std::sync::Arc;

use anyhow::{Context, bail, ensure};
use engine::core::command::CoreCommand;
use engine::core::config::{ModelRoute, SessionConfig};
use engine::core::context::ItemKind;
use engine::core::state::SessionState;
use engine::fork::{ForkFailure, fork_session};
use engine::rehydrate::{rehydrate, state_at};
use engine::store::{BlobStore, CheckpointStore, SessionLog};
use engine::{BlobRef, SessionId, SubmissionId};

use crate::runner::SessionRunner;
use crate::scripted_llm::{ScriptedLlm, ScriptedTurn};
use crate::tools::BuiltinTools;

type Runner<S> = SessionRunner<S, ScriptedLlm, BuiltinTools>;

/// Runs the suite on `store`.
pub async fn fork_suite<S>(store: Arc<S>) -> anyhow::Result<()>
where
    S: SessionLog + BlobStore + CheckpointStore + 'static,
{
    let prefix = crate::conformance::unique_prefix();
    let source = SessionId::new(format!("{prefix}-source"))?;
    let fork = SessionId::new(format!("{prefix}-fork"))?;
    let script = [
        ScriptedTurn::text("Answer one."),
        ScriptedTurn::text("Answer two."),
    ];
    let mut runner = Runner::new(
        store.clone(),
        source.clone(),
        ScriptedLlm::new(script),
        BuiltinTools,
    )
    .await?;
    open(&mut runner, &source).await?;
    run(&mut runner, "sub-1", "first question").await?;
    let cursor = store.head(&source).await?;
    run(&mut runner, "sub-2", "second question").await?;
    let head = store.head(&source).await?;

    match fork_session(&*store, &source, Some(head + 1), &fork, 1, None).await {
        Err(ForkFailure::CursorBeyondHead { .. }) => {}
        other => bail!("a cursor beyond the head: {other:?}"),
    }
    ensure!(store.head(&fork).await? == 0, "a refused fork appended");
    let forked = fork_session(&*store, &source, Some(cursor), &fork, 1, None)
        .await
        .context("forking")?;
    ensure!(
        forked.safe_point == cursor,
        "forked at {}",
        forked.safe_point
    );
    match fork_session(&*store, &source, None, &fork, 2, None).await {
        Err(ForkFailure::ForkExists(_)) => {}
        other => bail!("forking into an existing session: {other:?}"),
    }

    // The source's items at the cursor, by the same refs; the manifests are stored.
    let at_cursor: SessionState = state_at(&*store, &source, cursor).await?;
    let plan = &forked.plan;
    ensure!(
        plan.state.context == at_cursor.context,
        "the fork's items differ"
    );
    let mut manifests: Vec<BlobRef> = plan.chunks.iter().map(|c| BlobRef::of_bytes(c)).collect();
    manifests.push(BlobRef::of_bytes(&plan.checkpoint.state));
    ensure!(
        store.has_many(&manifests).await?.iter().all(|held| *held),
        "the base or a chunk is missing"
    );
    for source_of_state in ["its checkpoint", "its first entry"] {
        let state = rehydrate(&*store, &fork).await?;
        ensure!(
            state.to_canonical_bytes() == plan.state.to_canonical_bytes(),
            "the fork rehydrated from {source_of_state} differs from its plan"
        );
        store.prune_checkpoints(&fork, 2).await?;
    }

    // The fork takes a run: its request holds the first exchange, not the second.
    let llm = ScriptedLlm::new([ScriptedTurn::text("Fork answer.")]);
    let mut on_fork = Runner::new(store.clone(), fork.clone(), llm, BuiltinTools).await?;
    run(&mut on_fork, "sub-1", "fork question").await?;
    let requests = on_fork.llm().requests();
    let request = requests.last().context("the fork's run asked the model")?;
    let texts = user_texts(&*store, &request.items).await?;
    ensure!(
        texts == ["first question", "fork question"],
        "the fork's request has the user messages {texts:?}"
    );
    ensure!(
        store.head(&source).await? == head,
        "the fork wrote to its source"
    );
    Ok(())
}

async fn open<S: SessionLog + BlobStore + CheckpointStore>(
    runner: &mut Runner<S>,
    session_id: &SessionId,
) -> anyhow::Result<()> {
    let config = SessionConfig {
        model: ModelRoute {
            provider_id: "fake".into(),
            api_kind: "openai:responses".into(),
            model: "scripted-1".into(),
        },
        generation: Default::default(),
        context: Default::default(),
        run_limits: Default::default(),
        tool_policy: Default::default(),
        budget: Default::default(),
    };
    runner
        .admit(CoreCommand::OpenSession {
            session_id: session_id.clone(),
            config,
            instructions: None,
            parent: Default::default(),
        })
        .await?;
    Ok(())
}

async fn run<S: SessionLog + BlobStore + CheckpointStore>(
    runner: &mut Runner<S>,
    submission: &str,
    text: &str,
) -> anyhow::Result<()> {
    let input = vec![runner.user_text(text).await?];
    runner
        .admit(CoreCommand::RequestRun {
            submission_id: SubmissionId::new(submission)?,
            input,
            overrides: Default::default(),
        })
        .await?;
    runner.run_until_idle().await?;
    Ok(())
}

async fn user_texts<B: BlobStore>(
    blobs: &B,
    items: &[engine::core::context::ContextItem],
) -> anyhow::Result<Vec<String>> {
    let mut texts = Vec::new();
    for item in items
        .iter()
        .filter(|item| item.kind == ItemKind::UserMessage)
    {
        texts.push(String::from_utf8(blobs.get(&item.content_ref).await?)?);
    }
    Ok(texts)
}
