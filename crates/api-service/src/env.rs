//! `environments/*` and `session/environments/*`: the universe's environments, and
//! attaching them to sessions (the shell tools are registered through the engine's
//! tool patches, so a session's tools stay in its log and replay like any other).

use api::ApiError;
use api::types::env::*;
use engine::SessionId;
use engine::core::control::ControlState;
use env_registry::{
    ATTACHMENTS_MAX, Attachment, ENVIRONMENTS_MAX, EnvCatalog, EnvCatalogError, Environment,
    EnvironmentName, EnvironmentToken, MountName,
};
use secrecy::ExposeSecret;

use crate::host::SessionHost;
use crate::mcp::now_ms;
use crate::service::Service;

/// A connected daemon not heard from for this long is shown offline: the gateway
/// holding it may have died without saying so. Three of the gateway's pings.
pub(crate) const ONLINE_STALE_MS: u64 = 3 * crate::env_hub::PING_INTERVAL_MS;

/// The shell tools' names, whichever the session's surface.
const SHELL_TOOLS: [&str; 3] = [
    effects::env::EXEC_COMMAND,
    effects::env::WRITE_STDIN,
    effects::env::BASH,
];

impl<H: SessionHost> Service<H> {
    pub(crate) async fn env_create(
        &self,
        universe_id: &str,
        params: EnvironmentCreateParams,
    ) -> Result<EnvironmentCreated, ApiError> {
        let name = env_name(&params.name)?;
        env_registry::environment::check_description(&params.description).map_err(catalog_error)?;
        let store = self.store(universe_id).await?;
        let unavailable =
            || crate::errors::internal("minting an environment token", "the OS gave no randomness");
        let id = env_registry::token::new_environment_id().ok_or_else(unavailable)?;
        let token = EnvironmentToken::mint(universe_id, &id).ok_or_else(unavailable)?;
        let environment = Environment {
            id,
            name,
            description: params.description,
            token_sha256: token.sha256.clone(),
            created_at_ms: now_ms(),
            presence: None,
        };
        store
            .env_create(&environment, ENVIRONMENTS_MAX)
            .await
            .map_err(catalog_error)?;
        Ok(EnvironmentCreated {
            environment: environment_view(&environment, now_ms()),
            token: token.value.expose_secret().to_owned(),
        })
    }

    pub(crate) async fn env_read(
        &self,
        universe_id: &str,
        name: &str,
    ) -> Result<EnvironmentView, ApiError> {
        let name = env_name(name)?;
        let store = self.store(universe_id).await?;
        let environment = read_environment(&*store, &name).await?;
        Ok(environment_view(&environment, now_ms()))
    }

    pub(crate) async fn env_list(
        &self,
        universe_id: &str,
    ) -> Result<EnvironmentListResult, ApiError> {
        let store = self.store(universe_id).await?;
        let now = now_ms();
        let environments = store.env_list().await.map_err(catalog_error)?;
        Ok(EnvironmentListResult {
            environments: environments
                .iter()
                .map(|environment| environment_view(environment, now))
                .collect(),
        })
    }

    pub(crate) async fn env_delete(
        &self,
        universe_id: &str,
        name: &str,
    ) -> Result<EnvironmentDeleteResult, ApiError> {
        let name = env_name(name)?;
        let store = self.store(universe_id).await?;
        let deleted = store.env_delete(&name).await.map_err(catalog_error)?;
        if let Some(environment) = &deleted {
            self.fail_jobs_of_deleted(&*store, environment).await?;
        }
        Ok(EnvironmentDeleteResult {
            deleted: deleted.is_some(),
        })
    }

