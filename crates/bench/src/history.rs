//! History bytes per turn: one session per size and tool-call count, its turns run one
//! after another (each run is requested once the previous one finished, as a user
//! waiting for the answer would), then the history of every run of the session's
//! workflow chain is read back. With tool calls, every turn first calls
//! [`crate::tools::TOOL`] that many times in one batch, then answers (two generations
//! per turn).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;
use temporal_workflow::workflow_id;
use test_support::fake_provider::Script;

use crate::chain::{self, Payload, RunHistory};
use crate::driver::{SessionDriver, UNIVERSE};
use crate::stack::Stack;
use crate::tools;

/// How often a waiting client asks whether its run finished.
const POLL: Duration = Duration::from_millis(5);

#[derive(Debug, Serialize)]
pub(crate) struct HistoryFigures {
    pub(crate) turns: u64,
    /// Tool calls each turn makes (in one batch), 0 for text-only turns.
    pub(crate) tool_calls_per_turn: u64,
    /// Runs of the workflow chain (1 + continue-as-new count).
    pub(crate) runs: Vec<RunHistory>,
    pub(crate) events_total: u64,
    pub(crate) bytes_total: u64,
    /// `bytes_total / turns`: includes opening the session, spread over the turns.
    pub(crate) bytes_per_turn: f64,
    pub(crate) events_per_turn: f64,
    /// The largest run of the chain, in bytes.
    pub(crate) run_bytes_max: u64,
    pub(crate) largest_payload: Option<Payload>,
    /// Activities scheduled over the whole chain, divided by the turns.
    pub(crate) activities_per_turn: BTreeMap<String, f64>,
    /// Median schedule-to-start of activity tasks (from history event times).
    pub(crate) activity_dispatch_ms_median: f64,
    pub(crate) seconds: f64,
}

/// The name of the session measuring `turns` turns of `tool_calls` calls each.
fn session_name(turns: u64, tool_calls: u64) -> String {
    match tool_calls {
        0 => format!("s-history-{turns}"),
        calls => format!("s-history-{turns}-tools{calls}"),
    }
}

/// One session per size in `sizes` and count in `tool_calls`.
pub(crate) async fn run(
    stack: &Stack,
    sizes: &[u64],
    tool_calls: &[u64],
    settings: temporal_workflow::WorkflowSettings,
) -> anyhow::Result<Vec<HistoryFigures>> {
    let temporal = stack.temporal("history").await?;
    let config = temporal.config();
    // Every tool turn of every session, scripted up front on a provider of its own;
    // text-only turns match nothing in it and get the echo.
    let mut script = Script::default();
    for &calls in tool_calls.iter().filter(|calls| **calls > 0) {
        let markers = sizes.iter().flat_map(|&turns| {
            (0..turns).map(move |index| tools::marker(&session_name(turns, calls), index))
        });
        script.turns.extend(tools::script(markers, calls).turns);
    }
    let scripted = if script.turns.is_empty() {
        None
    } else {
        Some(stack.scripted_provider(script).await?)
    };
    let provider = scripted.as_ref().unwrap_or(&stack.provider);
    let worker = stack.start_session_worker_with(&config, provider).await?;
    let driver = SessionDriver::with_settings(
        stack.client(&config).await?,
        &config.task_queue,
        &stack.store_root(),
        settings,
    )?;
    let mut figures = Vec::with_capacity(sizes.len() * tool_calls.len());
    for &calls in tool_calls {
        for &turns in sizes {
            figures.push(one_session(&driver, turns, calls).await?);
        }
    }
    worker.shutdown().await?;
    temporal.shutdown().await;
    if let Some(provider) = scripted {
        provider.shutdown().await;
    }
    Ok(figures)
}

async fn one_session(
    driver: &SessionDriver,
    turns: u64,
    tool_calls: u64,
) -> anyhow::Result<HistoryFigures> {
    let started = Instant::now();
    let name = session_name(turns, tool_calls);
    let session = driver.open(&name).await?;
    let label = match tool_calls {
        0 => format!("history {turns}"),
        calls => format!("history {turns} with {calls} tool calls/turn"),
    };
    if tool_calls > 0 {
        driver.register_tools(&session).await?;
    }
    let step = (turns / 10).max(1);
    for index in 0..turns {
        let marker = if tool_calls > 0 {
            tools::marker(&name, index)
        } else {
            String::new()
        };
        driver.request_run_saying(&session, index, &marker).await?;
        driver.wait_finished(&session, index + 1, POLL).await?;
        if (index + 1) % step == 0 || index + 1 == turns {
            crate::progress(format_args!(
                "{label}: turn {}/{turns} ({:.1} s)",
                index + 1,
                started.elapsed().as_secs_f64()
            ));
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    // An idle workflow with a long history continues as new right after the last run;
    // give that a moment to start, then wait for the new run to load, so the chain
    // read is the settled one.
    tokio::time::sleep(Duration::from_millis(300)).await;
    wait_settled(driver, &session).await?;
    let runs =
        chain::read_chain(driver.sessions.client(), &workflow_id(UNIVERSE, &session)).await?;
    let totals = chain::totals(&runs);
    let per_turn = |value: u64| value as f64 / turns.max(1) as f64;
    Ok(HistoryFigures {
        turns,
        tool_calls_per_turn: tool_calls,
        events_total: totals.events,
        bytes_total: totals.bytes,
        bytes_per_turn: per_turn(totals.bytes),
        events_per_turn: per_turn(totals.events),
        run_bytes_max: runs.iter().map(|run| run.bytes).max().unwrap_or(0),
        largest_payload: totals.largest_payload,
        activities_per_turn: totals
            .activities
            .iter()
            .map(|(name, count)| (name.clone(), per_turn(*count)))
            .collect(),
        activity_dispatch_ms_median: chain::median_ms(&totals.dispatch.activity_us),
        runs,
        seconds,
    })
}

/// Waits until the session's workflow is loaded and idle.
async fn wait_settled(driver: &SessionDriver, session: &engine::SessionId) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = driver.sessions.status(UNIVERSE, session).await;
        if let Ok(status) = status
            && status.loaded
            && status.active_run_id.is_none()
            && status.pending_admissions == 0
        {
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < deadline, "{session} never settled");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
