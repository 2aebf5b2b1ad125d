//! The composer (a multi-line input with history) and slash commands.

use api::types::session::ReasoningEffort;

use crate::chat::parse_effort;

/// Submitted messages kept for Up/Down.
const HISTORY_ENTRIES_MAX: usize = 200;

/// What the user is typing. `cursor` is a byte index on a char boundary.
#[derive(Debug, Clone, Default)]
pub(super) struct Composer {
    text: String,
    cursor: usize,
    history: Vec<String>,
    /// Position while browsing history; `None` when editing the draft.
    browsing: Option<usize>,
    draft: String,
}

impl Composer {
    pub(super) fn text(&self) -> &str {
        &self.text
    }

    pub(super) fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// The cursor as (line, column in chars).
    pub(super) fn cursor_line_col(&self) -> (usize, usize) {
        let before = &self.text[..self.cursor];
        let line = before.matches('\n').count();
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count());
        (line, col)
    }

    pub(super) fn insert(&mut self, text: &str) {
        let text = text.replace("\r\n", "\n").replace('\r', "\n");
        self.text.insert_str(self.cursor, &text);
        self.cursor += text.len();
    }

    pub(super) fn backspace(&mut self) {
        if let Some(prev) = self.prev_boundary() {
            self.text.replace_range(prev..self.cursor, "");
            self.cursor = prev;
        }
    }

    pub(super) fn delete(&mut self) {
        if let Some(next) = self.next_boundary() {
            self.text.replace_range(self.cursor..next, "");
        }
    }

    pub(super) fn left(&mut self) {
        if let Some(prev) = self.prev_boundary() {
            self.cursor = prev;
        }
    }

    pub(super) fn right(&mut self) {
        if let Some(next) = self.next_boundary() {
            self.cursor = next;
        }
    }

    pub(super) fn home(&mut self) {
        self.cursor = self.text[..self.cursor].rfind('\n').map_or(0, |i| i + 1);
    }

    pub(super) fn end(&mut self) {
        self.cursor = self.text[self.cursor..]
            .find('\n')
            .map_or(self.text.len(), |i| self.cursor + i);
    }

    /// Deletes from the start of the line to the cursor.
    pub(super) fn kill_line_start(&mut self) {
        let start = self.text[..self.cursor].rfind('\n').map_or(0, |i| i + 1);
        self.text.replace_range(start..self.cursor, "");
        self.cursor = start;
    }

    /// Deletes the word before the cursor (and the spaces after it).
    pub(super) fn kill_word(&mut self) {
        let before = &self.text[..self.cursor];
        let trimmed = before.trim_end();
        let start = trimmed.rfind(char::is_whitespace).map_or(0, |i| {
            i + trimmed[i..].chars().next().map_or(1, char::len_utf8)
        });
        self.text.replace_range(start..self.cursor, "");
        self.cursor = start;
    }

    pub(super) fn clear(&mut self) {
        self.text.clear();
        self.cursor = 0;
        self.browsing = None;
    }

    /// Takes the text for sending and remembers it.
    pub(super) fn submit(&mut self) -> String {
        let text = std::mem::take(&mut self.text);
        self.cursor = 0;
        self.browsing = None;
        if !text.trim().is_empty() && self.history.last() != Some(&text) {
            if self.history.len() == HISTORY_ENTRIES_MAX {
                self.history.remove(0);
            }
            self.history.push(text.clone());
        }
        text
    }

    /// Up: the previous history entry (the draft is kept).
    pub(super) fn history_prev(&mut self) {
        let index = match self.browsing {
            None if self.history.is_empty() => return,
            None => {
                self.draft = self.text.clone();
                self.history.len() - 1
            }
            Some(index) => index.saturating_sub(1),
        };
        self.browsing = Some(index);
        self.set_text(self.history[index].clone());
    }

    /// Down: the next history entry, then the draft again.
    pub(super) fn history_next(&mut self) {
        let Some(index) = self.browsing else { return };
        if index + 1 < self.history.len() {
            self.browsing = Some(index + 1);
            self.set_text(self.history[index + 1].clone());
        } else {
            self.browsing = None;
            let draft = std::mem::take(&mut self.draft);
            self.set_text(draft);
        }
    }

    fn set_text(&mut self, text: String) {
        self.text = text;
        self.cursor = self.text.len();
    }

    fn prev_boundary(&self) -> Option<usize> {
        self.text[..self.cursor]
            .char_indices()
            .last()
            .map(|(i, _)| i)
    }

    fn next_boundary(&self) -> Option<usize> {
        let c = self.text[self.cursor..].chars().next()?;
        Some(self.cursor + c.len_utf8())
    }
}