    /// Finishes every unfinished call of a deleted environment as
    /// `environmentNotFound` (no daemon will ever take them) and completes the
    /// activities waiting for them, so no run waits for a deadline.
    async fn fail_jobs_of_deleted(
        &self,
        store: &crate::service::Store<H>,
        environment: &Environment,
    ) -> Result<(), ApiError> {
        let now = now_ms();
        // Pending ones are claimed by no connection first, so every unfinished job is
        // in the delivered list read next.
        store
            .job_claim(
                &environment.id,
                "deleted",
                now,
                env_registry::JOBS_IN_FLIGHT_MAX,
            )
            .await
            .map_err(catalog_error)?;
        let unfinished = store
            .job_delivered(&environment.id)
            .await
            .map_err(catalog_error)?;
        for job in unfinished {
            let message = format!("environment {} was deleted; detach it", environment.name);
            let result =
                effects::env::error_result(store, &job.call_id, "environmentNotFound", &message)
                    .await
                    .map_err(|err| crate::errors::internal("storing a tool result", err))?;
            let value = serde_json::to_value(&result)
                .map_err(|err| crate::errors::internal("encoding a tool result", err))?;
            let finished = store
                .job_finish(&job.id, &value, now)
                .await
                .map_err(catalog_error)?;
            if let Some(token) = finished
                .and_then(|job| job.task_token)
                .and_then(|token| effects::env::decode_token(&token))
                && let Err(reason) = self.host.complete_tool(token, result).await
            {
                // The worker's watcher completes it from the finished job.
                tracing::info!(job = %job.id, %reason, "completing a deleted environment's call failed");
            }
        }
        Ok(())
    }

    pub(crate) async fn env_attach(
        &self,
        universe_id: &str,
        params: SessionEnvironmentAttachParams,
    ) -> Result<SessionEnvironmentView, ApiError> {
        let (session, _) = self
            .existing_session(universe_id, &params.session_id)
            .await?;
        let environment_name = env_name(&params.environment)?;
        let name = match &params.name {
            Some(name) => MountName::new(name.clone()),
            None => MountName::new(environment_name.as_str()),
        }
        .map_err(catalog_error)?;
        let store = self.store(universe_id).await?;
        let environment = read_environment(&*store, &environment_name).await?;
        let attachment = Attachment {
            name,
            environment_id: environment.id.clone(),
            environment: environment.name.clone(),
            attached_at_ms: now_ms(),
        };
        // The record first: the tools' schemas name every attachment, so they are
        // made from the records (a failure in between leaves a record without
        // tools, which attaching again repairs).
        store
            .attachment_put(&session, &attachment, ATTACHMENTS_MAX)
            .await
            .map_err(catalog_error)?;
        let tools = self.patch_shell_tools(universe_id, &session).await?;
        Ok(attachment_view(&attachment, &environment, tools, now_ms()))
    }

    pub(crate) async fn env_detach(
        &self,
        universe_id: &str,
        params: SessionEnvironmentDetachParams,
    ) -> Result<SessionEnvironmentDetachResult, ApiError> {
        let (session, _) = self
            .existing_session(universe_id, &params.session_id)
            .await?;
        let name = MountName::new(params.name).map_err(catalog_error)?;
        let store = self.store(universe_id).await?;
        let detached = store
            .attachment_delete(&session, &name)
            .await
            .map_err(catalog_error)?;
        self.patch_shell_tools(universe_id, &session).await?;
        Ok(SessionEnvironmentDetachResult { detached })
    }

    pub(crate) async fn env_attachments(
        &self,
        universe_id: &str,
        params: SessionEnvironmentListParams,
    ) -> Result<SessionEnvironmentListResult, ApiError> {
        let (session, control) = self
            .existing_session(universe_id, &params.session_id)
            .await?;
        let store = self.store(universe_id).await?;
        let attachments = store
            .attachment_list(&session)
            .await
            .map_err(catalog_error)?;
        let tools: Vec<String> = control
            .tools
            .iter()
            .filter(|tool| SHELL_TOOLS.contains(&tool.name.as_str()))
            .map(|tool| tool.name.clone())
            .collect();
        let now = now_ms();
        let mut views = Vec::with_capacity(attachments.len());
        for attachment in &attachments {
            let environment = match store
                .env_read_id(&attachment.environment_id)
                .await
                .map_err(catalog_error)?
            {
                Some(environment) => environment_view(&environment, now),
                // Deleted since: shown as such, its calls fail until detached.
                None => EnvironmentView {
                    id: attachment.environment_id.clone(),
                    name: attachment.environment.to_string(),
                    description: String::new(),
                    status: EnvironmentStatus::Offline,
                    created_at_ms: 0,
                    host: None,
                },
            };
            views.push(SessionEnvironmentView {
                name: attachment.name.to_string(),
                path: attachment.name.root(),
                environment,
                attached_at_ms: attachment.attached_at_ms,
                tools: tools.clone(),
            });
        }
        Ok(SessionEnvironmentListResult {
            environments: views,
        })
    }

