//! Reading a workflow's history through the Temporal client, across continue-as-new:
//! starting from the latest run, each run's first event names the run it continued
//! (`continued_execution_run_id`), so the chain is walked back to the first run.
//!
//! Sizes are the server's own figures from `DescribeWorkflowExecution`
//! (`history_length`, `history_size_bytes`: the encoded events as the server stores
//! them), read per run; the events themselves are fetched for the activity payloads.

use std::collections::BTreeMap;

use anyhow::Context as _;
use serde::Serialize;
use temporalio_client::{
    Client, NamespacedClient, UntypedWorkflow, WorkflowDescribeOptions, WorkflowExecutionInfo,
    WorkflowFetchHistoryOptions, WorkflowHandle,
};
use temporalio_common::protos::temporal::api::common::v1::Payloads;
use temporalio_common::protos::temporal::api::history::v1::HistoryEvent;
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;

/// Runs a chain may have before the bench calls it a loop (a 500-turn session
/// continues as new about ten times with the default threshold).
const RUNS_MAX: usize = 10_000;

/// One run of a workflow chain.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RunHistory {
    pub(crate) run_id: String,
    pub(crate) events: u64,
    pub(crate) bytes: u64,
    /// Activities scheduled in this run, by activity type.
    pub(crate) activities: BTreeMap<String, u64>,
    /// The largest activity input or result of this run.
    pub(crate) largest_payload: Option<Payload>,
    /// Schedule-to-start of each task, in microseconds (left out of the JSON: the
    /// figures carry their medians).
    #[serde(skip)]
    pub(crate) dispatch: Dispatch,
}

/// How long tasks waited between being scheduled and a worker starting them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Dispatch {
    pub(crate) activity_us: Vec<u64>,
    pub(crate) workflow_task_us: Vec<u64>,
}

/// The median of `values_us`, in milliseconds (0 when empty).
pub(crate) fn median_ms(values_us: &[u64]) -> f64 {
    let mut sorted = values_us.to_vec();
    sorted.sort_unstable();
    sorted
        .get(sorted.len() / 2)
        .map_or(0.0, |us| *us as f64 / 1000.0)
}

/// One activity input or result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Payload {
    pub(crate) activity_type: String,
    /// `input` or `result`.
    pub(crate) direction: &'static str,
    pub(crate) bytes: u64,
}

/// Every run of `workflow_id`, first run first.
pub(crate) async fn read_chain(
    client: &Client,
    workflow_id: &str,
) -> anyhow::Result<Vec<RunHistory>> {
    let mut runs = Vec::new();
    // Empty: the latest run.
    let mut run_id = String::new();
    loop {
        anyhow::ensure!(
            runs.len() < RUNS_MAX,
            "{workflow_id} has over {RUNS_MAX} runs"
        );
        let handle = run_handle(client, workflow_id, &run_id);
        let description = handle
            .describe(WorkflowDescribeOptions::default())
            .await
            .with_context(|| format!("describing {workflow_id} run {run_id:?}"))?;
        let info = description
            .raw()
            .workflow_execution_info
            .clone()
            .context("describe returned no execution info")?;
        let this_run = info
            .execution
            .as_ref()
            .map(|execution| execution.run_id.clone())
            .unwrap_or_default();
        let handle = run_handle(client, workflow_id, &this_run);
        let events = handle
            .fetch_history(WorkflowFetchHistoryOptions::default())
            .into_events()
            .await
            .with_context(|| format!("fetching the history of {workflow_id} run {this_run}"))?;
        let previous = continued_from(&events);
        let (activities, largest_payload) = activity_figures(&events);
        let dispatch = dispatch_times(&events);
        runs.push(RunHistory {
            run_id: this_run,
            events: u64::try_from(info.history_length).unwrap_or(0),
            bytes: u64::try_from(info.history_size_bytes).unwrap_or(0),
            activities,
            largest_payload,
            dispatch,
        });
        match previous {
            Some(previous) => run_id = previous,
            None => break,
        }
    }
    runs.reverse();
    Ok(runs)
}

fn run_handle(
    client: &Client,
    workflow_id: &str,
    run_id: &str,
) -> WorkflowHandle<Client, UntypedWorkflow> {
    let info = WorkflowExecutionInfo::builder()
        .namespace(client.namespace())
        .workflow_id(workflow_id)
        .maybe_run_id((!run_id.is_empty()).then(|| run_id.to_owned()))
        .build();
    WorkflowHandle::new(client.clone(), info)
}

/// The run this one continued, from its first event.
fn continued_from(events: &[HistoryEvent]) -> Option<String> {
    events.iter().find_map(|event| match &event.attributes {
        Some(Attributes::WorkflowExecutionStartedEventAttributes(started)) => {
            Some(started.continued_execution_run_id.clone()).filter(|id| !id.is_empty())
        }
        _ => None,
    })
}

fn payloads_bytes(payloads: Option<&Payloads>) -> u64 {
    let bytes: usize = payloads.map_or(0, |payloads| {
        payloads
            .payloads
            .iter()
            .map(|payload| {
                payload.data.len()
                    + payload
                        .metadata
                        .iter()
                        .map(|(key, value)| key.len() + value.len())
                        .sum::<usize>()
            })
            .sum()
    });
    u64::try_from(bytes).unwrap_or(u64::MAX)
}

/// The marker the SDK records a local activity's completion as.
const LOCAL_ACTIVITY_MARKER: &str = "core_local_activity";

