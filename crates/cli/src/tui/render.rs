//! Draws an [`App`]: the transcript (wrapped, scrollable), a status line and the
//! composer. A pure function of the app and the frame's size.

use api::types::items::ToolResultView;
use api::types::run::RunStatus;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::app::{App, RunState};
use super::markdown;
use super::transcript::{Entry, Streaming, ToolCall};
use crate::chat::{effort_name, run_status_name};
use crate::client::{Connection, Transport};
use crate::models::tokens_short;

/// Composer lines shown before it scrolls.
const COMPOSER_LINES_MAX: u16 = 6;
/// Output lines of one tool call in the expanded view.
const TOOL_OUTPUT_LINES_MAX: usize = 12;
/// Argument characters shown per tool call.
const TOOL_ARGUMENTS_CHARS_MAX: usize = 160;

pub fn draw(frame: &mut Frame<'_>, app: &App) {
    let area = frame.area();
    let composer_lines = app.composer.text().split('\n').count();
    let composer_lines = u16::try_from(composer_lines).unwrap_or(u16::MAX);
    let composer_height = composer_lines.clamp(1, COMPOSER_LINES_MAX) + 2;
    let [transcript, status, composer] = Layout::vertical([
        Constraint::Min(1),
        Constraint::Length(1),
        Constraint::Length(composer_height),
    ])
    .areas(area);
    draw_transcript(frame, transcript, app);
    frame.render_widget(Paragraph::new(status_line(app)), status);
    draw_composer(frame, composer, app);
}

/// Lines of a running command's output shown while it runs.
const LIVE_OUTPUT_LINES: usize = 8;

fn draw_transcript(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let paragraph = Paragraph::new(transcript_lines(app)).wrap(Wrap { trim: false });
    let total = u16::try_from(paragraph.line_count(area.width)).unwrap_or(u16::MAX);
    let scroll_max = total.saturating_sub(area.height);
    app.scroll_max.set(scroll_max);
    app.viewport_lines.set(area.height);
    let offset = scroll_max - app.scroll_back.min(scroll_max);
    frame.render_widget(paragraph.scroll((offset, 0)), area);
}

/// Every line of the transcript, before wrapping.
pub(super) fn transcript_lines(app: &App) -> Vec<Line<'static>> {
    let transcript = app.transcript();
    let mut lines: Vec<Line<'static>> = Vec::new();
    if transcript.dropped() > 0 {
        lines.push(dim(format!(
            "… {} earlier entries not shown (lightspeed sessions read {})",
            transcript.dropped(),
            app.session_id()
        )));
    }
    for entry in transcript.entries() {
        if !lines.is_empty() {
            lines.push(Line::default());
        }
        lines.extend(entry_lines(entry, app.tools_expanded));
    }
    if let Some(streaming) = transcript.streaming() {
        if !lines.is_empty() {
            lines.push(Line::default());
        }
        lines.extend(streaming_lines(streaming));
    } else if matches!(app.run, RunState::Starting | RunState::Active { .. })
        && !app.awaiting_approval()
    {
        if !lines.is_empty() {
            lines.push(Line::default());
        }
        lines.push(dim("● working…".to_owned()));
    }
    lines
}

fn dim(text: String) -> Line<'static> {
    Line::styled(text, Style::default().fg(Color::DarkGray))
}

