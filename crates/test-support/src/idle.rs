//! What idle readers cost the store: [`idle_readers`] opens sessions through the
//! API service over a [`CountingStores`] provider, leaves one `session/subscribe`
//! and one long-polling `session/events/read` waiting on each, counts the store
//! calls made while nothing commits, then commits to one session and checks that
//! exactly its readers wake. Runs over any provider (the filesystem store in
//! process, Postgres through its commit listener), so both push paths are measured
//! the same way.
//!
//! The wrapper sees what readers ask of the store, not what a provider does on its
//! own (a commit listener's re-reads, a head re-check): a [`Probe`] counts at the
//! source as well (Postgres: its statistics of the tables' scans).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use api::types::events::{SessionEventsReadParams, SessionNotification, SessionSubscribeParams};
use api::types::session::{SessionRef, SessionStartParams, SessionUpdateParams};
use api::{Caller, LightspeedApi};
use api_service::SessionHost as _;
use futures::StreamExt as _;
use llm_runtime::{LlmRuntime, Transport};
use serde_json::json;
use session_stores::StoreProvider;
use tokio::task::JoinHandle;

use crate::counting::CountingStores;
use crate::local_api::{LocalApiConfig, LocalHost};
use crate::runtime_llm::RetryPolicy;

/// What [`idle_readers`] measured.
#[derive(Debug, Clone, PartialEq)]
pub struct IdleFigures {
    pub setup: IdleSetup,
    /// Store calls the readers made setting up (their first reads): the wrapper
    /// sees readers' calls.
    pub setup_calls: u64,
    /// Store calls made during the window, while nothing committed.
    pub idle_calls: u64,
    /// `idle_calls` scaled to one minute.
    pub calls_per_minute: f64,
    /// What the probe counted over the window and its lag after it (which is idle
    /// too), and that span.
    pub probe_count: u64,
    pub probe_span: Duration,
    /// From the commit's admission to its subscriber's notification.
    pub wake_latency: Duration,
}

/// A count of store work kept by the store itself.
pub trait Probe: Sync {
    /// How long after some work the count reflects it.
    fn lag(&self) -> Duration;
    fn count(&self) -> impl Future<Output = anyhow::Result<u64>> + Send;
}

/// No count beyond the wrapper's.
pub struct NoProbe;

impl Probe for NoProbe {
    fn lag(&self) -> Duration {
        Duration::ZERO
    }

    async fn count(&self) -> anyhow::Result<u64> {
        Ok(0)
    }
}

type Service<P> = api_service::Service<LocalHost<CountingStores<P>>>;

/// How [`idle_readers`] waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdleSetup {
    pub sessions: usize,
    /// Also a long-poll per session. A long-poll waits at most
    /// [`api_service::WAIT_MS_MAX`], so the window and twice the probe's lag must
    /// fit in it.
    pub long_polls: bool,
    pub window: Duration,
}