/// The activity type a local activity marker records (its `data` detail is the SDK's
/// JSON of the activity's identity), keyed `"<type> (local)"` so local and regular
/// activities of one name count apart.
fn local_activity_type(details: &std::collections::HashMap<String, Payloads>) -> String {
    let activity_type = details
        .get("data")
        .and_then(|data| data.payloads.first())
        .and_then(|payload| serde_json::from_slice::<serde_json::Value>(&payload.data).ok())
        .and_then(|data| data.get("activity_type")?.as_str().map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned());
    format!("{activity_type} (local)")
}

/// Activities by type (regular ones counted when scheduled, local ones by their
/// markers), and the largest payload (data plus metadata, as seam.rs counts them)
/// among their inputs and results (a local activity's input is not recorded).
fn activity_figures(events: &[HistoryEvent]) -> (BTreeMap<String, u64>, Option<Payload>) {
    let mut types = BTreeMap::new();
    let mut counts = BTreeMap::new();
    let mut largest: Option<Payload> = None;
    let mut consider = |payload: Payload| {
        if largest
            .as_ref()
            .is_none_or(|seen| payload.bytes > seen.bytes)
        {
            largest = Some(payload);
        }
    };
    for event in events {
        match &event.attributes {
            Some(Attributes::ActivityTaskScheduledEventAttributes(scheduled)) => {
                let activity_type = scheduled
                    .activity_type
                    .as_ref()
                    .map(|t| t.name.clone())
                    .unwrap_or_default();
                *counts.entry(activity_type.clone()).or_insert(0) += 1;
                types.insert(event.event_id, activity_type.clone());
                consider(Payload {
                    activity_type,
                    direction: "input",
                    bytes: payloads_bytes(scheduled.input.as_ref()),
                });
            }
            Some(Attributes::MarkerRecordedEventAttributes(marker))
                if marker.marker_name == LOCAL_ACTIVITY_MARKER =>
            {
                let activity_type = local_activity_type(&marker.details);
                *counts.entry(activity_type.clone()).or_insert(0) += 1;
                consider(Payload {
                    activity_type,
                    direction: "result",
                    bytes: payloads_bytes(marker.details.get("result")),
                });
            }
            Some(Attributes::ActivityTaskCompletedEventAttributes(completed)) => {
                consider(Payload {
                    activity_type: types
                        .get(&completed.scheduled_event_id)
                        .cloned()
                        .unwrap_or_default(),
                    direction: "result",
                    bytes: payloads_bytes(completed.result.as_ref()),
                });
            }
            _ => {}
        }
    }
    (counts, largest)
}

fn event_time_us(event: &HistoryEvent) -> Option<i128> {
    let time = event.event_time.as_ref()?;
    Some(i128::from(time.seconds) * 1_000_000 + i128::from(time.nanos) / 1_000)
}

/// Schedule-to-start of every activity task and workflow task of a run, from the event
/// times the server recorded.
fn dispatch_times(events: &[HistoryEvent]) -> Dispatch {
    let mut scheduled_at = BTreeMap::new();
    let mut dispatch = Dispatch::default();
    let waited = |scheduled_at: &BTreeMap<i64, i128>, scheduled_event_id: i64, event| {
        let start = scheduled_at.get(&scheduled_event_id).copied()?;
        u64::try_from(event_time_us(event)? - start).ok()
    };
    for event in events {
        match &event.attributes {
            Some(
                Attributes::ActivityTaskScheduledEventAttributes(_)
                | Attributes::WorkflowTaskScheduledEventAttributes(_),
            ) => {
                if let Some(time) = event_time_us(event) {
                    scheduled_at.insert(event.event_id, time);
                }
            }
            Some(Attributes::ActivityTaskStartedEventAttributes(started)) => {
                dispatch.activity_us.extend(waited(
                    &scheduled_at,
                    started.scheduled_event_id,
                    event,
                ));
            }
            Some(Attributes::WorkflowTaskStartedEventAttributes(started)) => {
                dispatch.workflow_task_us.extend(waited(
                    &scheduled_at,
                    started.scheduled_event_id,
                    event,
                ));
            }
            _ => {}
        }
    }
    dispatch
}

/// Summed over a chain: events, bytes, activities by type, and the largest payload.
pub(crate) struct ChainTotals {
    pub(crate) events: u64,
    pub(crate) bytes: u64,
    pub(crate) activities: BTreeMap<String, u64>,
    pub(crate) largest_payload: Option<Payload>,
    pub(crate) dispatch: Dispatch,
}

pub(crate) fn totals<'a>(runs: impl IntoIterator<Item = &'a RunHistory>) -> ChainTotals {
    let mut totals = ChainTotals {
        events: 0,
        bytes: 0,
        activities: BTreeMap::new(),
        largest_payload: None,
        dispatch: Dispatch::default(),
    };
    for run in runs {
        totals.events += run.events;
        totals.bytes += run.bytes;
        for (activity_type, count) in &run.activities {
            *totals.activities.entry(activity_type.clone()).or_insert(0) += count;
        }
        if let Some(payload) = &run.largest_payload
            && totals
                .largest_payload
                .as_ref()
                .is_none_or(|seen| payload.bytes > seen.bytes)
        {
            totals.largest_payload = Some(payload.clone());
        }
        totals
            .dispatch
            .activity_us
            .extend(&run.dispatch.activity_us);
        totals
            .dispatch
            .workflow_task_us
            .extend(&run.dispatch.workflow_task_us);
    }
    totals
}
