//! `LocalHost`: the API service's in-process host, for tests of the gateway, the
//! CLI and clients. The API itself ([`api_service::Service`]) is written once; this
//! module says only how the in-process deployment admits a command, announces
//! commits and relays deltas:
//!
//! - each session that receives a command gets a [`SessionRunner`] behind a mutex
//!   (rehydrated from the store, so sessions survive a restart of the host) and a
//!   driver task that steps it whenever there is work; admissions take the same
//!   mutex between steps, so cancel and steer act at the next step boundary;
//! - live deltas go out on a broadcast channel; commits are pushed by the store
//!   provider itself (`FsStores`' commit hook), as on the Temporal host.
//!
//! Each universe has its own store root ([`FsStores`], or any other provider
//! through [`LocalHost::with_stores`]), so sessions, blobs, VFS workspaces and
//! mounts never cross tenants. Sessions serve [`TestToolset`]: the
//! production tools plus the builtin test tools, as the Temporal test worker does.
//!
//! Schedules fire from a [`LocalScheduler`] (a timer task per schedule), bound to
//! the service once it exists.
//!
//! Not a production runtime: no durability beyond store-fs, no retries beyond
//! `RuntimeLlm`'s, one process.

mod scheduler;
mod session;

pub use scheduler::LocalScheduler;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use api_service::{Admission, AdmitFailure, Service, SessionHost, SessionKey};
use engine::core::command::CoreCommand;
use llm_runtime::{Delta, LlmRuntime, Transport};
use session_stores::{FsStores, StoreProvider};
use tokio::sync::broadcast;

use crate::runtime_llm::RetryPolicy;
use crate::tools::TestToolset;
use session::SessionSlot;

/// How the local host reaches providers and where it keeps data.
#[derive(Clone)]
pub struct LocalApiConfig {
    /// Root of every universe's store (unless [`LocalHost::with_stores`] names
    /// another provider).
    pub data_dir: PathBuf,
    pub runtime: LlmRuntime,
    pub transport: Transport,
    pub retry: RetryPolicy,
    /// Voice notes go to `runtime`'s provider named here.
    pub transcription: effects::transcriber::TranscriptionSettings,
}

/// The API served in-process.
pub type LocalApi<P = FsStores> = Service<LocalHost<P>>;

pub struct LocalHost<P: StoreProvider = FsStores> {
    config: LocalApiConfig,
    stores: P,
    sessions: Mutex<BTreeMap<SessionKey, Arc<SessionSlot<P::Store>>>>,
    toolset: TestToolset,
    scheduler: Arc<LocalScheduler>,
}

impl LocalHost {
    pub fn new(config: LocalApiConfig) -> Self {
        Self::with_stores(FsStores::new(&config.data_dir), config)
    }

    /// The API over a new host.
    pub fn api(config: LocalApiConfig) -> LocalApi {
        Service::new(Self::new(config))
    }
}

impl<P: StoreProvider> LocalHost<P> {
    /// A host over `stores` (`config.data_dir` unused).
    pub fn with_stores(stores: P, config: LocalApiConfig) -> Self {
        Self {
            stores,
            config,
            sessions: Mutex::default(),
            toolset: TestToolset::default(),
            scheduler: Arc::default(),
        }
    }

    /// The host's scheduler: bind it to the service over this host
    /// ([`LocalScheduler::bind`]) so schedules fire.
    pub fn local_scheduler(&self) -> &Arc<LocalScheduler> {
        &self.scheduler
    }

    /// Sessions served `toolset` (e.g. with an MCP client) instead of the default.
    pub fn with_toolset(mut self, toolset: TestToolset) -> Self {
        self.toolset = toolset;
        self
    }

    /// The slot of a session, created on first use (without a runner: that is
    /// made by the first admission).
    fn slot(&self, key: &SessionKey) -> Arc<SessionSlot<P::Store>> {
        self.sessions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(key.clone())
            .or_insert_with(|| Arc::new(SessionSlot::new(key.session_id.clone())))
            .clone()
    }
}

impl<P: StoreProvider> SessionHost for LocalHost<P> {
    type Stores = P;

    async fn admit(
        &self,
        key: &SessionKey,
        command: CoreCommand,
    ) -> Result<Admission, AdmitFailure> {
        let slot = self.slot(key);
        let store = self.stores.store(&key.universe_id).await;
        let store = store.map_err(|err| AdmitFailure::Unavailable(err.to_string()))?;
        slot.admit(
            &self.config,
            &key.universe_id,
            store,
            self.toolset.clone(),
            command,
        )
        .await
    }

    async fn retire(&self, key: &SessionKey) -> Result<(), String> {
        let slot = self
            .sessions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(key);
        if let Some(slot) = slot {
            slot.retire().await;
        }
        Ok(())
    }

    fn deltas(&self, key: &SessionKey) -> broadcast::Receiver<Delta> {
        self.slot(key).deltas()
    }

    fn publish_delta(&self, key: &SessionKey, delta: Delta) {
        self.slot(key).publish(delta);
    }

    fn stores(&self) -> &P {
        &self.stores
    }

    fn scheduler(&self) -> Arc<dyn schedule_registry::Scheduler> {
        self.scheduler.clone()
    }
}
