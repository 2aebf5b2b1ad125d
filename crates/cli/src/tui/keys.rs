//! Keys and slash commands: what the user does, turned into state changes and
//! [`UiAction`]s.

use api::types::run::{InputItem, RunCancelParams, RunSteerParams};
use api::types::session::{GenerationInput, ModelRouteInput, SessionPatch, SessionUpdateParams};
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::app::{App, Call, RunState, UiAction};
use super::input::{HELP, SlashCommand, parse_slash};

impl App {
    pub fn on_paste(&mut self, text: &str) {
        self.composer.insert(text);
    }

    pub fn on_key(&mut self, key: KeyEvent) -> Option<UiAction> {
        if key.kind == KeyEventKind::Release {
            return None;
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        let shift = key.modifiers.contains(KeyModifiers::SHIFT);
        // A call waiting for approval: y, a and n answer it while nothing is typed.
        if let KeyCode::Char(c @ ('y' | 'a' | 'n')) = key.code
            && !ctrl
            && !alt
            && let Some(action) = self.approval_key(c)
        {
            return Some(action);
        }
        let composer = &mut self.composer;
        match key.code {
            KeyCode::Char('c') if ctrl => return self.ctrl_c(),
            KeyCode::Char('d') if ctrl && composer.is_empty() => return self.quit(),
            KeyCode::Char('t') if ctrl => self.tools_expanded = !self.tools_expanded,
            KeyCode::Char('l') if ctrl => return Some(UiAction::Redraw),
            KeyCode::Char('j') if ctrl => composer.insert("\n"),
            KeyCode::Char('u') if ctrl => composer.kill_line_start(),
            KeyCode::Char('w') if ctrl => composer.kill_word(),
            KeyCode::Char('a') if ctrl => composer.home(),
            KeyCode::Char('e') if ctrl => composer.end(),
            KeyCode::Char(c) if !ctrl => composer.insert(c.encode_utf8(&mut [0; 4])),
            KeyCode::Enter if alt || shift => composer.insert("\n"),
            KeyCode::Enter => return self.submit(),
            KeyCode::Esc if matches!(self.run, RunState::Active { .. }) => return self.interrupt(),
            KeyCode::Backspace => composer.backspace(),
            KeyCode::Delete => composer.delete(),
            KeyCode::Left => composer.left(),
            KeyCode::Right => composer.right(),
            KeyCode::Home => composer.home(),
            KeyCode::End if ctrl => self.scroll_back = 0,
            KeyCode::End => composer.end(),
            KeyCode::Up if shift => self.scroll_by(1),
            KeyCode::Down if shift => self.scroll_by(-1),
            KeyCode::Up => composer.history_prev(),
            KeyCode::Down => composer.history_next(),
            KeyCode::PageUp => self.scroll_by(i32::from(self.page())),
            KeyCode::PageDown => self.scroll_by(-i32::from(self.page())),
            _ => {}
        }
        None
    }

    fn page(&self) -> u16 {
        self.viewport_lines.get().saturating_sub(2).max(1)
    }

    fn scroll_by(&mut self, lines: i32) {
        let max = i32::from(self.scroll_max.get());
        let next = (i32::from(self.scroll_back) + lines).clamp(0, max);
        self.scroll_back = u16::try_from(next).unwrap_or(0);
    }

    fn quit(&mut self) -> Option<UiAction> {
        self.quit = true;
        Some(UiAction::Quit)
    }

    fn ctrl_c(&mut self) -> Option<UiAction> {
        if matches!(self.run, RunState::Active { .. }) {
            return self.interrupt();
        }
        if !self.composer.is_empty() {
            self.composer.clear();
            return None;
        }
        self.quit()
    }

    fn submit(&mut self) -> Option<UiAction> {
        let text = self.composer.submit();
        if text.trim().is_empty() {
            return None;
        }
        self.scroll_back = 0;
        match parse_slash(&text) {
            None => {
                if matches!(self.run, RunState::Idle { .. }) {
                    self.run = RunState::Starting;
                }
                Some(UiAction::Call(Call::StartRun {
                    session_id: self.session.session_id.clone(),
                    text,
                    overrides: self.overrides.clone(),
                }))
            }
            Some(Err(message)) => {
                self.transcript.error(message);
                None
            }
            Some(Ok(command)) => self.command(command),
        }
    }

    fn command(&mut self, command: SlashCommand) -> Option<UiAction> {
        let session_id = self.session.session_id.clone();
        match command {
            SlashCommand::Help => self.transcript.notice(HELP),
            SlashCommand::New => {
                return Some(UiAction::Call(Call::NewSession {
                    model: self.session.model.clone(),
                    effort: self.session.effort,
                }));
            }
            SlashCommand::Sessions => return Some(UiAction::Call(Call::ListSessions)),
            SlashCommand::Models => return Some(UiAction::Call(Call::ListModels)),
            SlashCommand::Mcp => return Some(UiAction::Call(Call::ListMcp { session_id })),
            SlashCommand::Env(None) => {
                return Some(UiAction::Call(Call::ListEnvironments { session_id }));
            }
            SlashCommand::Skills(None) => {
                return Some(UiAction::Call(Call::ListSkills { session_id }));
            }
            SlashCommand::Skills(Some((active, name))) => {
                return Some(UiAction::Call(Call::SetSkill {
                    session_id,
                    name,
                    active,
                }));
            }
            SlashCommand::Fork(cursor) => {
                return Some(UiAction::Call(Call::Fork { session_id, cursor }));
            }
            SlashCommand::Compact(instruction) => {
                return Some(UiAction::Call(Call::Compact {
                    session_id,
                    instruction,
                }));
            }
            SlashCommand::Env(Some(environment)) => {
                return Some(UiAction::Call(Call::AttachEnvironment {
                    session_id,
                    environment,
                }));
            }
            SlashCommand::Model(words) => {
                let current = &self.session.model;
                let model = match words.as_slice() {
                    [name] => ModelRouteInput {
                        model: name.clone(),
                        ..current.clone()
                    },
                    [provider, kind, name] => ModelRouteInput {
                        provider_id: provider.clone(),
                        api_kind: kind.clone(),
                        model: name.clone(),
                    },
                    _ => {
                        let text = self.model_text();
                        self.transcript.notice(text);
                        return None;
                    }
                };
                return Some(self.update(SessionPatch {
                    model: Some(model),
                    ..SessionPatch::default()
                }));
            }
            SlashCommand::Effort(None) => {
                let text = self.model_text();
                self.transcript.notice(text);
            }
            SlashCommand::Effort(Some(effort)) => {
                return Some(self.update(SessionPatch {
                    generation: Some(GenerationInput {
                        reasoning_effort: Some(effort),
                        ..GenerationInput::default()
                    }),
                    ..SessionPatch::default()
                }));
            }
            SlashCommand::Steer(text) => match &self.run {
                RunState::Active { run_id, .. } => {
                    return Some(UiAction::Call(Call::Steer(RunSteerParams {
                        session_id,
                        run_id: run_id.clone(),
                        input: vec![InputItem::Text { text }],
                    })));
                }
                RunState::Idle { .. } | RunState::Starting => self
                    .transcript
                    .error("no run is running to steer; send the text as a message"),
            },
            SlashCommand::Approve { remember } => {
                return self.decide(super::approvals::Decision::Approve { remember });
            }
            SlashCommand::Deny(message) => {
                return self.decide(super::approvals::Decision::Deny { message });
            }
            SlashCommand::Interrupt => return self.interrupt(),
            SlashCommand::Quit => return self.quit(),
        }
        None
    }

    fn update(&self, patch: SessionPatch) -> UiAction {
        UiAction::Call(Call::UpdateSession(Box::new(SessionUpdateParams {
            session_id: self.session.session_id.clone(),
            expected_revision: self.session.revision,
            patch,
        })))
    }

    fn interrupt(&mut self) -> Option<UiAction> {
        match &self.run {
            RunState::Active { run_id, .. } => {
                Some(UiAction::Call(Call::Cancel(RunCancelParams {
                    session_id: self.session.session_id.clone(),
                    run_id: run_id.clone(),
                    reason: Some("interrupted from the TUI".into()),
                })))
            }
            RunState::Idle { .. } | RunState::Starting => {
                self.transcript.notice("no run is running");
                None
            }
        }
    }
}
