//! Sub-agents: the API service as every host's [`AgentFleet`]. A child is a session
//! of the parent's universe, started through the same method bodies as
//! `session/start` and `run/start` (so the same quotas and checks apply), with a
//! parent link in its first event; a child's run ends reach the parent through
//! [`AgentFleet::notify_parent`] (`CoreCommand::ChildRunFinished`, idempotent).
//!
//! Limits before work ([`AgentLimits`]): depth below the root, children per
//! session, and sub-agents with runs in flight per universe (a count the store keeps,
//! `UniverseUsage::children_in_flight`), each refused with its stable code.
//! docs/spec/sub-agents.md has the whole story.

use api::ApiError;
use api::types::run::{InputItem, RunStartParams, RunSteerParams};
use effects::agent_tools::{
    AgentFleet, Caller, ChildReport, FleetError, FleetFuture, Sent, SpawnRequest, bounded_answer,
    refused,
};
use engine::core::command::{CoreCommand, RejectionCode};
use engine::core::context::ItemSpec;
use engine::core::control::{ControlState, Lifecycle};
use engine::core::lineage::{ChildStarted, ParentLink};
use engine::core::run::RunOutcome;
use engine::drive::ParentNoticeIntent;
use engine::store::SessionLog;
use engine::{RunId, SessionId};
use session_stores::UniverseUsage;

use crate::host::{AdmitFailure, SessionHost, SessionKey};
use crate::service::Service;

/// What sub-agents may do in one deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgentLimits {
    /// How deep below its root a sub-agent may be (a root's child is 1). A session
    /// at the deepest level gets no sub-agent tools. Default 3.
    pub depth_max: u32,
    /// Sub-agents one session may spawn over its life. Default 16; at most
    /// `engine::core::lineage::CHILDREN_MAX`.
    pub children_per_session_max: u32,
    /// Sub-agents with runs in flight in one universe: spawns and messages that
    /// would start another are refused beyond it. Default 64.
    pub children_in_flight_per_universe_max: u64,
}

impl Default for AgentLimits {
    fn default() -> Self {
        Self {
            depth_max: 3,
            children_per_session_max: 16,
            children_in_flight_per_universe_max: 64,
        }
    }
}

/// A child spawned without `budget_usd` by a session with a cost budget gets this
/// share of what the session has left (1/4): a parent can spawn several before its
/// budget is all given away, and keeps some for itself.
pub const CHILD_BUDGET_SHARE_DIVISOR: u64 = 4;

/// The child's budget: carved out of the parent's (what it has not spent or given
/// away), or as asked when the parent has none.
fn child_budget(parent: &ControlState, asked_usd: Option<f64>) -> Result<Option<u64>, FleetError> {
    let asked = match asked_usd {
        None => None,
        Some(usd) if (0.0..=1_000_000.0).contains(&usd) => {
            Some((usd * engine::core::limits::NANOS_PER_USD as f64).round() as u64)
        }
        Some(_) => {
            return Err(refused(
                "invalidArguments",
                "budget_usd: a number of USD from 0 to 1000000".into(),
            ));
        }
    };
    let Some(total) = parent
        .config
        .as_ref()
        .and_then(|config| config.budget.cost_nanos_max)
    else {
        return Ok(asked);
    };
    let left = total.saturating_sub(parent.tree_cost_nanos());
    if left == 0 {
        return Err(refused(
            "budgetExhausted",
            "this session's cost budget is spent or given away; no sub-agent can be funded".into(),
        ));
    }
    match asked {
        Some(nanos) if nanos > left => Err(refused(
            "agentBudgetExceeded",
            format!(
                "budget_usd is more than this session has left ({:.6} USD)",
                left as f64 / engine::core::limits::NANOS_PER_USD as f64
            ),
        )),
        Some(nanos) => Ok(Some(nanos)),
        None => Ok(Some((left / CHILD_BUDGET_SHARE_DIVISOR).max(1))),
    }
}

/// Log entries `agent_read` looks back through for a child's answer, at most.
const ANSWER_LOOKBACK_ENTRIES: u64 = 512;

/// A child's id: derived from the parent and the spawning call, so a retried spawn
/// finds the child it made.
fn child_session_id(
    parent: &SessionId,
    call_id: &engine::ToolCallId,
) -> Result<SessionId, FleetError> {
    let digest = engine::BlobRef::of_bytes(format!("{parent}\n{call_id}").as_bytes()).to_string();
    let hex = digest.trim_start_matches("sha256:");
    SessionId::new(format!("agent-{}", &hex[..24]))
        .map_err(|err| FleetError::Fault(err.to_string()))
}

