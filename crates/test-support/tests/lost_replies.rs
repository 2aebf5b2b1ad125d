#![allow(clippy::unwrap_used, clippy::expect_used)]
//! A session close whose reply is lost after its events were committed (Temporal
//! fails the update when the workflow task ending the workflow races an activity's
//! completion, then retries the task) still answers the closed session: the log
//! decides. A close that was not committed still fails.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use api::{Caller, ErrorKind};
use api_service::{Admission, AdmitFailure, SessionHost, SessionKey};
use engine::core::command::CoreCommand;
use llm_runtime::{LlmRuntime, Transport};
use schedule_registry::Scheduler;
use serde_json::json;
use session_stores::FsStores;
use test_support::local_api::{LocalApiConfig, LocalHost};
use test_support::runtime_llm::RetryPolicy;

/// The local host, except that a close is answered with an error: after it was
/// committed (`commit_then_fail`), or instead of admitting it.
struct LosingHost {
    inner: LocalHost,
    commit_then_fail: AtomicBool,
}

impl SessionHost for LosingHost {
    type Stores = FsStores;

    fn stores(&self) -> &FsStores {
        self.inner.stores()
    }

    async fn admit(
        &self,
        key: &SessionKey,
        command: CoreCommand,
    ) -> Result<Admission, AdmitFailure> {
        if !matches!(command, CoreCommand::Close) {
            return self.inner.admit(key, command).await;
        }
        if self.commit_then_fail.load(Ordering::SeqCst) {
            self.inner.admit(key, command).await?;
        }
        Err(AdmitFailure::Unavailable(
            "unexpected workflow task failure".into(),
        ))
    }

    async fn retire(&self, key: &SessionKey) -> Result<(), String> {
        self.inner.retire(key).await
    }

    fn deltas(&self, key: &SessionKey) -> tokio::sync::broadcast::Receiver<llm_runtime::Delta> {
        self.inner.deltas(key)
    }

    fn scheduler(&self) -> Arc<dyn Scheduler> {
        self.inner.scheduler()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_committed_close_whose_reply_was_lost_answers_the_closed_session() {
    let dir = tempfile::tempdir().unwrap();
    let host = LosingHost {
        inner: LocalHost::new(LocalApiConfig {
            data_dir: dir.path().to_path_buf(),
            // Nothing here runs a model.
            runtime: LlmRuntime::new([]),
            transport: Transport::Streaming,
            retry: RetryPolicy::default(),
            transcription: Default::default(),
        }),
        commit_then_fail: AtomicBool::new(false),
    };
    let api = api_service::Service::new(host);
    let caller = Caller {
        universe_id: "universe-a".into(),
        key_id: "lost".into(),
        operator: false,
    };
    let call = |method: &'static str, params: serde_json::Value| {
        let (api, caller) = (&api, &caller);
        async move { api::dispatch(api, caller, method, params).await }
    };
    let config = json!({"model": {"providerId": "fake", "apiKind": "openai:responses", "model": "fake-model"}});
    call(
        "session/start",
        json!({"sessionId": "s-lost", "config": config}),
    )
    .await
    .unwrap();

    // Not committed: the failure is the caller's, and the session stays open.
    let failed = call("session/close", json!({"sessionId": "s-lost"}))
        .await
        .unwrap_err();
    assert_eq!(failed.data.kind, ErrorKind::Internal, "{failed:?}");
    let view = call("session/read", json!({"sessionId": "s-lost"}))
        .await
        .unwrap();
    assert_eq!(view["status"], "idle", "{view}");

    // Committed, reply lost: the close answers the closed session.
    api.host().commit_then_fail.store(true, Ordering::SeqCst);
    let closed = call("session/close", json!({"sessionId": "s-lost"}))
        .await
        .unwrap();
    assert_eq!(closed["status"], "closed", "{closed}");
}
