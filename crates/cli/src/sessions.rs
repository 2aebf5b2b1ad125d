//! `lightspeed sessions list|read` and `lightspeed fork`.

use std::fmt::Write as _;
use std::io::Write as _;

use api::types::events::SessionEventsReadParams;
use api::types::items::ItemView;
use api::types::session::{
    SessionForkParams, SessionListParams, SessionStatus, SessionSummary, SessionView,
};
use serde::Serialize;

use crate::args::SessionsCommand;
use crate::chat::run_status_name;
use crate::client::Client;
use crate::error::{CliError, Outcome};

/// Sessions per `session/list` page (the contract's maximum).
const LIST_PAGE_MAX: u32 = 200;
/// Events per `session/events/read` page (the contract's maximum).
const EVENTS_PAGE_MAX: u32 = 500;
/// Pages read for one transcript: bounds the loop should a gateway never finish.
const EVENTS_PAGES_MAX: u32 = 10_000;
/// Sources followed back when a fork's transcript is read (a fork of a fork...).
const FORK_SOURCES_MAX: usize = 32;

pub async fn run(client: &Client, command: SessionsCommand) -> Result<Outcome, CliError> {
    match command {
        SessionsCommand::List { limit, json } => list(client, limit, json).await,
        SessionsCommand::Read { session_id, json } => read(client, &session_id, json).await,
    }
}

async fn list(client: &Client, limit: u32, json: bool) -> Result<Outcome, CliError> {
    if limit == 0 {
        return Err(CliError::Usage("--limit must be at least 1".into()));
    }
    let mut sessions: Vec<SessionSummary> = Vec::new();
    let mut cursor = None;
    loop {
        let remaining = limit.saturating_sub(sessions.len() as u32);
        let params = SessionListParams {
            cursor,
            limit: Some(remaining.min(LIST_PAGE_MAX)),
        };
        let page = client.session_list(&params).await?;
        sessions.extend(page.sessions);
        match page.next_cursor {
            Some(next) if (sessions.len() as u32) < limit => cursor = Some(next),
            _ => break,
        }
    }
    if json {
        #[derive(Serialize)]
        struct Listed<'a> {
            sessions: &'a [SessionSummary],
        }
        return print_json(&Listed {
            sessions: &sessions,
        });
    }
    print_text(&session_table(&sessions))
}

/// One row per session, columns aligned.
pub fn session_table(sessions: &[SessionSummary]) -> String {
    if sessions.is_empty() {
        return "no sessions\n".into();
    }
    let rows: Vec<[String; 4]> = sessions
        .iter()
        .map(|s| {
            [
                s.session_id.clone(),
                session_status_name(s.status).into(),
                s.model.clone(),
                utc_timestamp(s.updated_at_ms),
            ]
        })
        .collect();
    let header = ["SESSION", "STATUS", "MODEL", "UPDATED"].map(String::from);
    let mut widths = header.clone().map(|h| h.len());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let line = format!(
            "{:w0$}  {:w1$}  {:w2$}  {}",
            row[0],
            row[1],
            row[2],
            row[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
        );
        let _ = writeln!(out, "{}", line.trim_end());
    }
    out
}

/// `lightspeed fork SESSION [--at CURSOR] [--id NEW]`.
pub async fn fork(
    client: &Client,
    session_id: String,
    cursor: Option<u64>,
    fork_session_id: Option<String>,
    json: bool,
) -> Result<Outcome, CliError> {
    let params = SessionForkParams {
        session_id,
        cursor,
        fork_session_id,
    };
    let fork = client.session_fork(&params).await?;
    if json {
        return print_json(&fork);
    }
    let at = fork.forked_from.as_ref().map_or(0, |from| from.cursor);
    print_text(&format!(
        "forked {} at event {at} into {}\n(continue it with: lightspeed chat --session {})\n",
        params.session_id, fork.session_id, fork.session_id
    ))
}