fn prefixed(text: &str, first: Span<'static>, style: Style) -> Vec<Line<'static>> {
    let indent = " ".repeat(first.width());
    text.split('\n')
        .enumerate()
        .map(|(index, part)| {
            let lead = match index {
                0 => first.clone(),
                _ => Span::raw(indent.clone()),
            };
            Line::from(vec![lead, Span::styled(part.to_owned(), style)])
        })
        .collect()
}

fn entry_lines(entry: &Entry, tools_expanded: bool) -> Vec<Line<'static>> {
    match entry {
        Entry::User { text, steer: false } => prefixed(
            text,
            Span::styled(
                "› ",
                Style::default()
                    .fg(Color::Cyan)
                    .add_modifier(Modifier::BOLD),
            ),
            Style::default().add_modifier(Modifier::BOLD),
        ),
        Entry::User { text, steer: true } => prefixed(
            text,
            Span::styled("↳ steer: ", Style::default().fg(Color::Magenta)),
            Style::default().add_modifier(Modifier::BOLD),
        ),
        Entry::Assistant { text } => markdown::render(text),
        Entry::Reasoning { text } => reasoning_lines(text),
        Entry::Tools(calls) => tool_lines(calls, tools_expanded),
        Entry::Error { text } => prefixed(
            text,
            Span::styled(
                "✗ ",
                Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
            ),
            Style::default().fg(Color::Red),
        ),
        Entry::Notice { text } => prefixed(text, Span::raw(""), Style::default().fg(Color::Gray)),
    }
}

fn reasoning_lines(text: &str) -> Vec<Line<'static>> {
    let style = Style::default()
        .fg(Color::DarkGray)
        .add_modifier(Modifier::ITALIC);
    prefixed(text, Span::styled("thinking: ", style), style)
}

fn streaming_lines(streaming: &Streaming) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    if !streaming.reasoning.is_empty() {
        lines.extend(reasoning_lines(&streaming.reasoning));
    }
    if !streaming.text.is_empty() {
        if !lines.is_empty() {
            lines.push(Line::default());
        }
        lines.extend(markdown::render(&streaming.text));
        let cursor = Span::styled("▌", Style::default().fg(Color::Cyan));
        match lines.last_mut() {
            Some(last) => last.spans.push(cursor),
            None => lines.push(Line::from(cursor)),
        }
    }
    if streaming.calling_tool {
        lines.push(dim("● calling a tool…".to_owned()));
    }
    if let Some(progress) = &streaming.tool_progress {
        lines.push(dim(format!("● {progress}")));
    }
    // A running command's output, live: its last lines.
    let output_lines: Vec<&str> = streaming.tool_output.lines().collect();
    for line in &output_lines[output_lines.len().saturating_sub(LIVE_OUTPUT_LINES)..] {
        let line: String = line.chars().take(200).collect();
        lines.push(dim(format!("  │ {line}")));
    }
    if lines.is_empty() {
        lines.push(dim("● thinking…".to_owned()));
    }
    lines
}

fn status_mark(result: Option<&ToolResultView>) -> Span<'static> {
    match result.map(|result| result.status.as_str()) {
        None => Span::styled("…", Style::default().fg(Color::Yellow)),
        Some("ok") => Span::styled("✓", Style::default().fg(Color::Green)),
        Some("notExecuted") => Span::styled("⊘", Style::default().fg(Color::DarkGray)),
        Some(_) => Span::styled("✗", Style::default().fg(Color::Red)),
    }
}