/// A `/command` typed in the composer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum SlashCommand {
    Help,
    New,
    Sessions,
    /// `/models`: the server's providers and models.
    Models,
    /// `/mcp`: the MCP servers linked to the session and their tools.
    Mcp,
    /// `/env`: the environments attached to the session; `/env NAME` attaches one.
    Env(Option<String>),
    /// `/skills`: the skills in the session's mounts; `/skills on|off NAME` pins or
    /// unpins one.
    Skills(Option<(bool, String)>),
    /// `/compact [INSTRUCTION]`: compacts the context now.
    Compact(Option<String>),
    /// `/fork [CURSOR]`: forks the session (at an event cursor, default now) and
    /// continues in the fork.
    Fork(Option<u64>),
    /// `/model`: show the model; `/model NAME`; `/model PROVIDER KIND NAME`.
    Model(Vec<String>),
    /// `/effort`: show it; `/effort LEVEL`: set it.
    Effort(Option<ReasoningEffort>),
    Steer(String),
    /// Run the calls waiting for approval (`remember`: their tools for good).
    Approve {
        remember: bool,
    },
    /// Refuse them, telling the model the message.
    Deny(Option<String>),
    Interrupt,
    Quit,
}

/// The help text `/help` shows.
pub(super) const HELP: &str = "\
Commands:
  /help                      this help
  /new                       start a new session with the same model
  /sessions                  list recent sessions
  /models                    the server's providers, models and their limits
  /mcp                       MCP servers linked to this session and their tools
  /env [NAME]                environments attached to this session; attach NAME
  /skills [on|off NAME]      skills in this session's mounts; pin or unpin one
  /compact [INSTRUCTION]     compact the context now (saying what to keep)
  /fork [CURSOR]             fork the session (at an event cursor) and continue in the fork
  /model [NAME | PROVIDER KIND NAME]   show or change the session's model
  /effort [minimal|low|medium|high]    show or change the reasoning effort
  /steer TEXT                add TEXT to the running run at its next step
  /interrupt                 cancel the running run (also Esc)
  /approve [all]             run the calls waiting for approval (all: their tools for
                             the rest of the session); keys y and a when nothing is typed
  /deny [MESSAGE]            refuse them, telling the model MESSAGE (key n)
  /quit                      leave (the session stays; resume with --session)
Keys: Enter send · Alt+Enter or Ctrl+J newline · Up/Down history · Ctrl+T expand tools
      PgUp/PgDn scroll · Ctrl+End follow · Ctrl+C interrupt, clear, quit";