    /// Makes the session's shell tools match its attachments: the surface's shell
    /// tools, their `environment` argument naming every attachment, while there is
    /// one; none when there is none. Retries when a concurrent patch moved the tool
    /// revision; nothing is admitted when nothing changes. The tools it registered.
    async fn patch_shell_tools(
        &self,
        universe_id: &str,
        session: &SessionId,
    ) -> Result<Vec<String>, ApiError> {
        let store = self.store(universe_id).await?;
        let names: Vec<String> = store
            .attachment_list(session)
            .await
            .map_err(catalog_error)?
            .iter()
            .map(|attachment| attachment.name.to_string())
            .collect();
        // The definitions follow the session's API kind, read again on each attempt.
        let wanted = |control: &ControlState| {
            if names.is_empty() {
                return Vec::new();
            }
            let api_kind = control
                .config
                .as_ref()
                .map(|config| config.model.api_kind.clone())
                .unwrap_or_default();
            let limits = effects::env::EnvLimits::default();
            effects::env::shell_definitions(&api_kind, &names, &limits)
        };
        self.sync_tool_family(
            universe_id,
            session,
            &SHELL_TOOLS,
            Some(engine::core::tools::ToolClass::Shell),
            wanted,
        )
        .await
    }
}

async fn read_environment<S: EnvCatalog>(
    store: &S,
    name: &EnvironmentName,
) -> Result<Environment, ApiError> {
    store
        .env_read(name)
        .await
        .map_err(catalog_error)?
        .ok_or_else(|| catalog_error(EnvCatalogError::NotFound(name.to_string())))
}

fn env_name(name: &str) -> Result<EnvironmentName, ApiError> {
    EnvironmentName::new(name).map_err(catalog_error)
}

/// A catalog refusal as its contract error.
pub(crate) fn catalog_error(err: EnvCatalogError) -> ApiError {
    let code = err.code();
    match err {
        EnvCatalogError::Invalid { .. } => ApiError::invalid_params(err.to_string()),
        EnvCatalogError::NotFound(_) | EnvCatalogError::AttachmentNotFound(_) => {
            ApiError::not_found(err.to_string())
        }
        EnvCatalogError::Exists(_) => ApiError::conflict(err.to_string()),
        EnvCatalogError::TooMany { .. } => ApiError::rejected(err.to_string()),
        EnvCatalogError::Store(err) => {
            return crate::errors::internal("the environment catalog", err);
        }
    }
    .with_reason(code)
}

pub(crate) fn environment_view(environment: &Environment, now_ms: u64) -> EnvironmentView {
    let status = match &environment.presence {
        None => EnvironmentStatus::Never,
        Some(presence) if presence.online(now_ms, ONLINE_STALE_MS) => EnvironmentStatus::Online,
        Some(_) => EnvironmentStatus::Offline,
    };
    EnvironmentView {
        id: environment.id.clone(),
        name: environment.name.to_string(),
        description: environment.description.clone(),
        status,
        created_at_ms: environment.created_at_ms,
        host: environment
            .presence
            .as_ref()
            .map(|presence| EnvironmentHostView {
                last_seen_ms: presence.last_seen_ms,
                os: presence.os.clone(),
                arch: presence.arch.clone(),
                hostname: presence.hostname.clone(),
                dir: presence.dir.clone(),
                sandbox: presence.sandbox.clone(),
                network: presence.network,
                daemon_version: presence.daemon_version.clone(),
            }),
    }
}

fn attachment_view(
    attachment: &Attachment,
    environment: &Environment,
    tools: Vec<String>,
    now_ms: u64,
) -> SessionEnvironmentView {
    SessionEnvironmentView {
        name: attachment.name.to_string(),
        path: attachment.name.root(),
        environment: environment_view(environment, now_ms),
        attached_at_ms: attachment.attached_at_ms,
        tools,
    }
}