fn tool_lines(calls: &[ToolCall], expanded: bool) -> Vec<Line<'static>> {
    let head = Style::default()
        .fg(Color::Blue)
        .add_modifier(Modifier::BOLD);
    let noun = if calls.len() == 1 { "call" } else { "calls" };
    if !expanded {
        let mut spans = vec![Span::styled(
            format!("▸ {} tool {noun}: ", calls.len()),
            head,
        )];
        for (index, call) in calls.iter().enumerate() {
            if index > 0 {
                spans.push(Span::raw(", "));
            }
            spans.push(Span::raw(format!("{} ", call.name)));
            spans.push(status_mark(call.result.as_ref()));
        }
        spans.push(Span::styled(
            "  (Ctrl+T expands)",
            Style::default().fg(Color::DarkGray),
        ));
        return vec![Line::from(spans)];
    }
    let mut lines = vec![Line::styled(format!("▾ {} tool {noun}", calls.len()), head)];
    let gutter = Style::default().fg(Color::DarkGray);
    for call in calls {
        let arguments = shorten(&call.arguments.replace('\n', " "), TOOL_ARGUMENTS_CHARS_MAX);
        lines.push(Line::from(vec![
            Span::raw("  "),
            status_mark(call.result.as_ref()),
            Span::styled(
                format!(" {}", call.name),
                Style::default().add_modifier(Modifier::BOLD),
            ),
            Span::styled(format!(" {arguments}"), gutter),
        ]));
        let Some(result) = &call.result else {
            lines.push(Line::styled("    │ running…", gutter));
            continue;
        };
        let output: Vec<&str> = result.output.lines().collect();
        for line in output.iter().take(TOOL_OUTPUT_LINES_MAX) {
            lines.push(Line::from(vec![
                Span::styled("    │ ", gutter),
                Span::raw((*line).to_owned()),
            ]));
        }
        if output.len() > TOOL_OUTPUT_LINES_MAX {
            let more = output.len() - TOOL_OUTPUT_LINES_MAX;
            lines.push(Line::styled(format!("    │ … {more} more lines"), gutter));
        }
        if result.truncated {
            lines.push(Line::styled(
                format!("    │ … cut; the whole output is {}", result.output_ref),
                gutter,
            ));
        }
    }
    lines
}