/// Parses `input` when it is a slash command; `None` for a plain message.
pub(super) fn parse_slash(input: &str) -> Option<Result<SlashCommand, String>> {
    let trimmed = input.trim();
    let rest = trimmed.strip_prefix('/')?;
    // "//text" sends "/text" as a message.
    if rest.starts_with('/') {
        return None;
    }
    let (name, arg) = match rest.split_once(char::is_whitespace) {
        Some((name, arg)) => (name, arg.trim()),
        None => (rest, ""),
    };
    let words: Vec<String> = arg.split_whitespace().map(str::to_owned).collect();
    Some(match name {
        "help" | "?" => Ok(SlashCommand::Help),
        "new" => Ok(SlashCommand::New),
        "sessions" => Ok(SlashCommand::Sessions),
        "models" => Ok(SlashCommand::Models),
        "mcp" => Ok(SlashCommand::Mcp),
        "env" if words.len() <= 1 => Ok(SlashCommand::Env(words.first().cloned())),
        "env" => Err("usage: /env, or /env NAME to attach environment NAME".into()),
        "skills" if words.is_empty() => Ok(SlashCommand::Skills(None)),
        "skills" => match words.as_slice() {
            [on, name] if on == "on" => Ok(SlashCommand::Skills(Some((true, name.clone())))),
            [off, name] if off == "off" => Ok(SlashCommand::Skills(Some((false, name.clone())))),
            _ => Err("usage: /skills, or /skills on|off NAME".into()),
        },
        "fork" if arg.is_empty() => Ok(SlashCommand::Fork(None)),
        "fork" => arg
            .parse()
            .map(|cursor| SlashCommand::Fork(Some(cursor)))
            .map_err(|_| "usage: /fork, or /fork CURSOR (an event number)".into()),
        "compact" if arg.is_empty() => Ok(SlashCommand::Compact(None)),
        "compact" => Ok(SlashCommand::Compact(Some(arg.to_owned()))),
        "model" if matches!(words.len(), 0 | 1 | 3) => Ok(SlashCommand::Model(words)),
        "model" => Err("usage: /model NAME, or /model PROVIDER API_KIND NAME".into()),
        "effort" if arg.is_empty() => Ok(SlashCommand::Effort(None)),
        "effort" => parse_effort(arg)
            .map(|effort| SlashCommand::Effort(Some(effort)))
            .map_err(|err| err.to_string()),
        "steer" if arg.is_empty() => Err("usage: /steer TEXT".into()),
        "steer" => Ok(SlashCommand::Steer(arg.to_owned())),
        "approve" if arg.is_empty() => Ok(SlashCommand::Approve { remember: false }),
        "approve" if arg == "all" => Ok(SlashCommand::Approve { remember: true }),
        "approve" => Err("usage: /approve, or /approve all for the rest of the session".into()),
        "deny" if arg.is_empty() => Ok(SlashCommand::Deny(None)),
        "deny" => Ok(SlashCommand::Deny(Some(arg.to_owned()))),
        "interrupt" | "cancel" => Ok(SlashCommand::Interrupt),
        "quit" | "exit" | "q" => Ok(SlashCommand::Quit),
        other => Err(format!("unknown command /{other}; /help lists them")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn editing_respects_char_boundaries() {
        let mut c = Composer::default();
        c.insert("héllo wörld");
        c.backspace();
        assert_eq!(c.text(), "héllo wörl");
        c.home();
        c.right();
        c.right();
        c.delete();
        assert_eq!(c.text(), "hélo wörl");
        c.end();
        c.kill_word();
        assert_eq!(c.text(), "hélo ");
        c.insert("a\nb");
        assert_eq!(c.cursor_line_col(), (1, 1));
        c.kill_line_start();
        assert_eq!(c.text(), "hélo a\n");
    }

    #[test]
    fn history_keeps_the_draft() {
        let mut c = Composer::default();
        c.insert("first");
        assert_eq!(c.submit(), "first");
        c.insert("second");
        c.submit();
        c.insert("draft");
        c.history_prev();
        assert_eq!(c.text(), "second");
        c.history_prev();
        c.history_prev();
        assert_eq!(c.text(), "first");
        c.history_next();
        c.history_next();
        assert_eq!(c.text(), "draft");
    }

    #[test]
    fn slash_commands() {
        assert_eq!(parse_slash("hello"), None);
        assert_eq!(parse_slash("//not a command"), None);
        assert_eq!(
            parse_slash("/steer  be brief "),
            Some(Ok(SlashCommand::Steer("be brief".into())))
        );
        assert_eq!(
            parse_slash("/effort high"),
            Some(Ok(SlashCommand::Effort(Some(ReasoningEffort::High))))
        );
        assert!(matches!(parse_slash("/effort max"), Some(Err(_))));
        assert!(matches!(parse_slash("/model a b"), Some(Err(_))));
        assert!(matches!(parse_slash("/nope"), Some(Err(_))));
        assert_eq!(parse_slash("/quit"), Some(Ok(SlashCommand::Quit)));
        assert_eq!(parse_slash("/mcp"), Some(Ok(SlashCommand::Mcp)));
        assert_eq!(parse_slash("/fork"), Some(Ok(SlashCommand::Fork(None))));
        assert_eq!(
            parse_slash("/fork 12"),
            Some(Ok(SlashCommand::Fork(Some(12))))
        );
        assert!(matches!(parse_slash("/fork now"), Some(Err(_))));
        assert_eq!(parse_slash("/env"), Some(Ok(SlashCommand::Env(None))));
        assert_eq!(parse_slash("/skills"), Some(Ok(SlashCommand::Skills(None))));
        assert_eq!(
            parse_slash("/skills on review"),
            Some(Ok(SlashCommand::Skills(Some((true, "review".into())))))
        );
        assert!(matches!(parse_slash("/skills review"), Some(Err(_))));
        assert_eq!(
            parse_slash("/compact keep the test names"),
            Some(Ok(SlashCommand::Compact(Some(
                "keep the test names".into()
            ))))
        );
        assert_eq!(
            parse_slash("/env laptop"),
            Some(Ok(SlashCommand::Env(Some("laptop".into()))))
        );
        assert!(matches!(parse_slash("/env a b"), Some(Err(_))));
    }
}