async fn read(client: &Client, session_id: &str, json: bool) -> Result<Outcome, CliError> {
    let session = client.session_read(session_id).await?;
    let items = fork_transcript(client, &session).await?;
    if json {
        #[derive(Serialize)]
        struct Read<'a> {
            session: &'a SessionView,
            items: &'a [ItemView],
        }
        return print_json(&Read {
            session: &session,
            items: &items,
        });
    }
    print_text(&session_text(&session, &items))
}

/// The session's transcript with its history: for a fork, its source's up to the
/// fork's cursor first (and so on back, for a fork of a fork).
async fn fork_transcript(
    client: &Client,
    session: &SessionView,
) -> Result<Vec<ItemView>, CliError> {
    let mut chain = vec![(session.session_id.clone(), None)];
    let mut origin = session.forked_from.clone();
    while let Some(from) = origin.take() {
        if chain.len() > FORK_SOURCES_MAX {
            break;
        }
        origin = client.session_read(&from.session_id).await?.forked_from;
        chain.push((from.session_id, Some(from.cursor)));
    }
    let mut items = Vec::new();
    for (session_id, until) in chain.iter().rev() {
        transcript(client, session_id, *until, &mut items).await?;
    }
    Ok(items)
}

/// Every transcript item of the session up to event `until` (all: `None`) added
/// to `items`, a tool call and its result as one item.
async fn transcript(
    client: &Client,
    session_id: &str,
    until: Option<u64>,
    items: &mut Vec<ItemView>,
) -> Result<(), CliError> {
    let mut cursor = 0;
    for _ in 0..EVENTS_PAGES_MAX {
        let params = SessionEventsReadParams {
            session_id: session_id.to_owned(),
            cursor,
            limit: Some(EVENTS_PAGE_MAX),
            wait_ms: None,
        };
        let page = client.events_read(&params).await?;
        if page.events.is_empty() {
            break;
        }
        cursor = page.next_cursor;
        let shared =
            |event: &api::types::events::EventView| until.is_none_or(|until| event.cursor <= until);
        for item in page
            .events
            .into_iter()
            .filter(shared)
            .flat_map(|event| event.items)
        {
            merge_item(items, item);
        }
        if cursor >= page.head_cursor || until.is_some_and(|until| cursor >= until) {
            break;
        }
    }
    Ok(())
}

/// Appends `item`, or completes the call it is the result of.
fn merge_item(items: &mut Vec<ItemView>, item: ItemView) {
    if let ItemView::ToolCall {
        call_id,
        result: Some(_),
        ..
    } = &item
    {
        let earlier = items.iter_mut().rev().find(|earlier| {
            matches!(earlier, ItemView::ToolCall { call_id: id, result: None, .. } if id == call_id)
        });
        if let Some(earlier) = earlier {
            *earlier = item;
            return;
        }
    }
    items.push(item);
}

/// A session as text: its state, then its transcript.
pub fn session_text(session: &SessionView, items: &[ItemView]) -> String {
    let mut out = String::new();
    let model = &session.config.model;
    let usage = &session.usage;
    let _ = writeln!(out, "session   {}", session.session_id);
    let _ = writeln!(out, "status    {}", session_status_name(session.status));
    let _ = writeln!(
        out,
        "model     {} / {} / {}",
        model.provider_id, model.api_kind, model.model
    );
    let _ = writeln!(out, "revision  {}", session.revision);
    let _ = writeln!(
        out,
        "usage     {} in ({} cached), {} out ({} reasoning)",
        usage.input_tokens, usage.cached_input_tokens, usage.output_tokens, usage.reasoning_tokens
    );
    if usage.cost_usd > 0.0 || !usage.cost_complete {
        let partial = if usage.cost_complete {
            ""
        } else {
            " (at least: a model had no price)"
        };
        let _ = writeln!(
            out,
            "cost      {}{partial}",
            crate::oneshot::usd(usage.cost_usd)
        );
    }
    if let Some(max) = session.config.budget.max_cost_usd {
        let _ = writeln!(out, "budget    {}", crate::oneshot::usd(max));
    }
    let _ = writeln!(out, "updated   {}", utc_timestamp(session.updated_at_ms));
    if let Some(from) = &session.forked_from {
        let _ = writeln!(
            out,
            "forked    from {} at event {}",
            from.session_id, from.cursor
        );
    }
    for (label, run) in [
        ("active", &session.active_run),
        ("last run", &session.last_run),
    ] {
        if let Some(run) = run {
            let status = run_status_name(run.status);
            let _ = writeln!(
                out,
                "{label:<9} {} {status} ({} turns)",
                run.run_id, run.turns
            );
        }
    }
    if !items.is_empty() {
        out.push('\n');
    }
    for item in items {
        out.push_str(&item_text(item));
        out.push('\n');
    }
    out
}

