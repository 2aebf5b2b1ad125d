//! The TUI's state machine: key events, session notifications and call results in;
//! state to draw and [`UiAction`]s (calls for the runtime to make) out. No I/O, no
//! clock, no randomness: every screen can be reached from a test.

use std::cell::Cell;

use api::types::events::{EventView, SessionNotification};
use api::types::models::ModelsListResult;
use api::types::run::{
    RunAccepted, RunCancelParams, RunOverridesInput, RunStartResult, RunStatus, RunSteerParams,
    RunView,
};
use api::types::session::{
    ModelRouteInput, ReasoningEffort, SessionListResult, SessionPatch, SessionUpdateParams,
    SessionView, UsageView,
};

use super::input::Composer;
use super::transcript::{Entry, Transcript};
use crate::chat::effort_name;
use crate::client::{Connection, FollowUpdate, Transport, kinds};

/// A call for the runtime to make; its answer comes back as an [`UiActionResult`].
#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    StartRun {
        session_id: String,
        text: String,
        overrides: Option<RunOverridesInput>,
    },
    Steer(RunSteerParams),
    Cancel(RunCancelParams),
    NewSession {
        model: ModelRouteInput,
        effort: Option<ReasoningEffort>,
    },
    ListSessions,
    /// The deployment's providers and models (`/models`).
    ListModels,
    /// The MCP servers linked to the session (`/mcp`).
    ListMcp {
        session_id: String,
    },
    /// The environments attached to the session (`/env`).
    ListEnvironments {
        session_id: String,
    },
    /// Attaches an environment to the session (`/env NAME`).
    AttachEnvironment {
        session_id: String,
        environment: String,
    },
    UpdateSession(Box<SessionUpdateParams>),
    /// `run/approve` (`y`, `a`, `/approve`).
    Approve(api::types::run::RunApproveParams),
    /// `run/deny` (`n`, `/deny`).
    Deny(api::types::run::RunDenyParams),
    /// The skills in the session's mounts (`/skills`).
    ListSkills {
        session_id: String,
    },
    /// Pins (`true`) or unpins a skill (`/skills on|off NAME`).
    SetSkill {
        session_id: String,
        name: String,
        active: bool,
    },
    /// Forks the session, at `cursor` or now (`/fork`).
    Fork {
        session_id: String,
        cursor: Option<u64>,
    },
    /// Compacts the context (`/compact`).
    Compact {
        session_id: String,
        instruction: Option<String>,
    },
}

/// What the TUI asks its runtime to do next. `Ui` keeps it apart from the engine's
/// drive `Action` (a glossary term).
#[derive(Debug, Clone, PartialEq)]
pub enum UiAction {
    Call(Call),
    /// Follow this session from this cursor (replacing the current follow).
    Follow {
        session_id: String,
        cursor: u64,
    },
    /// Repaint the whole screen.
    Redraw,
    Quit,
}

/// The answer to a [`Call`].
#[derive(Debug, Clone, PartialEq)]
pub enum UiActionResult {
    RunStarted(RunStartResult),
    Steered(RunAccepted),
    CancelRequested(RunAccepted),
    SessionStarted(Box<SessionView>),
    /// The fork `/fork` made: the TUI continues in it.
    Forked(Box<SessionView>),
    SessionsListed(SessionListResult),
    ModelsListed(ModelsListResult),
    McpListed(api::types::mcp::SessionMcpListResult),
    EnvironmentsListed(api::types::env::SessionEnvironmentListResult),
    EnvironmentAttached(api::types::env::SessionEnvironmentView),
    SkillsListed(api::types::context::SessionSkillsListResult),
    SkillSet(api::types::context::SkillView),
    CompactionRequested(api::types::context::SessionCompactResult),
    /// A decision on waiting calls was accepted (`true`: approved).
    Decided(RunAccepted, bool),
    SessionUpdated {
        session: Box<SessionView>,
        patch: SessionPatch,
    },
    Failed {
        what: &'static str,
        error: String,
    },
}

/// Where the session's runs are, as far as this client knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunState {
    Idle {
        last: Option<RunStatus>,
    },
    /// `run/start` sent, its run not seen yet.
    Starting,
    Active {
        run_id: String,
        status: RunStatus,
        turns: u32,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    pub session_id: String,
    pub model: ModelRouteInput,
    /// Known when this client set it; the session view does not carry it.
    pub effort: Option<ReasoningEffort>,
    pub revision: u64,
}

