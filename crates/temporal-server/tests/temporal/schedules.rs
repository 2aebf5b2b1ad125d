//! Schedules on real Temporal, end to end: a schedule firing every 2 seconds starts
//! runs on its session; paused, it fires nothing; resumed, it fires again; with the
//! worker stopped for 10 seconds, the firings missed meanwhile come back as exactly
//! one firing (Temporal's `skip` overlap policy holds the first missed firing's
//! workflow, and the catalog's claim folds any other into it), after which the
//! schedule fires on its times again.
//!
//! The stack is the product's: `TemporalApi` over the filesystem store, the worker
//! running firings through it (`worker::start_with_schedules`), the fake provider
//! answering every run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use api::types::schedule::{ScheduleCreateParams, SchedulePauseParams, ScheduleRef, ScheduleView};
use api::{Caller, LightspeedApi};
use effects::LlmCompactor;
use llm_runtime::{LlmRuntime, Transport};
use serde_json::json;
use session_stores::FsStores;
use temporal_server::api_host::{TemporalApi, TemporalHost};
use temporal_server::deltas::DeltaHub;
use temporal_server::seam;
use temporal_server::sessions::SessionClient;
use temporal_server::worker::backend::{Backend, LlmSettings};
use temporal_server::worker::{self, RunningWorker, TemporalConfig, WorkerTuning};
use test_support::api_conformance::Quotas;
use test_support::api_conformance::local::{fake_catalog, fake_provider};
use test_support::tools::TestToolset;

use crate::harness::{fast_settings, temporal_address};

const SCHEDULE: &str = "tick";

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

struct Stack {
    api: Arc<TemporalApi<FsStores>>,
    caller: Caller,
    temporal: TemporalConfig,
    stores: Arc<FsStores>,
    runtime: LlmRuntime,
    deltas: Arc<DeltaHub>,
}

impl Stack {
    async fn start_worker(&self) -> RunningWorker {
        let schedules = effects::schedule_tools::ScheduleTools {
            scheduler: api_service::SessionHost::scheduler(self.api.host()),
            limits: self.api.quotas().schedules,
        };
        let backend = Backend {
            stores: self.stores.clone(),
            llm: LlmSettings {
                runtime: self.runtime.clone(),
                transport: Transport::Streaming,
            },
            tools: TestToolset::default().with_schedules(schedules),
            compactor: LlmCompactor::new(self.runtime.clone(), Transport::Streaming),
            deltas: self.deltas.clone(),
            checkpoint_interval_entries: 64,
            transcription: Default::default(),
        };
        worker::start_with_schedules(
            &self.temporal,
            WorkerTuning::default(),
            Arc::new(backend),
            seam::data_converter(self.stores.clone()),
            self.api.clone(),
        )
        .await
        .unwrap()
    }

    async fn read(&self) -> ScheduleView {
        let params = ScheduleRef {
            schedule_id: SCHEDULE.into(),
        };
        self.api.schedule_read(&self.caller, params).await.unwrap()
    }

    async fn pause(&self, paused: bool) -> ScheduleView {
        let params = SchedulePauseParams {
            schedule_id: SCHEDULE.into(),
            paused,
        };
        self.api.schedule_pause(&self.caller, params).await.unwrap()
    }

