//! `lightspeed chat` without a message: the interactive TUI.
//!
//! [`App`] holds all state and decides; this module only wires it to the world:
//! terminal events and session notifications go in, [`UiAction`]s come out and are
//! carried out here (calls on their own tasks, their answers fed back in).

mod app;
mod approvals;
mod input;
mod keys;
mod markdown;
mod render;
mod transcript;

use std::io::Stdout;

use crossterm::event::{DisableBracketedPaste, EnableBracketedPaste, Event, EventStream};
use futures::StreamExt as _;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use tokio::sync::mpsc;

use app::START_RUN;
pub use app::{App, Call, RunState, SessionInfo, UiAction, UiActionResult};
pub use render::draw;
pub use transcript::{Entry, Streaming, ToolCall, Transcript};

use crate::chat::{self, ChatSettings, Mounted};
use crate::client::{Client, Follow, FollowLimits, Transport};
use crate::error::{CliError, Outcome};
use api::types::models::ModelsListParams;
use api::types::session::SessionListParams;

/// Sessions `/sessions` lists.
const SESSIONS_LISTED_MAX: u32 = 20;
/// Notifications handled before the screen is drawn again, so a burst (a long
/// session replayed on resume) is drawn once rather than once per event.
const UPDATES_PER_DRAW_MAX: usize = 256;
/// Call answers waiting to be handled.
const RESULTS_BUFFERED_MAX: usize = 64;

/// Runs the TUI until the user quits.
pub async fn run(client: &Client, settings: &ChatSettings) -> Result<Outcome, CliError> {
    client.initialize().await?;
    let opened = chat::open(client, settings).await?;
    let effort = settings.effort.filter(|_| settings.session_id.is_none());
    let mut app = App::new(&opened.session, effort, opened.overrides);
    // For the context meter; a server without `models/list` just shows no window.
    if let Ok(models) = client.call("models/list", &ModelsListParams {}).await {
        app.set_models(models);
    }
    if let Some(mounted) = &opened.mounted {
        app.notice(mounted.describe());
    }
    let mut terminal = TerminalGuard::enter()?;
    let context = Context {
        client,
        settings,
        mounted: opened.mounted.as_ref(),
    };
    let result = event_loop(&context, &mut app, &mut terminal.terminal).await;
    drop(terminal);
    println!(
        "session {} (resume with: lightspeed chat --session {})",
        app.session_id(),
        app.session_id()
    );
    result.map(|()| Outcome::Success)
}

fn follow(client: &Client, session_id: &str, cursor: u64) -> Follow {
    client.follow(
        session_id,
        cursor,
        Transport::WebSocket,
        FollowLimits::default(),
    )
}

/// What carrying out calls needs.
#[derive(Clone, Copy)]
struct Context<'a> {
    client: &'a Client,
    settings: &'a ChatSettings,
    /// Mounted again into sessions `/new` starts.
    mounted: Option<&'a Mounted>,
}

async fn event_loop(
    context: &Context<'_>,
    app: &mut App,
    terminal: &mut Terminal<CrosstermBackend<Stdout>>,
) -> Result<(), CliError> {
    let client = context.client;
    // From the start, so a resumed session shows its transcript.
    let mut session_follow = follow(client, app.session_id(), 0);
    let mut following = true;
    let (results, mut answers) = mpsc::channel(RESULTS_BUFFERED_MAX);
    let mut terminal_events = EventStream::new();
    loop {
        terminal
            .draw(|frame| draw(frame, app))
            .map_err(CliError::Terminal)?;
        let action = tokio::select! {
            event = terminal_events.next() => match event {
                Some(Ok(Event::Key(key))) => app.on_key(key),
                Some(Ok(Event::Paste(text))) => {
                    app.on_paste(&text);
                    None
                }
                // Resizes and the rest: the next draw fits the new size.
                Some(Ok(_)) => None,
                Some(Err(err)) => return Err(CliError::Terminal(err)),
                None => return Ok(()),
            },
            update = session_follow.next(), if following => {
                match update {
                    Some(update) => {
                        app.on_follow(update);
                        for _ in 0..UPDATES_PER_DRAW_MAX {
                            match session_follow.try_next() {
                                Some(update) => app.on_follow(update),
                                None => break,
                            }
                        }
                    }
                    None => following = false,
                }
                None
            },
            Some(answer) = answers.recv() => app.on_result(answer),
        };
        match action {
            None => {}
            Some(UiAction::Quit) => return Ok(()),
            Some(UiAction::Redraw) => terminal.clear().map_err(CliError::Terminal)?,
            Some(UiAction::Follow { session_id, cursor }) => {
                session_follow = follow(client, &session_id, cursor);
                following = true;
            }
            Some(UiAction::Call(call)) => {
                let client = client.clone();
                let settings = context.settings.clone();
                let mounted = context.mounted.cloned();
                let results = results.clone();
                tokio::spawn(async move {
                    let answer = execute(&client, &settings, mounted.as_ref(), call).await;
                    // The loop only stops when the user quits: the answer is moot.
                    let _ = results.send(answer).await;
                });
            }
        }
        if app.should_quit() {
            return Ok(());
        }
    }
}