/// A service error as the fleet reports it: a client-side refusal is the model's
/// to read (its reason as the code), anything else a fault the host retries.
fn fleet_error(err: ApiError) -> FleetError {
    match err.data.kind {
        api::ErrorKind::Internal | api::ErrorKind::Overloaded => FleetError::Fault(err.message),
        _ => FleetError::Refused {
            code: err.data.reason.clone().unwrap_or_else(|| "refused".into()),
            message: err.message,
        },
    }
}

fn fault(what: &str) -> impl FnOnce(engine::store::StoreError) -> FleetError + '_ {
    move |err| FleetError::Fault(format!("{what}: {err}"))
}

/// The last finished run's outcome, as a report names it.
fn outcome_name(outcome: &RunOutcome) -> (&'static str, Option<String>) {
    match outcome {
        RunOutcome::Completed => ("completed", None),
        RunOutcome::Failed { failure } => (
            "failed",
            Some(serde_json::to_string(failure).unwrap_or_default()),
        ),
        RunOutcome::Cancelled { reason } => ("cancelled", reason.clone()),
    }
}

impl<H: SessionHost> Service<H> {
    /// The caller's committed control state, which must be open.
    async fn parent_control(&self, caller: &Caller<'_>) -> Result<ControlState, FleetError> {
        let control = self
            .control(caller.universe_id, caller.session_id)
            .await
            .map_err(fleet_error)?;
        if control.lifecycle != Lifecycle::Open {
            return Err(refused("sessionClosed", "this session is not open".into()));
        }
        Ok(control)
    }

    /// Child `raw` of the caller, which must be one.
    fn own_child(&self, parent: &ControlState, raw: &str) -> Result<SessionId, FleetError> {
        SessionId::new(raw)
            .ok()
            .filter(|id| parent.child(id).is_some())
            .ok_or_else(|| {
                refused(
                    "unknownAgent",
                    format!("no sub-agent {raw:?} of this session"),
                )
            })
    }

    async fn check_children_in_flight(&self, universe_id: &str) -> Result<(), FleetError> {
        let store = self.store(universe_id).await.map_err(fleet_error)?;
        let held = store
            .children_in_flight()
            .await
            .map_err(fault("counting sub-agents in flight"))?;
        let max = self.quotas.agents.children_in_flight_per_universe_max;
        if held >= max {
            return Err(refused(
                "agentsInFlightExceeded",
                format!(
                    "the universe has {held} sub-agents running, its limit is {max}; wait for some to finish"
                ),
            ));
        }
        Ok(())
    }

    async fn spawn_child(
        &self,
        caller: Caller<'_>,
        request: SpawnRequest,
    ) -> Result<ChildStarted, FleetError> {
        let universe_id = caller.universe_id;
        let parent = self.parent_control(&caller).await?;
        let child = child_session_id(caller.session_id, caller.call_id)?;
        let submission = format!("spawn-{}", caller.call_id);
        let existing = self
            .control(universe_id, &child)
            .await
            .map_err(fleet_error)?;
        let budget_nanos;
        if existing.lifecycle == Lifecycle::Uninitialized {
            let depth = parent.parent.as_ref().map_or(0, |link| link.depth) + 1;
            let limits = self.quotas.agents;
            if depth > limits.depth_max {
                return Err(refused(
                    "agentDepthExceeded",
                    format!("sub-agents may be at most {} levels deep", limits.depth_max),
                ));
            }
            if parent.children.len() >= limits.children_per_session_max as usize {
                return Err(refused(
                    "tooManyAgents",
                    format!(
                        "this session has spawned {} sub-agents, its limit",
                        parent.children.len()
                    ),
                ));
            }
            budget_nanos = child_budget(&parent, request.budget_usd)?;
            self.check_children_in_flight(universe_id).await?;
            self.check_session_quota(universe_id)
                .await
                .map_err(fleet_error)?;
            let link = ParentLink {
                session_id: caller.session_id.clone(),
                depth,
            };
            self.open_child(&caller, &parent, &child, (link, budget_nanos), &request)
                .await?;
        } else if existing.parent.as_ref().map(|link| &link.session_id) != Some(caller.session_id) {
            return Err(FleetError::Fault(format!(
                "session {child} exists and is not this call's sub-agent"
            )));
        } else {
            // A retried spawn: the budget the first attempt gave.
            budget_nanos = existing
                .config
                .as_ref()
                .and_then(|config| config.budget.cost_nanos_max);
        }
        let run = self
            .start_run(
                universe_id,
                RunStartParams {
                    session_id: child.to_string(),
                    submission_id: submission,
                    input: vec![InputItem::Text {
                        text: request.prompt,
                    }],
                    overrides: None,
                },
            )
            .await
            .map_err(fleet_error)?;
        let run_id = RunId::new(run.run_id).map_err(|err| FleetError::Fault(err.to_string()))?;
        Ok(ChildStarted {
            session_id: child,
            run_id,
            budget_nanos,
        })
    }