    /// Reads the schedule every 100 ms until `done` holds; the due times of every
    /// firing seen as the last one meanwhile (each stays last for 2 s).
    async fn watch(
        &self,
        what: &str,
        done: impl Fn(&ScheduleView) -> bool,
    ) -> (ScheduleView, BTreeSet<u64>) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut seen = BTreeSet::new();
        loop {
            let read = self.read().await;
            if let Some(last) = &read.last_firing {
                seen.insert(last.scheduled_at_ms);
            }
            if done(&read) {
                return (read, seen);
            }
            assert!(Instant::now() < deadline, "{what}: {read:#?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn firings(read: &ScheduleView) -> u64 {
    read.firings
}

/// The firing counted last has its run requested (and so, with the fake
/// provider's instant answers, about to finish).
fn started(read: &ScheduleView) -> bool {
    read.last_firing
        .as_ref()
        .is_some_and(|last| last.run_id.is_some())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_schedule_fires_pauses_resumes_and_coalesces_a_missed_window() {
    let Some(address) = temporal_address().await else {
        return;
    };
    let turns: Vec<_> = (0..200).map(|_| json!({"text": "Tick."})).collect();
    let (provider, runtime) = fake_provider(json!({ "turns": turns })).await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let stores = Arc::new(FsStores::new(data.path()));
    let mut temporal = TemporalConfig::local(address);
    temporal.task_queue = format!("sched-{}", uuid::Uuid::new_v4().simple());
    let client = worker::connect(&temporal, seam::data_converter(stores.clone()))
        .await
        .unwrap();
    let sessions = SessionClient::new(client, temporal.task_queue.clone(), fast_settings());
    let deltas = Arc::new(DeltaHub::default());
    let quotas = Quotas {
        schedules: schedule_registry::catalog::ScheduleLimits {
            interval_seconds_min: 1,
            ..Default::default()
        },
        ..Quotas::default()
    };
    let api = Arc::new(
        TemporalHost::new(sessions, stores.clone(), deltas.clone())
            .api()
            .with_quotas(quotas)
            .with_models(Arc::new(fake_catalog(&provider).unwrap())),
    );
    let stack = Stack {
        api,
        caller: Caller {
            universe_id: "u-schedules".into(),
            key_id: "k1".into(),
            operator: false,
        },
        temporal,
        stores,
        runtime,
        deltas,
    };
    let mut worker = Some(stack.start_worker().await);

    let config = json!({"model": {"providerId": "fake", "apiKind": "openai:responses", "model": "fake-model"}});
    let start = serde_json::from_value(json!({"sessionId": "s1", "config": config})).unwrap();
    stack.api.session_start(&stack.caller, start).await.unwrap();
    let create: ScheduleCreateParams = serde_json::from_value(json!({
        "scheduleId": SCHEDULE,
        "spec": {"type": "interval", "everySeconds": 2},
        "target": {"type": "session", "sessionId": "s1"},
        "input": "Tick?",
    }))
    .unwrap();
    stack
        .api
        .schedule_create(&stack.caller, create)
        .await
        .unwrap();

    // Every 2 s a firing, each a run of the session.
    let (read, _) = stack
        .watch("two firings", |read| firings(read) >= 2 && started(read))
        .await;
    let last = read.last_firing.clone().unwrap();
    assert_eq!(last.session_id.as_deref(), Some("s1"));
    assert_eq!(last.scheduled_at_ms % 2_000, 0, "{read:#?}");

    // Paused: nothing fires for 5 s.
    stack.pause(true).await;
    let paused_at = firings(&stack.read().await);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        firings(&stack.read().await),
        paused_at,
        "fired while paused"
    );

    // Resumed: it fires again.
    let resumed = stack.pause(false).await;
    assert!(resumed.next_firing_at_ms.is_some());
    let (read, _) = stack
        .watch("a firing after resuming", |read| {
            firings(read) > paused_at && started(read)
        })
        .await;
    // Stop right after a firing, once its run and workflow are done (the fake
    // provider answers at once; the wait activity polls every 500 ms).
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let before_stop = firings(&stack.read().await);
    assert!(before_stop >= firings(&read));
    worker.take().unwrap().shutdown().await.unwrap();
    let stopped_at = now_ms();
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(
        firings(&stack.read().await),
        before_stop,
        "fired without a worker"
    );
    let restarted_at = now_ms();
    worker = Some(stack.start_worker().await);

    // After the restart: one firing for the whole missed window, then the schedule's
    // own times again.
    let (read, seen) = stack
        .watch("the firings after the restart", |read| {
            firings(read) >= before_stop + 2 && started(read)
        })
        .await;
    let missed: Vec<u64> = seen
        .iter()
        .copied()
        .filter(|&due| due > stopped_at && due < restarted_at)
        .collect();
    assert_eq!(
        missed.len(),
        1,
        "one firing for the missed window, saw due times {seen:?} (stopped {stopped_at}, restarted {restarted_at})"
    );
    let after: Vec<u64> = seen
        .iter()
        .copied()
        .filter(|&due| due > stopped_at)
        .collect();
    assert_eq!(
        read.firings,
        before_stop + after.len() as u64,
        "every firing since the stop was seen: {seen:?}, {read:#?}"
    );
    assert!(
        after.iter().skip(1).all(|&due| due >= restarted_at),
        "after the coalesced one, only firings due after the restart: {after:?}"
    );
    stack.pause(true).await;
    worker.take().unwrap().shutdown().await.unwrap();
    drop(provider);
}