/// Makes `call` and returns its answer.
pub async fn execute(
    client: &Client,
    settings: &ChatSettings,
    mounted: Option<&Mounted>,
    call: Call,
) -> UiActionResult {
    let failed = |what: &'static str| {
        move |err: crate::client::ClientError| UiActionResult::Failed {
            what,
            error: err.to_string(),
        }
    };
    let answer = match call {
        Call::StartRun {
            session_id,
            text,
            overrides,
        } => client
            .run_start(&chat::run_params(&session_id, text, overrides))
            .await
            .map(UiActionResult::RunStarted)
            .map_err(failed(START_RUN)),
        Call::Steer(params) => client
            .run_steer(&params)
            .await
            .map(UiActionResult::Steered)
            .map_err(failed("steering")),
        Call::Cancel(params) => client
            .run_cancel(&params)
            .await
            .map(UiActionResult::CancelRequested)
            .map_err(failed("interrupting")),
        Call::NewSession { model, effort } => {
            chat::start_session(client, settings, model, effort, mounted)
                .await
                .map(|session| UiActionResult::SessionStarted(Box::new(session)))
                .map_err(failed("starting a session"))
        }
        Call::ListSessions => {
            let params = SessionListParams {
                cursor: None,
                limit: Some(SESSIONS_LISTED_MAX),
            };
            client
                .session_list(&params)
                .await
                .map(UiActionResult::SessionsListed)
                .map_err(failed("listing sessions"))
        }
        Call::ListModels => client
            .call("models/list", &ModelsListParams {})
            .await
            .map(UiActionResult::ModelsListed)
            .map_err(failed("listing models")),
        Call::ListMcp { session_id } => client
            .call(
                "session/mcp/list",
                &api::types::mcp::SessionMcpListParams { session_id },
            )
            .await
            .map(UiActionResult::McpListed)
            .map_err(failed("listing MCP servers")),
        Call::ListEnvironments { session_id } => client
            .call(
                "session/environments/list",
                &api::types::env::SessionEnvironmentListParams { session_id },
            )
            .await
            .map(UiActionResult::EnvironmentsListed)
            .map_err(failed("listing environments")),
        Call::AttachEnvironment {
            session_id,
            environment,
        } => client
            .call(
                "session/environments/attach",
                &api::types::env::SessionEnvironmentAttachParams {
                    session_id,
                    environment,
                    name: None,
                },
            )
            .await
            .map(UiActionResult::EnvironmentAttached)
            .map_err(failed("attaching the environment")),
        Call::ListSkills { session_id } => client
            .call(
                "session/skills/list",
                &api::types::session::SessionRef { session_id },
            )
            .await
            .map(UiActionResult::SkillsListed)
            .map_err(failed("listing skills")),
        Call::SetSkill {
            session_id,
            name,
            active,
        } => {
            let method = if active {
                "session/skills/activate"
            } else {
                "session/skills/deactivate"
            };
            client
                .call(
                    method,
                    &api::types::context::SessionSkillParams { session_id, name },
                )
                .await
                .map(UiActionResult::SkillSet)
                .map_err(failed("changing the skill"))
        }
        Call::Fork { session_id, cursor } => {
            let params = api::types::session::SessionForkParams {
                session_id,
                cursor,
                fork_session_id: None,
            };
            client
                .session_fork(&params)
                .await
                .map(|fork| UiActionResult::Forked(Box::new(fork)))
                .map_err(failed("forking the session"))
        }
        Call::Compact {
            session_id,
            instruction,
        } => client
            .call(
                "session/compact",
                &api::types::context::SessionCompactParams {
                    session_id,
                    instruction,
                },
            )
            .await
            .map(UiActionResult::CompactionRequested)
            .map_err(failed("requesting a compaction")),
        Call::Approve(params) => client
            .call("run/approve", &params)
            .await
            .map(|accepted| UiActionResult::Decided(accepted, true))
            .map_err(failed("approving the call")),
        Call::Deny(params) => client
            .call("run/deny", &params)
            .await
            .map(|accepted| UiActionResult::Decided(accepted, false))
            .map_err(failed("denying the call")),
        Call::UpdateSession(params) => client
            .session_update(&params)
            .await
            .map(|session| UiActionResult::SessionUpdated {
                session: Box::new(session),
                patch: params.patch,
            })
            .map_err(failed("updating the session")),
    };
    answer.unwrap_or_else(|failed| failed)
}

/// The terminal in raw mode on the alternate screen; restored when dropped, and on
/// panic (ratatui's hook).
struct TerminalGuard {
    terminal: Terminal<CrosstermBackend<Stdout>>,
}

impl TerminalGuard {
    fn enter() -> Result<Self, CliError> {
        let terminal = ratatui::try_init().map_err(CliError::Terminal)?;
        if let Err(err) = crossterm::execute!(std::io::stdout(), EnableBracketedPaste) {
            ratatui::restore();
            return Err(CliError::Terminal(err));
        }
        Ok(Self { terminal })
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        // Best effort: the terminal is being handed back either way.
        let _ = crossterm::execute!(std::io::stdout(), DisableBracketedPaste);
        ratatui::restore();
    }
}