    /// Opens child `child` of the caller: the parent's config (with the requested
    /// model), instructions and tools (the requested subset), or a fork of the
    /// parent; then its workspaces, environments and MCP links when shared.
    async fn open_child(
        &self,
        caller: &Caller<'_>,
        parent: &ControlState,
        child: &SessionId,
        (link, budget_nanos): (ParentLink, Option<u64>),
        request: &SpawnRequest,
    ) -> Result<(), FleetError> {
        let universe_id = caller.universe_id;
        let store = self.store(universe_id).await.map_err(fleet_error)?;
        let Some(mut config) = parent.config.clone() else {
            return Err(FleetError::Fault("the parent session has no config".into()));
        };
        // The child's own budget, never the parent's whole one.
        config.budget.cost_nanos_max = budget_nanos;
        if let Some(model) = &request.model {
            if model.is_empty() || model.len() > engine::core::limits::TEXT_FIELD_BYTES_MAX {
                return Err(refused(
                    "invalidArguments",
                    "model: an id of 1 to 1024 bytes".into(),
                ));
            }
            config.model.model = model.clone();
            if let Some(cap) = self
                .models
                .model(&config.model.provider_id, model)
                .and_then(|entry| entry.output_tokens_max)
            {
                config.generation.output_tokens_max = config.generation.output_tokens_max.min(cap);
            }
        }
        let instructions = match &request.instructions {
            Some(text) => Some(
                api_projection::items::instructions_item(
                    &*store,
                    &self.content_gate(&*store),
                    api_projection::inputs::TextOrRef::Text(text.clone()),
                )
                .await
                .map_err(fleet_error)?,
            ),
            None => parent
                .context
                .keyed
                .get(engine::core::admit::INSTRUCTIONS_KEY)
                .map(|item| {
                    ItemSpec::new(item.kind, item.content_ref.clone(), item.token_estimate)
                }),
        };
        // Marked first: the child's first run request is then counted at once.
        store
            .mark_child(child, caller.session_id)
            .await
            .map_err(fault("marking a sub-agent"))?;
        if request.fork {
            let now = crate::mcp::now_ms();
            engine::fork::fork_session(
                &*store,
                caller.session_id,
                None,
                child,
                now,
                Some(link.clone()),
            )
            .await
            .map_err(|err| FleetError::Fault(format!("forking: {err}")))?;
        } else {
            let open = CoreCommand::OpenSession {
                session_id: child.clone(),
                config,
                instructions,
                parent: Some(link.clone()),
            };
            self.admit_child(universe_id, child, open).await?;
        }
        let deepest = link.depth >= self.quotas.agents.depth_max;
        let tools: Vec<_> = parent
            .tools
            .iter()
            .filter(|tool| match &request.tools {
                None => true,
                Some(patterns) => patterns
                    .iter()
                    .any(|pattern| engine::core::policy::pattern_matches(pattern, &tool.name)),
            })
            // The deepest sub-agents spawn nothing.
            .filter(|tool| {
                !(deepest && effects::agent_tools::AgentTool::from_name(&tool.name).is_some())
            })
            .cloned()
            .collect();
        let revision = self
            .control(universe_id, child)
            .await
            .map_err(fleet_error)?
            .tools_revision;
        let replace = CoreCommand::ReplaceTools {
            expected_revision: revision,
            tools,
        };
        self.admit_child(universe_id, child, replace).await?;
        if request.share_workspace {
            self.share_workspace(&*store, caller.session_id, child)
                .await?;
        }
        Ok(())
    }

    async fn admit_child(
        &self,
        universe_id: &str,
        child: &SessionId,
        command: CoreCommand,
    ) -> Result<(), FleetError> {
        match self.admit(universe_id, child, command).await {
            Ok(_) => Ok(()),
            // A retried spawn whose first attempt got this far.
            Err(err)
                if matches!(
                    err.data.reason.as_deref(),
                    Some("alreadyOpen" | "revisionConflict")
                ) =>
            {
                Ok(())
            }
            Err(err) => Err(fleet_error(err)),
        }
    }