/// Opens `setup.sessions` sessions in `universe_id` of `stores`, leaves a
/// subscriber (and a long-poll) waiting on each for `setup.window`, and measures
/// (with `probe` too).
pub async fn idle_readers<P: StoreProvider>(
    stores: P,
    universe_id: &str,
    setup: IdleSetup,
    probe: &impl Probe,
) -> anyhow::Result<IdleFigures> {
    let IdleSetup {
        sessions,
        long_polls,
        window,
    } = setup;
    let host = LocalHost::with_stores(
        CountingStores::new(stores),
        LocalApiConfig {
            data_dir: std::env::temp_dir(),
            // Nothing here runs a model.
            runtime: LlmRuntime::new([]),
            transport: Transport::Streaming,
            retry: RetryPolicy::default(),
            transcription: Default::default(),
        },
    );
    let api: Arc<Service<P>> = Arc::new(api_service::Service::new(host));
    let caller = Caller {
        universe_id: universe_id.to_owned(),
        key_id: "idle".into(),
        operator: false,
    };
    let ids: Vec<String> = (0..sessions)
        .map(|n| format!("idle-{}-{n}", uuid::Uuid::new_v4().simple()))
        .collect();
    let mut heads = Vec::with_capacity(sessions);
    for id in &ids {
        let params: SessionStartParams = serde_json::from_value(json!({
            "sessionId": id,
            "config": {"model": {"providerId": "fake", "apiKind": "openai:responses", "model": "fake-model"}},
        }))?;
        heads.push(api.session_start(&caller, params).await?.event_cursor);
    }

    let notified: Arc<Vec<AtomicU64>> = Arc::new(ids.iter().map(|_| AtomicU64::new(0)).collect());
    let mut readers: Vec<JoinHandle<()>> = Vec::new();
    let mut polls: Vec<JoinHandle<anyhow::Result<usize>>> = Vec::new();
    for (n, (id, head)) in ids.iter().zip(&heads).enumerate() {
        let params = SessionSubscribeParams {
            session_id: id.clone(),
            cursor: *head,
            deltas: Some(false),
        };
        let mut stream = api.session_subscribe(&caller, params).await?;
        let notified = notified.clone();
        readers.push(tokio::spawn(async move {
            while let Some(notification) = stream.next().await {
                if matches!(notification, SessionNotification::Event { .. }) {
                    notified[n].fetch_add(1, Ordering::SeqCst);
                }
            }
        }));
        if !long_polls {
            continue;
        }
        let (api, caller) = (api.clone(), caller.clone());
        let params = SessionEventsReadParams {
            session_id: id.clone(),
            cursor: *head,
            limit: None,
            wait_ms: Some(api_service::WAIT_MS_MAX),
        };
        polls.push(tokio::spawn(async move {
            Ok(api.session_events_read(&caller, params).await?.events.len())
        }));
    }
    let counter = api.host().stores();
    settle(counter).await;
    tokio::time::sleep(probe.lag()).await;

    let probed = probe.count().await?;
    let before = counter.calls();
    tokio::time::sleep(window).await;
    let idle_calls = counter.calls() - before;
    tokio::time::sleep(probe.lag()).await;
    let probe_count = probe.count().await? - probed;
    ensure!(
        polls.iter().all(|poll| !poll.is_finished()),
        "a long-poll returned while nothing committed (the window and the probe's lag \
         must stay under {} ms)",
        api_service::WAIT_MS_MAX
    );

    // One commit wakes its session's readers, and only theirs.
    let first = SessionRef {
        session_id: ids[0].clone(),
    };
    let revision = api.session_read(&caller, first).await?.revision;
    let committed = Instant::now();
    let update: SessionUpdateParams = serde_json::from_value(json!({
        "sessionId": ids[0], "expectedRevision": revision,
        "patch": {"generation": {"maxOutputTokens": 256}},
    }))?;
    api.session_update(&caller, update).await?;
    let deadline = committed + Duration::from_secs(10);
    while notified[0].load(Ordering::SeqCst) == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let wake_latency = committed.elapsed();
    ensure!(
        notified[0].load(Ordering::SeqCst) > 0,
        "the subscriber of the session that committed was not woken"
    );
    let mut polls = polls.into_iter();
    if let Some(first) = polls.next() {
        let woken = tokio::time::timeout(Duration::from_secs(10), first)
            .await
            .context("the long-poll of the session that committed did not return")???;
        ensure!(woken > 0, "the woken long-poll read no events");
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let others: u64 = notified[1..].iter().map(|n| n.load(Ordering::SeqCst)).sum();
    ensure!(
        others == 0,
        "{others} notifications reached sessions that did not commit"
    );
    let polls: Vec<_> = polls.collect();
    ensure!(
        polls.iter().all(|poll| !poll.is_finished()),
        "a long-poll of another session returned"
    );
    for poll in polls {
        poll.abort();
    }
    for reader in readers {
        reader.abort();
    }
    Ok(IdleFigures {
        setup,
        setup_calls: before,
        idle_calls,
        probe_count,
        probe_span: window + probe.lag(),
        calls_per_minute: idle_calls as f64 * 60.0 / window.as_secs_f64(),
        wake_latency,
    })
}

/// Waits until the readers' first reads (their catch-up, the long-polls' head and
/// page) are over: no store call for a while, or 5 s (readers that poll never
/// settle; the window then counts their polling).
async fn settle<P>(counter: &CountingStores<P>) {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut seen = counter.calls();
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = counter.calls();
        if now == seen {
            return;
        }
        seen = now;
    }
}