fn item_text(item: &ItemView) -> String {
    match item {
        ItemView::UserMessage {
            text, media_type, ..
        } => match (text, media_type) {
            (Some(text), _) => format!("> {}", text.replace('\n', "\n> ")),
            (None, Some(media_type)) => format!("> [{media_type}]"),
            (None, None) => "> [input]".into(),
        },
        ItemView::AssistantMessage {
            text, citations, ..
        } => {
            let mut out = text.clone();
            for citation in citations {
                let source = citation.url.as_deref().or(citation.file.as_deref());
                out.push_str(&format!("\n  [source] {}", source.unwrap_or_default()));
            }
            out
        }
        ItemView::HostedToolCall { tool, detail, .. } => {
            crate::oneshot::hosted_line(tool, detail.as_deref())
        }
        ItemView::Reasoning { summary, .. } => format!("[reasoning] {summary}"),
        ItemView::ToolCall {
            name,
            arguments,
            result,
            ..
        } => match result {
            Some(result) => format!(
                "[tool] {name} {arguments} -> {}: {}",
                result.status, result.output
            ),
            None => format!("[tool] {name} {arguments}"),
        },
        ItemView::Error { code, message, .. } => format!("[error] {code}: {message}"),
        ItemView::Compaction {
            native, summary, ..
        } => match summary {
            Some(summary) => format!("{}\n{summary}", crate::oneshot::compaction_line(*native)),
            None => crate::oneshot::compaction_line(*native),
        },
    }
}

pub fn session_status_name(status: SessionStatus) -> &'static str {
    match status {
        SessionStatus::Idle => "idle",
        SessionStatus::Running => "running",
        SessionStatus::Closed => "closed",
    }
}

/// `ms` since the Unix epoch as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn utc_timestamp(ms: u64) -> String {
    let secs = ms / 1_000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

pub(crate) fn print_json(value: &impl Serialize) -> Result<Outcome, CliError> {
    let text =
        serde_json::to_string(value).map_err(|err| CliError::Output(std::io::Error::other(err)))?;
    print_text(&format!("{text}\n"))
}

pub(crate) fn print_text(text: &str) -> Result<Outcome, CliError> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(CliError::Output)?;
    Ok(Outcome::Success)
}

/// `value` as JSON with `--json`, else `text()`.
pub fn show<T: serde::Serialize>(
    json: bool,
    value: &T,
    text: impl FnOnce() -> String,
) -> Result<Outcome, CliError> {
    if json {
        print_json(value)
    } else {
        print_text(&text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_timestamps() {
        assert_eq!(utc_timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_timestamp(1_767_225_600_000), "2026-01-01T00:00:00Z");
        assert_eq!(
            utc_timestamp(951_782_400_000 + 3_723_000),
            "2000-02-29T01:02:03Z"
        );
    }

    #[test]
    fn tables_align() {
        let rows = [
            SessionSummary {
                session_id: "s-long-id".into(),
                status: SessionStatus::Idle,
                model: "m".into(),
                updated_at_ms: 0,
            },
            SessionSummary {
                session_id: "s".into(),
                status: SessionStatus::Running,
                model: "model-2".into(),
                updated_at_ms: 0,
            },
        ];
        let table = session_table(&rows);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[0], "SESSION    STATUS   MODEL    UPDATED");
        assert_eq!(
            lines[1],
            "s-long-id  idle     m        1970-01-01T00:00:00Z"
        );
        assert_eq!(
            lines[2],
            "s          running  model-2  1970-01-01T00:00:00Z"
        );
    }
}