    /// The child mounts what the parent mounts, attaches what it attaches and
    /// links the MCP servers it links.
    async fn share_workspace(
        &self,
        store: &crate::service::Store<H>,
        parent: &SessionId,
        child: &SessionId,
    ) -> Result<(), FleetError> {
        use env_registry::EnvCatalog;
        use mcp_registry::McpCatalog;
        api_projection::vfs::share_mounts(store, parent, child)
            .await
            .map_err(fleet_error)?;
        let attachments = store
            .attachment_list(parent)
            .await
            .map_err(|err| FleetError::Fault(format!("listing environments: {err}")))?;
        for attachment in &attachments {
            store
                .attachment_put(child, attachment, env_registry::ATTACHMENTS_MAX)
                .await
                .map_err(|err| FleetError::Fault(format!("sharing an environment: {err}")))?;
        }
        let links = store
            .mcp_link_list(parent)
            .await
            .map_err(|err| FleetError::Fault(format!("listing MCP links: {err}")))?;
        for link in &links {
            store
                .mcp_link_put(child, link, mcp_registry::link::LINKS_PER_SESSION_MAX)
                .await
                .map_err(|err| FleetError::Fault(format!("sharing an MCP link: {err}")))?;
        }
        Ok(())
    }

    async fn send_child(
        &self,
        caller: Caller<'_>,
        raw: &str,
        message: String,
        steer: bool,
    ) -> Result<Sent, FleetError> {
        let parent = self.parent_control(&caller).await?;
        let child = self.own_child(&parent, raw)?;
        let universe_id = caller.universe_id;
        let control = self
            .control(universe_id, &child)
            .await
            .map_err(fleet_error)?;
        if steer && let Some(run) = &control.runs.active {
            let params = RunSteerParams {
                session_id: child.to_string(),
                run_id: run.run_id.to_string(),
                input: vec![InputItem::Text { text: message }],
            };
            self.steer_run(universe_id, params)
                .await
                .map_err(fleet_error)?;
            return Ok(Sent::Steered(run.run_id.clone()));
        }
        if control.runs.is_idle() {
            self.check_children_in_flight(universe_id).await?;
        }
        let params = RunStartParams {
            session_id: child.to_string(),
            submission_id: format!("send-{}", caller.call_id),
            input: vec![InputItem::Text { text: message }],
            overrides: None,
        };
        let run = self
            .start_run(universe_id, params)
            .await
            .map_err(fleet_error)?;
        let run_id = RunId::new(run.run_id).map_err(|err| FleetError::Fault(err.to_string()))?;
        Ok(Sent::Run(run_id))
    }

    async fn report_children(
        &self,
        caller: Caller<'_>,
        only: &[String],
        answers: bool,
    ) -> Result<Vec<ChildReport>, FleetError> {
        let parent = self.parent_control(&caller).await?;
        let children: Vec<SessionId> = if only.is_empty() {
            parent
                .children
                .iter()
                .map(|child| child.session_id.clone())
                .collect()
        } else {
            only.iter()
                .map(|raw| self.own_child(&parent, raw))
                .collect::<Result<_, _>>()?
        };
        let mut reports = Vec::with_capacity(children.len());
        for child in children {
            reports.push(self.report(caller.universe_id, &child, answers).await?);
        }
        Ok(reports)
    }

    async fn report(
        &self,
        universe_id: &str,
        child: &SessionId,
        answers: bool,
    ) -> Result<ChildReport, FleetError> {
        let control = self
            .control(universe_id, child)
            .await
            .map_err(fleet_error)?;
        let runs = &control.runs;
        let state = if control.lifecycle == Lifecycle::Closed {
            "closed"
        } else if runs.is_idle() {
            "idle"
        } else {
            "running"
        };
        let last = runs.last_finished.as_ref();
        let (last_status, failure) = match last {
            Some(finished) => {
                let (status, failure) = outcome_name(&finished.outcome);
                (Some(status.to_owned()), failure)
            }
            None => (None, None),
        };
        let answer = match (answers, last) {
            (true, Some(finished)) => {
                self.answer_of(universe_id, child, &control, &finished.run_id)
                    .await?
            }
            _ => None,
        };
        Ok(ChildReport {
            agent_id: child.to_string(),
            state: state.to_owned(),
            latest_run_id: (runs.requested_total > 0)
                .then(|| RunId::from_ordinal(runs.requested_total).to_string()),
            last_run_id: last.map(|finished| finished.run_id.to_string()),
            last_status,
            failure,
            answer: answer.map(bounded_answer),
        })
    }

