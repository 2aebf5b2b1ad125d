//! Driving sessions as a client would: open a session, request runs (each a user message
//! that the fake provider answers with one text reply, so one run is one turn, unless
//! the message carries a tool marker, see [`crate::tools`]), and wait for runs to finish
//! through the workflow's `status` query.

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use engine::core::command::CoreCommand;
use engine::core::config::{
    CompactionMode, ContextPolicy, GenerationConfig, ModelRoute, SessionConfig,
};
use engine::core::context::{ItemKind, ItemSpec};
use engine::core::tools::ToolSpec;
use engine::store::{BlobStore, SessionLog};
use engine::{LogEntry, Seq, SessionId, SubmissionId};
use store_fs::FsStore;
use temporal_server::sessions::SessionClient;
use temporal_workflow::WorkflowSettings;
use temporalio_client::Client;

/// Every session of the bench lives in this universe.
pub(crate) const UNIVERSE: &str = "u-bench";
/// A run that takes longer than this is a hung bench, not a slow one.
const RUN_WAIT_MAX: Duration = Duration::from_secs(600);

pub(crate) struct SessionDriver {
    pub(crate) sessions: SessionClient,
    store: FsStore,
}

impl SessionDriver {
    /// Sessions on `task_queue` with the production workflow settings (the
    /// continue-as-new threshold in particular), user input written to the store under
    /// `store_root`, where the worker reads it.
    pub(crate) fn new(client: Client, task_queue: &str, store_root: &Path) -> anyhow::Result<Self> {
        Self::with_settings(client, task_queue, store_root, WorkflowSettings::default())
    }

    /// As [`Self::new`] with other workflow settings (the history shape before the
    /// budget, to measure against it).
    pub(crate) fn with_settings(
        client: Client,
        task_queue: &str,
        store_root: &Path,
        settings: WorkflowSettings,
    ) -> anyhow::Result<Self> {
        let store = FsStore::open(store_root.join("universes").join(UNIVERSE))
            .context("opening the session store")?;
        Ok(Self {
            sessions: SessionClient::new(client, task_queue, settings),
            store,
        })
    }

    async fn admit(&self, session: &SessionId, command: CoreCommand) -> anyhow::Result<()> {
        self.sessions
            .admit(UNIVERSE, session, command)
            .await
            .with_context(|| format!("admitting a command into {session}"))?;
        Ok(())
    }

    /// Opens `name` on the fake model. Compaction is manual so that no turn of a long
    /// session pays for one: every turn measures the same work.
    pub(crate) async fn open(&self, name: &str) -> anyhow::Result<SessionId> {
        let session_id = SessionId::new(name).context("session id")?;
        let config = SessionConfig {
            model: ModelRoute {
                provider_id: "openai".into(),
                api_kind: "openai:responses".into(),
                model: "fake-model".into(),
            },
            generation: GenerationConfig::default(),
            context: ContextPolicy {
                compaction: CompactionMode::Manual,
                ..ContextPolicy::default()
            },
            run_limits: Default::default(),
            tool_policy: Default::default(),
            budget: Default::default(),
        };
        let instructions = Some(
            self.text(ItemKind::Instructions, "You are a benchmark.")
                .await?,
        );
        self.admit(
            &session_id,
            CoreCommand::OpenSession {
                session_id: session_id.clone(),
                config,
                instructions,
                parent: Default::default(),
            },
        )
        .await?;
        Ok(session_id)
    }

    async fn text(&self, kind: ItemKind, text: &str) -> anyhow::Result<ItemSpec> {
        let blob = self
            .store
            .put(text.as_bytes().to_vec())
            .await
            .context("writing input to the store")?;
        let tokens = u64::try_from(text.len().div_ceil(4)).unwrap_or(u64::MAX);
        Ok(ItemSpec::new(kind, blob, tokens.max(1)))
    }

    /// Registers the tools the bench's scripts call ([`crate::tools::TOOL`]).
    pub(crate) async fn register_tools(&self, session: &SessionId) -> anyhow::Result<()> {
        let definition = self
            .store
            .put(crate::tools::definition())
            .await
            .context("writing the tool definition to the store")?;
        self.admit(
            session,
            CoreCommand::ReplaceTools {
                expected_revision: 0,
                tools: vec![ToolSpec {
                    name: crate::tools::TOOL.into(),
                    definition_ref: definition,
                    class: None,
                }],
            },
        )
        .await
    }

    /// Requests run `index` of `session` (one user message); returns once it is
    /// accepted and committed, usually before it ran.
    pub(crate) async fn request_run(&self, session: &SessionId, index: u64) -> anyhow::Result<()> {
        self.request_run_saying(session, index, "").await
    }

    /// [`Self::request_run`] with `marker` (a tool marker, or empty) in the message.
    pub(crate) async fn request_run_saying(
        &self,
        session: &SessionId,
        index: u64,
        marker: &str,
    ) -> anyhow::Result<()> {
        let input = vec![
            self.text(ItemKind::UserMessage, &format!("Question {index}?{marker}"))
                .await?,
        ];
        let submission_id = SubmissionId::new(format!("sub-{index}")).context("submission id")?;
        self.admit(
            session,
            CoreCommand::RequestRun {
                submission_id,
                input,
                overrides: Default::default(),
            },
        )
        .await
    }

    /// The committed entries of `session` from `from_seq` on, read from the store the
    /// worker writes (the workflow is not asked, so its worker spends nothing on it).
    pub(crate) async fn log_from(
        &self,
        session: &SessionId,
        from_seq: Seq,
    ) -> anyhow::Result<Vec<LogEntry>> {
        self.store
            .read(session, from_seq, usize::MAX)
            .await
            .with_context(|| format!("reading the log of {session}"))
    }

    /// Runs of `session` that finished so far.
    pub(crate) async fn finished_runs(&self, session: &SessionId) -> anyhow::Result<u64> {
        let status = self
            .sessions
            .status(UNIVERSE, session)
            .await
            .with_context(|| format!("querying the status of {session}"))?;
        Ok(status.finished_runs)
    }

    /// Waits, polling every `poll`, until `session` has finished `count` runs.
    pub(crate) async fn wait_finished(
        &self,
        session: &SessionId,
        count: u64,
        poll: Duration,
    ) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + RUN_WAIT_MAX;
        while self.finished_runs(session).await? < count {
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "{session} did not finish {count} runs within {RUN_WAIT_MAX:?}"
            );
            tokio::time::sleep(poll).await;
        }
        Ok(())
    }
}