#[derive(Debug)]
pub struct App {
    pub(super) session: SessionInfo,
    pub(super) overrides: Option<RunOverridesInput>,
    pub(super) transcript: Transcript,
    pub(super) composer: Composer,
    pub(super) run: RunState,
    pub(super) queued: Vec<String>,
    /// Usage of the session's finished runs, and of the active run so far.
    pub(super) usage: UsageView,
    pub(super) run_usage: UsageView,
    /// `None` until the first connection.
    pub(super) connection: Option<Connection>,
    pub(super) tools_expanded: bool,
    /// Lines scrolled up from the bottom; 0 follows the newest output.
    pub(super) scroll_back: u16,
    /// Written by the renderer: how far one can scroll, and the page height.
    pub(super) scroll_max: Cell<u16>,
    pub(super) viewport_lines: Cell<u16>,
    pub(super) quit: bool,
    /// The server's providers and models (`models/list`), for the context meter's
    /// window; `None` until listed (or when the server cannot list them).
    pub(super) models: Option<ModelsListResult>,
    /// The session's context in tokens: the server's estimate when the session was
    /// opened, then what the provider measured for each turn.
    pub(super) context_tokens: u64,
    /// Calls waiting for this person's decision, oldest first.
    pub(super) approvals: Vec<super::approvals::PendingApproval>,
}

impl App {
    pub fn new(
        session: &SessionView,
        effort: Option<ReasoningEffort>,
        overrides: Option<RunOverridesInput>,
    ) -> Self {
        Self {
            session: SessionInfo {
                session_id: session.session_id.clone(),
                model: session.config.model.clone(),
                effort,
                revision: session.revision,
            },
            overrides,
            transcript: Transcript::default(),
            composer: Composer::default(),
            run: RunState::Idle { last: None },
            queued: Vec::new(),
            usage: no_usage(),
            run_usage: no_usage(),
            connection: None,
            tools_expanded: false,
            scroll_back: 0,
            scroll_max: Cell::new(0),
            viewport_lines: Cell::new(0),
            quit: false,
            models: None,
            context_tokens: session.context_tokens_estimate,
            approvals: Vec::new(),
        }
    }

    /// The providers and models the server lists.
    pub fn set_models(&mut self, models: ModelsListResult) {
        self.models = Some(models);
    }

    /// The context window of the session's model, when the server lists it.
    pub fn context_window(&self) -> Option<u64> {
        let route = &self.session.model;
        self.models
            .as_ref()?
            .providers
            .iter()
            .find(|provider| provider.provider_id == route.provider_id)?
            .models
            .iter()
            .find(|model| model.model == route.model)
            .map(|model| model.context_window_tokens)
    }

    /// The session's context in tokens, as far as this client knows.
    pub fn context_tokens(&self) -> u64 {
        self.context_tokens
    }

    pub fn session_id(&self) -> &str {
        &self.session.session_id
    }

    /// What the composer holds.
    pub fn composer_text(&self) -> &str {
        self.composer.text()
    }

    pub fn run_state(&self) -> &RunState {
        &self.run
    }

    pub fn transcript(&self) -> &Transcript {
        &self.transcript
    }

    /// Adds something the CLI says to the transcript.
    pub fn notice(&mut self, text: impl Into<String>) {
        self.transcript.notice(text);
    }

    pub fn should_quit(&self) -> bool {
        self.quit
    }

    /// The session's usage including the active run.
    pub fn usage_total(&self) -> UsageView {
        usage_sum(&self.usage, &self.run_usage)
    }

    // ---- notifications -------------------------------------------------------

    pub fn on_follow(&mut self, update: FollowUpdate) {
        let notification = match update {
            FollowUpdate::Notification(notification) => notification,
            FollowUpdate::Connection(connection) => return self.on_connection(connection),
        };
        match *notification {
            SessionNotification::Event { session_id, event } => {
                if session_id == self.session.session_id {
                    self.on_event(&event);
                }
            }
            SessionNotification::Delta { session_id, delta } => {
                if session_id == self.session.session_id {
                    self.transcript.apply_delta(&delta);
                }
            }
        }
    }

    fn on_event(&mut self, event: &EventView) {
        self.transcript.apply_event(event);
        self.on_hold(event);
        if let Some(tokens) = event.context_tokens {
            self.context_tokens = tokens;
        }
        if let Some(run) = &event.run {
            self.on_run(run, event.kind == kinds::RUN_FINISHED);
        }
    }