    /// The text of the last assistant message run `run_id` wrote, looked for in the
    /// newest entries of the child's log.
    async fn answer_of(
        &self,
        universe_id: &str,
        child: &SessionId,
        control: &ControlState,
        run_id: &RunId,
    ) -> Result<Option<String>, FleetError> {
        let store = self.store(universe_id).await.map_err(fleet_error)?;
        let head = control.head;
        let from = head.saturating_sub(ANSWER_LOOKBACK_ENTRIES).max(1);
        let entries = store
            .read(child, from, ANSWER_LOOKBACK_ENTRIES as usize + 1)
            .await
            .map_err(fault("reading a sub-agent's log"))?;
        for entry in entries.iter().rev() {
            if entry.event.kind != engine::core::event::TurnCompleted::KIND
                || entry.joins.run_id.as_ref() != Some(run_id)
            {
                continue;
            }
            let view = api_projection::views::event_view(entry, &*store)
                .await
                .map_err(|err| FleetError::Fault(format!("reading an answer: {err}")))?;
            let text = view.items.iter().rev().find_map(|item| match item {
                api::types::items::ItemView::AssistantMessage { text, .. } => Some(text.clone()),
                _ => None,
            });
            if text.is_some() {
                return Ok(text);
            }
        }
        Ok(None)
    }

    async fn cancel_child(&self, caller: Caller<'_>, raw: &str) -> Result<Vec<RunId>, FleetError> {
        let parent = self.parent_control(&caller).await?;
        let child = self.own_child(&parent, raw)?;
        let control = self
            .control(caller.universe_id, &child)
            .await
            .map_err(fleet_error)?;
        let runs: Vec<RunId> = control
            .runs
            .active
            .iter()
            .map(|run| run.run_id.clone())
            .chain(control.runs.queue.iter().map(|run| run.run_id.clone()))
            .collect();
        for run_id in &runs {
            let command = CoreCommand::CancelRun {
                run_id: run_id.clone(),
                reason: Some("cancelled by its parent agent".into()),
            };
            match self.admit(caller.universe_id, &child, command).await {
                Ok(_) => {}
                // Ended or cancelling already: what was asked holds.
                Err(err)
                    if matches!(
                        err.data.reason.as_deref(),
                        Some("alreadyCancelling" | "unknownRun" | "runNotActive")
                    ) => {}
                Err(err) => return Err(fleet_error(err)),
            }
        }
        Ok(runs)
    }

    async fn deliver_to_parent(
        &self,
        universe_id: &str,
        intent: &ParentNoticeIntent,
    ) -> Result<bool, FleetError> {
        let key = SessionKey::new(universe_id, &intent.parent);
        let command = CoreCommand::ChildRunFinished {
            child: intent.session_id.clone(),
            run_id: intent.run_id.clone(),
            status: intent.status,
        };
        match self.host.admit(&key, command).await {
            Ok(_) => Ok(true),
            Err(AdmitFailure::Rejected(rejection)) => Ok(delivered(rejection.code())),
            Err(AdmitFailure::Refused(refused)) => Ok(delivered(refused.code)),
            Err(AdmitFailure::Lost | AdmitFailure::Busy(_)) => Err(FleetError::Fault(
                "the parent session is busy; retry".into(),
            )),
            Err(AdmitFailure::Unavailable(detail)) => Err(FleetError::Fault(detail)),
        }
    }
}

/// Whether a parent's refusal of a run end means it has it (`alreadyRecorded`) or
/// never will (closed, gone, no longer linked): either way, nothing to retry.
fn delivered(code: RejectionCode) -> bool {
    code == RejectionCode::AlreadyRecorded
}

impl<H: SessionHost> AgentFleet for Service<H> {
    fn spawn<'a>(
        &'a self,
        caller: Caller<'a>,
        request: SpawnRequest,
    ) -> FleetFuture<'a, ChildStarted> {
        Box::pin(self.spawn_child(caller, request))
    }

    fn send<'a>(
        &'a self,
        caller: Caller<'a>,
        child: &'a str,
        message: String,
        steer: bool,
    ) -> FleetFuture<'a, Sent> {
        Box::pin(self.send_child(caller, child, message, steer))
    }

    fn children<'a>(
        &'a self,
        caller: Caller<'a>,
        only: &'a [String],
        answers: bool,
    ) -> FleetFuture<'a, Vec<ChildReport>> {
        Box::pin(self.report_children(caller, only, answers))
    }

    fn cancel<'a>(&'a self, caller: Caller<'a>, child: &'a str) -> FleetFuture<'a, Vec<RunId>> {
        Box::pin(self.cancel_child(caller, child))
    }

    fn notify_parent<'a>(
        &'a self,
        universe_id: &'a str,
        intent: &'a ParentNoticeIntent,
    ) -> FleetFuture<'a, bool> {
        Box::pin(self.deliver_to_parent(universe_id, intent))
    }
}
