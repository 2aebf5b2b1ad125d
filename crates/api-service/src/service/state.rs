//! [`Service`]'s state and the helpers every method shares: the host, caches,
//! quotas, settings; reading a universe's store and a session's control state.

use std::sync::Arc;

use api::ApiError;
use engine::SessionId;
use engine::core::control::ControlState;
use llm_runtime::ModelCatalog;
use session_stores::StoreProvider;

use crate::control::ControlCache;
use crate::errors::internal;
use crate::host::SessionHost;
use crate::quotas::Quotas;

pub(crate) type Store<H> = <<H as SessionHost>::Stores as StoreProvider>::Store;

/// Every API method over the host `H`.
pub struct Service<H> {
    pub(crate) host: H,
    pub(crate) controls: ControlCache,
    pub(crate) quotas: Quotas,
    pub(crate) mcp: crate::mcp::McpSettings,
    pub(crate) auth: Option<crate::auth::AuthSettings>,
    /// The deployment's providers and models (`models/list`, route checks and model
    /// defaults at admission); empty until [`Service::with_models`].
    pub(crate) models: Arc<ModelCatalog>,
    /// Where skills are looked for in every mount (`session/skills/*`).
    pub(crate) skill_roots: effects::context_sources::SkillRoots,
}

impl<H: SessionHost> Service<H> {
    pub fn new(host: H) -> Self {
        Self::with_control_cache(host, ControlCache::default())
    }

    pub fn with_control_cache(host: H, controls: ControlCache) -> Self {
        Self {
            host,
            controls,
            quotas: Quotas::default(),
            mcp: crate::mcp::McpSettings::default(),
            auth: None,
            models: Arc::default(),
            skill_roots: effects::context_sources::SkillRoots::default(),
        }
    }

    /// Skills are looked for under these roots of every mount (the worker's
    /// `WorkerTools::with_skill_roots` must name the same).
    pub fn with_skill_roots(mut self, roots: effects::context_sources::SkillRoots) -> Self {
        self.skill_roots = roots;
        self
    }

    pub fn with_auth(mut self, auth: crate::auth::AuthSettings) -> Self {
        self.auth = Some(auth);
        self
    }

    pub fn with_mcp(mut self, mcp: crate::mcp::McpSettings) -> Self {
        self.mcp = mcp;
        self
    }

    /// The deployment's model catalog. Without one (or with an empty one) any
    /// route is admitted as named and gets the engine's defaults.
    pub fn with_models(mut self, models: Arc<ModelCatalog>) -> Self {
        self.models = models;
        self
    }

    pub fn with_quotas(mut self, quotas: Quotas) -> Self {
        self.quotas = quotas;
        self
    }

    pub fn host(&self) -> &H {
        &self.host
    }

    /// The quotas and bounds this service enforces.
    pub fn quotas(&self) -> &Quotas {
        &self.quotas
    }

    pub(crate) async fn store(&self, universe_id: &str) -> Result<Arc<Store<H>>, ApiError> {
        self.host
            .stores()
            .store(universe_id)
            .await
            .map_err(|err| internal("opening the universe's store", err))
    }

    /// Committed control state, from the store.
    pub(crate) async fn control(
        &self,
        universe_id: &str,
        session: &SessionId,
    ) -> Result<ControlState, ApiError> {
        let store = self.store(universe_id).await?;
        self.controls
            .read(&*store, universe_id, session)
            .await
            .map_err(|err| internal("reading the session state", err))
    }
}