fn shorten(text: &str, chars_max: usize) -> String {
    match text.char_indices().nth(chars_max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// Ids longer than this are shown cut (the whole id is printed on exit).
const ID_SHOWN_CHARS_MAX: usize = 20;

fn short_id(id: &str) -> String {
    shorten(id, ID_SHOWN_CHARS_MAX)
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (index, c) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `ctx 12.3k/200k 6%`: the session's context against its model's window, or
/// `ctx 12.3k` when the server lists no window for the model.
fn context_meter(app: &App) -> String {
    let used = app.context_tokens();
    match app.context_window() {
        Some(window) if window > 0 => format!(
            "ctx {}/{} {}%",
            tokens_short(used),
            tokens_short(window),
            used.saturating_mul(100) / window
        ),
        Some(_) | None => format!("ctx {}", tokens_short(used)),
    }
}

fn status_line(app: &App) -> Line<'static> {
    let bar = Style::default().bg(Color::DarkGray).fg(Color::White);
    let sep = || Span::styled(" · ", bar);
    let model = &app.session.model;
    let mut model_text = model.model.clone();
    if let Some(effort) = app.session.effort {
        model_text.push_str(&format!(" ({})", effort_name(effort)));
    }
    let (run_text, run_color) = match &app.run {
        RunState::Idle { last: None } => ("idle".to_owned(), Color::White),
        RunState::Idle { last: Some(status) } => (
            run_status_name(*status).to_owned(),
            match status {
                RunStatus::Failed => Color::LightRed,
                RunStatus::Cancelled => Color::Yellow,
                _ => Color::White,
            },
        ),
        RunState::Starting => ("starting…".to_owned(), Color::LightGreen),
        RunState::Active {
            status: RunStatus::Cancelling,
            ..
        } => ("cancelling…".to_owned(), Color::Yellow),
        RunState::Active { .. } if app.awaiting_approval() => {
            ("awaiting approval".to_owned(), Color::Yellow)
        }
        RunState::Active { turns, .. } => {
            (format!("running · turn {}", turns + 1), Color::LightGreen)
        }
    };
    let usage = app.usage_total();
    let (connection_text, connection_color) = match &app.connection {
        None => ("connecting…".to_owned(), Color::Yellow),
        Some(Connection::Live {
            transport: Transport::WebSocket,
        }) => ("live".to_owned(), Color::LightGreen),
        Some(Connection::Live {
            transport: Transport::LongPoll,
        }) => ("polling".to_owned(), Color::LightGreen),
        Some(Connection::Reconnecting { attempt, .. }) => {
            (format!("reconnecting ({attempt})"), Color::Yellow)
        }
        Some(Connection::Lost { .. }) => ("offline".to_owned(), Color::LightRed),
    };
    // Most useful first: narrow terminals cut the end.
    let mut spans = vec![Span::styled(format!(" {run_text}"), bar.fg(run_color))];
    if !app.queued.is_empty() {
        spans.push(Span::styled(format!(" +{} queued", app.queued.len()), bar));
    }
    spans.extend([
        sep(),
        Span::styled(model_text, bar),
        sep(),
        Span::styled(
            format!(
                "{} in / {} out{}",
                thousands(usage.input_tokens),
                thousands(usage.output_tokens),
                cost_text(&usage)
            ),
            bar,
        ),
        sep(),
        Span::styled(context_meter(app), bar),
        sep(),
        Span::styled(connection_text, bar.fg(connection_color)),
        sep(),
        Span::styled(short_id(app.session_id()), bar.add_modifier(Modifier::BOLD)),
    ]);
    if app.scroll_back > 0 {
        spans.push(sep());
        spans.push(Span::styled(
            format!("↑{} (Ctrl+End follows)", app.scroll_back),
            bar.fg(Color::Yellow),
        ));
    }
    spans.push(Span::styled(" ", bar));
    Line::from(spans).style(bar)
}

/// ` · $0.0123` once anything was spent (`≥` when some model had no price), else
/// nothing: a deployment without prices shows no made-up zero.
fn cost_text(usage: &api::types::session::UsageView) -> String {
    if usage.cost_usd <= 0.0 {
        return String::new();
    }
    let at_least = if usage.cost_complete { "" } else { "≥" };
    format!(" · {at_least}{}", crate::oneshot::usd(usage.cost_usd))
}

fn draw_composer(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let block = Block::default()
        .borders(Borders::TOP | Borders::BOTTOM)
        .border_style(Style::default().fg(Color::DarkGray))
        .title_bottom(Line::styled(
            " Enter send · Alt+Enter newline · /help ",
            Style::default().fg(Color::DarkGray),
        ));
    let inner = block.inner(area);
    let composer = &app.composer;
    let prompt = Span::styled(
        "› ",
        Style::default()
            .fg(Color::Cyan)
            .add_modifier(Modifier::BOLD),
    );
    let lines: Vec<Line<'static>> = if composer.is_empty() {
        let hint = match app.run {
            RunState::Active { .. } if app.awaiting_approval() => {
                "y approve · a approve for this session · n deny · /deny MESSAGE"
            }
            RunState::Active { .. } => "steer with /steer, interrupt with Esc, or queue a message",
            RunState::Idle { .. } | RunState::Starting => "Ask anything, or /help",
        };
        vec![Line::from(vec![
            prompt.clone(),
            Span::styled(hint, Style::default().fg(Color::DarkGray)),
        ])]
    } else {
        composer
            .text()
            .split('\n')
            .enumerate()
            .map(|(index, line)| {
                let lead = if index == 0 {
                    prompt.clone()
                } else {
                    Span::raw("  ")
                };
                Line::from(vec![lead, Span::raw(line.to_owned())])
            })
            .collect()
    };
    let (cursor_line, cursor_col) = composer.cursor_line_col();
    let cursor_line = u16::try_from(cursor_line).unwrap_or(u16::MAX);
    let scroll = cursor_line.saturating_sub(inner.height.saturating_sub(1));
    frame.render_widget(Paragraph::new(lines).block(block).scroll((scroll, 0)), area);
    let line_text = composer
        .text()
        .split('\n')
        .nth(usize::from(cursor_line))
        .unwrap_or("");
    let before: String = line_text.chars().take(cursor_col).collect();
    let x = inner.x + 2 + u16::try_from(Span::raw(before).width()).unwrap_or(u16::MAX);
    let y = inner.y + cursor_line - scroll;
    if x < inner.right() && y < inner.bottom() {
        frame.set_cursor_position(Position::new(x, y));
    }
}