    fn on_run(&mut self, run: &RunView, finished: bool) {
        let run_id = &run.run_id;
        if !finished && run.status == RunStatus::Queued {
            if !self.queued.contains(run_id) {
                self.queued.push(run_id.clone());
            }
            return;
        }
        self.queued.retain(|queued| queued != run_id);
        if !finished {
            let turns = match &self.run {
                RunState::Active {
                    run_id: id, turns, ..
                } if id == run_id => (*turns).max(run.turns),
                _ => run.turns,
            };
            self.run = RunState::Active {
                run_id: run_id.clone(),
                status: run.status,
                turns,
            };
            self.run_usage = run.usage;
            return;
        }
        self.usage = usage_sum(&self.usage, &run.usage);
        self.run_usage = no_usage();
        self.forget_approvals(run_id);
        self.run = RunState::Idle {
            last: Some(run.status),
        };
        match (&run.status, &run.failure) {
            (RunStatus::Failed, Some(failure)) => {
                let shown = matches!(self.transcript.entries().last(), Some(Entry::Error { .. }));
                match shown {
                    true => self
                        .transcript
                        .error(format!("run failed ({})", failure.reason)),
                    false => self.transcript.error(format!(
                        "run failed ({}): {} ({})",
                        failure.reason, failure.message, failure.code
                    )),
                }
            }
            (RunStatus::Failed, None) => self.transcript.error("run failed"),
            (RunStatus::Cancelled, _) => self.transcript.notice("run cancelled"),
            _ => {}
        }
    }

    fn on_connection(&mut self, connection: Connection) {
        match (&self.connection, &connection) {
            (Some(Connection::Reconnecting { .. }), Connection::Live { .. }) => {
                self.transcript
                    .notice("reconnected; resumed from the last event");
            }
            (_, Connection::Reconnecting { attempt: 1, error }) => {
                self.transcript
                    .notice(format!("connection dropped ({error}); reconnecting…"));
            }
            (_, Connection::Lost { error }) => self.transcript.error(format!(
                "connection lost: {error}. Resume later with: lightspeed chat --session {}",
                self.session.session_id
            )),
            _ => {}
        }
        let polling = Connection::Live {
            transport: Transport::LongPoll,
        };
        if connection == polling && self.connection.as_ref() != Some(&polling) {
            self.transcript
                .notice("WebSocket unavailable: following by long poll, without live text");
        }
        self.connection = Some(connection);
    }

    // ---- call results --------------------------------------------------------

    pub fn on_result(&mut self, result: UiActionResult) -> Option<UiAction> {
        match result {
            UiActionResult::RunStarted(started) => {
                if let RunState::Active { run_id, .. } = &self.run
                    && *run_id != started.run_id
                {
                    self.transcript.notice(format!(
                        "queued as {}; it starts when {run_id} finishes",
                        started.run_id
                    ));
                }
            }
            UiActionResult::Steered(accepted) => self.transcript.notice(format!(
                "steer sent to {}; it applies at the run's next step",
                accepted.run_id
            )),
            UiActionResult::CancelRequested(accepted) => self.transcript.notice(format!(
                "interrupt sent to {}; it stops at its next step",
                accepted.run_id
            )),
            UiActionResult::SessionStarted(session) => {
                let effort = self.session.effort;
                let overrides = self.overrides.take();
                let models = self.models.take();
                *self = Self::new(&session, effort, overrides);
                self.models = models;
                self.transcript
                    .notice(format!("new session {}", session.session_id));
                return Some(UiAction::Follow {
                    session_id: session.session_id,
                    cursor: 0,
                });
            }
            UiActionResult::Forked(fork) => {
                let effort = self.session.effort;
                let overrides = self.overrides.take();
                let models = self.models.take();
                // The transcript shown is the fork's history (up to the fork's
                // cursor): keep it and follow the fork from its own first event.
                let transcript = std::mem::take(&mut self.transcript);
                *self = Self::new(&fork, effort, overrides);
                self.models = models;
                self.transcript = transcript;
                let from = fork.forked_from.as_ref();
                self.transcript.notice(format!(
                    "forked {} at event {} into {}; messages now go to the fork",
                    from.map_or("", |from| from.session_id.as_str()),
                    from.map_or(0, |from| from.cursor),
                    fork.session_id
                ));
                return Some(UiAction::Follow {
                    session_id: fork.session_id,
                    cursor: fork.event_cursor,
                });
            }
            UiActionResult::SessionsListed(list) => {
                let table = crate::sessions::session_table(&list.sessions);
                self.transcript.notice(format!(
                    "{}(resume one with: lightspeed chat --session ID)",
                    table
                ));
            }
            UiActionResult::ModelsListed(listed) => {
                self.transcript.notice(crate::models::models_text(&listed));
                self.set_models(listed);
            }
            UiActionResult::McpListed(listed) => {
                let text = crate::mcp::links_text(&listed.links);
                self.transcript.notice(format!(
                    "{text}(link one with: lightspeed mcp link {} SERVER)",
                    self.session.session_id
                ));
            }
            UiActionResult::EnvironmentsListed(listed) => {
                let text = crate::env::attached_text(&listed.environments);
                self.transcript
                    .notice(format!("{text}(attach one with: /env NAME)"));
            }
            UiActionResult::SkillsListed(listed) => {
                self.transcript.notice(skills_text(&listed.skills));
            }
            UiActionResult::SkillSet(skill) => {
                self.transcript
                    .notice(skills_text(std::slice::from_ref(&skill)));
            }
            UiActionResult::Decided(accepted, approved) => self.on_decided(&accepted, approved),
            UiActionResult::CompactionRequested(requested) => {
                self.transcript.notice(format!(
                    "compaction {} requested: it runs at the session's next step",
                    requested.compaction
                ));
            }
            UiActionResult::EnvironmentAttached(attached) => {
                self.transcript
                    .notice(crate::env::attached_text(std::slice::from_ref(&attached)));
            }
            UiActionResult::SessionUpdated { session, patch } => {
                self.session.model = session.config.model.clone();
                self.session.revision = session.revision;
                if let Some(overrides) = &mut self.overrides {
                    if patch.model.is_some() {
                        overrides.model = None;
                    }
                    if let Some(effort) = patch.generation.and_then(|g| g.reasoning_effort) {
                        overrides.reasoning_effort = None;
                        self.session.effort = Some(effort);
                    }
                } else if let Some(effort) = patch.generation.and_then(|g| g.reasoning_effort) {
                    self.session.effort = Some(effort);
                }
                self.transcript.notice(self.model_text());
            }
            UiActionResult::Failed { what, error } => {
                if what == START_RUN && self.run == RunState::Starting {
                    self.run = RunState::Idle { last: None };
                }
                self.transcript.error(format!("{what} failed: {error}"));
            }
        }
        None
    }

    pub(super) fn model_text(&self) -> String {
        let model = &self.session.model;
        let effort = self
            .session
            .effort
            .map_or("server default".into(), |e| effort_name(e).to_owned());
        format!(
            "model {} / {} / {} · reasoning effort {effort}",
            model.provider_id, model.api_kind, model.model
        )
    }
}

/// What a failed `run/start` is called in [`UiActionResult::Failed`].
pub(super) const START_RUN: &str = "sending the message";

/// Skills as `/skills` lists them.
fn skills_text(skills: &[api::types::context::SkillView]) -> String {
    if skills.is_empty() {
        return "no skills in this session's mounts (folders with a SKILL.md under \
                .agents/skills, .claude/skills or skills)"
            .into();
    }
    let mut text = String::new();
    for skill in skills {
        let pinned = if skill.active { " [pinned]" } else { "" };
        text.push_str(&format!(
            "{}{pinned}: {} ({})\n",
            skill.name, skill.description, skill.path
        ));
    }
    text.push_str("(pin one with: /skills on NAME)");
    text
}

/// Nothing used yet: no tokens, and a cost that is complete (there is none).
fn no_usage() -> UsageView {
    UsageView {
        cost_complete: true,
        ..UsageView::default()
    }
}

fn usage_sum(a: &UsageView, b: &UsageView) -> UsageView {
    UsageView {
        input_tokens: a.input_tokens + b.input_tokens,
        output_tokens: a.output_tokens + b.output_tokens,
        cached_input_tokens: a.cached_input_tokens + b.cached_input_tokens,
        reasoning_tokens: a.reasoning_tokens + b.reasoning_tokens,
        cost_usd: a.cost_usd + b.cost_usd,
        cost_complete: a.cost_complete && b.cost_complete,
    }
}
