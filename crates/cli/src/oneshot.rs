//! `lightspeed chat MESSAGE`: one run, its answer streamed to stdout as deltas
//! arrive, tool calls noted on stderr; with `--json`, one JSON object at the end.
//!
//! Ctrl-C asks the gateway to cancel the run and waits for it to stop; a second
//! Ctrl-C stops waiting.

use std::io::Write as _;

use api::types::events::{DeltaKind, DeltaView, EventView, SessionNotification};
use api::types::items::{ItemView, ToolResultView};
use api::types::run::{RunCancelParams, RunFailureView, RunStatus};
use api::types::session::UsageView;
use serde::Serialize;

use crate::chat::{self, ChatSettings};
use crate::client::{Client, Connection, FollowLimits, FollowUpdate, Transport, kinds};
use crate::error::{CliError, Outcome};

/// Tool output shown on stderr in text mode, in characters.
const TOOL_OUTPUT_SHOWN_CHARS_MAX: usize = 200;

/// What `--json` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OneShotReport {
    pub session_id: String,
    pub run_id: String,
    pub status: RunStatus,
    /// The run's last assistant message.
    pub text: String,
    pub tool_calls: Vec<ToolCallReport>,
    pub usage: UsageView,
    pub turns: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<RunFailureView>,
    /// Why the last generation stopped (`maxTokens`: `text` was cut short).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<api::types::events::FinishReason>,
    /// Sources the provider cited for `text`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub citations: Vec<api::types::items::CitationView>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolCallReport {
    pub call_id: String,
    pub name: String,
    pub arguments: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<ToolResultView>,
}

/// Something to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Stdout(String),
    Stderr(String),
}

/// Follows one run: what to print as its notifications arrive, and its report.
/// Pure: notifications in, output out.
#[derive(Debug)]
pub struct RunTracker {
    report: OneShotReport,
    finished: bool,
    /// Text streamed since the last committed turn.
    streamed: String,
    /// Whether stdout's last character ended a line (or nothing was printed).
    at_line_start: bool,
    /// A turn was committed since the last text: the next text starts a new line.
    turn_boundary: bool,
}

impl RunTracker {
    pub fn new(session_id: String, run_id: String) -> Self {
        Self {
            report: OneShotReport {
                session_id,
                run_id,
                status: RunStatus::Queued,
                text: String::new(),
                tool_calls: Vec::new(),
                usage: UsageView::default(),
                turns: 0,
                failure: None,
                finish_reason: None,
                citations: Vec::new(),
            },
            finished: false,
            streamed: String::new(),
            at_line_start: true,
            turn_boundary: false,
        }
    }

    pub fn finished(&self) -> bool {
        self.finished
    }

    pub fn report(&self) -> &OneShotReport {
        &self.report
    }

    pub fn on_notification(&mut self, notification: &SessionNotification) -> Vec<Output> {
        match notification {
            SessionNotification::Delta { delta, .. } => self.on_delta(delta),
            SessionNotification::Event { event, .. } => self.on_event(event),
        }
    }

    fn on_delta(&mut self, delta: &DeltaView) -> Vec<Output> {
        if delta.run_id != self.report.run_id {
            return Vec::new();
        }
        if delta.kind == DeltaKind::Retry && !self.streamed.is_empty() {
            // Printed text cannot be taken back: say so, and print the committed
            // answer whole when it comes.
            self.streamed.clear();
            self.turn_boundary = true;
            return vec![Output::Stderr(
                "[retry] the provider failed midway; the text above is void, the answer follows"
                    .into(),
            )];
        }
        if delta.kind != DeltaKind::Text {
            return Vec::new();
        }
        let mut out = self.separator();
        self.streamed.push_str(&delta.text);
        out.extend(self.stdout(delta.text.clone()));
        out
    }

    fn on_event(&mut self, event: &EventView) -> Vec<Output> {
        if event.run_id.as_deref() != Some(self.report.run_id.as_str()) {
            return Vec::new();
        }
        let mut out = Vec::new();
        for item in &event.items {
            out.extend(self.on_item(item));
        }
        if event.kind == kinds::TURN_COMPLETED || event.kind == kinds::TURN_FAILED {
            self.streamed.clear();
            self.turn_boundary = true;
        }
        if event.kind == kinds::TURN_COMPLETED {
            use api::types::events::FinishReason;
            self.report.finish_reason = event.finish_reason;
            let cut = match event.finish_reason {
                Some(FinishReason::MaxTokens) => Some("it reached the output limit (maxTokens)"),
                Some(FinishReason::ContentFilter) => {
                    Some("the provider's filter withheld the rest (contentFilter)")
                }
                _ => None,
            };
            if let Some(why) = cut {
                out.push(Output::Stderr(format!(
                    "[cut short] the answer stopped: {why}"
                )));
            }
        }
        if let Some(run) = &event.run {
            self.report.status = run.status;
            self.report.turns = self.report.turns.max(run.turns);
            self.report.usage = run.usage;
            if event.kind == kinds::RUN_FINISHED {
                self.report.failure = run.failure.clone();
                self.finished = true;
                if !self.at_line_start {
                    out.extend(self.stdout("\n".into()));
                }
            }
        }
        out
    }

    fn on_item(&mut self, item: &ItemView) -> Vec<Output> {
        match item {
            ItemView::AssistantMessage {
                text, citations, ..
            } => {
                self.report.text = text.clone();
                self.report.citations = citations.clone();
                // Print what the deltas did not (all of it when none arrived).
                let rest = match text.strip_prefix(self.streamed.as_str()) {
                    Some(rest) => rest.to_owned(),
                    None => format!("\n{text}"),
                };
                self.streamed.clear();
                let mut out = self.separator();
                if !rest.is_empty() {
                    out.extend(self.stdout(rest));
                }
                out
            }
            ItemView::ToolCall {
                call_id,
                name,
                arguments,
                result,
                ..
            } => {
                let index = match self
                    .report
                    .tool_calls
                    .iter()
                    .position(|call| &call.call_id == call_id)
                {
                    Some(index) => index,
                    None => {
                        self.report.tool_calls.push(ToolCallReport {
                            call_id: call_id.clone(),
                            name: name.clone(),
                            arguments: arguments.clone(),
                            result: None,
                        });
                        self.report.tool_calls.len() - 1
                    }
                };
                let Some(result) = result else {
                    return Vec::new();
                };
                let call = &mut self.report.tool_calls[index];
                call.result = Some(result.clone());
                let shown: String = result
                    .output
                    .chars()
                    .take(TOOL_OUTPUT_SHOWN_CHARS_MAX)
                    .map(|c| if c == '\n' { ' ' } else { c })
                    .collect();
                vec![Output::Stderr(format!(
                    "[tool] {} {} -> {}: {shown}",
                    call.name, call.arguments, result.status
                ))]
            }
            ItemView::Error { code, message, .. } => {
                vec![Output::Stderr(format!("[error] {code}: {message}"))]
            }
            ItemView::Compaction { native, .. } => vec![Output::Stderr(compaction_line(*native))],
            ItemView::HostedToolCall { tool, detail, .. } => {
                vec![Output::Stderr(hosted_line(tool, detail.as_deref()))]
            }
            ItemView::UserMessage { .. } | ItemView::Reasoning { .. } => Vec::new(),
        }
    }

    /// A line break before the first text after a committed turn.
    fn separator(&mut self) -> Vec<Output> {
        if !std::mem::take(&mut self.turn_boundary) || self.at_line_start {
            return Vec::new();
        }
        self.stdout("\n".into())
    }

    fn stdout(&mut self, text: String) -> Vec<Output> {
        if text.is_empty() {
            return Vec::new();
        }
        self.at_line_start = text.ends_with('\n');
        vec![Output::Stdout(text)]
    }
}

/// Runs `message` on the session `settings` name and reports it.
pub async fn run(
    client: &Client,
    settings: &ChatSettings,
    message: String,
    json: bool,
) -> Result<Outcome, CliError> {
    client.initialize().await?;
    let opened = chat::open(client, settings).await?;
    let session_id = opened.session.session_id.clone();
    if let Some(mounted) = &opened.mounted
        && !json
    {
        eprintln!("lightspeed: {}", mounted.describe());
    }
    if !json {
        print(Output::Stdout(format!("connected session={session_id}\n")))?;
    }
    let mut follow = client.follow(
        &session_id,
        opened.session.event_cursor,
        Transport::WebSocket,
        FollowLimits::default(),
    );
    let params = chat::run_params(&session_id, message, opened.overrides);
    let started = client.run_start(&params).await?;
    let mut tracker = RunTracker::new(session_id.clone(), started.run_id.clone());
    let mut interrupts = 0u32;
    while !tracker.finished() {
        let update = tokio::select! {
            update = follow.next() => update,
            _ = tokio::signal::ctrl_c() => {
                interrupts += 1;
                if interrupts > 1 {
                    eprintln!("lightspeed: stopped waiting; run {} may still be running", started.run_id);
                    return Ok(Outcome::RunFailed);
                }
                eprintln!("lightspeed: cancelling run {} (Ctrl-C again to stop waiting)", started.run_id);
                let cancel = RunCancelParams {
                    session_id: session_id.clone(),
                    run_id: started.run_id.clone(),
                    reason: Some("interrupted from the CLI".into()),
                };
                client.run_cancel(&cancel).await?;
                continue;
            }
        };
        match update {
            Some(FollowUpdate::Notification(notification)) => {
                let outputs = tracker.on_notification(&notification);
                // In JSON mode everything is in the report at the end.
                if !json {
                    outputs.into_iter().try_for_each(print)?;
                }
            }
            Some(FollowUpdate::Connection(Connection::Reconnecting { attempt, error })) => {
                eprintln!("lightspeed: {error}; reconnecting (attempt {attempt})");
            }
            Some(FollowUpdate::Connection(Connection::Live { .. })) => {}
            Some(FollowUpdate::Connection(Connection::Lost { error })) => {
                return Err(CliError::ConnectionLost(error));
            }
            None => return Err(CliError::ConnectionLost("the follow ended".into())),
        }
    }
    finish(tracker.report(), json)
}

fn finish(report: &OneShotReport, json: bool) -> Result<Outcome, CliError> {
    if json {
        let text = serde_json::to_string(report)
            .map_err(|err| CliError::Output(std::io::Error::other(err)))?;
        print(Output::Stdout(format!("{text}\n")))?;
    }
    if !json && report.usage.cost_usd > 0.0 {
        let at_least = if report.usage.cost_complete {
            ""
        } else {
            "at least "
        };
        eprintln!(
            "lightspeed: run {} cost {at_least}{}",
            report.run_id,
            usd(report.usage.cost_usd)
        );
    }
    match (report.status, &report.failure) {
        (RunStatus::Completed, _) => Ok(Outcome::Success),
        (RunStatus::Failed, Some(failure)) => {
            eprintln!(
                "lightspeed: run {} failed ({}: {}): {}",
                report.run_id, failure.reason, failure.code, failure.message
            );
            Ok(Outcome::RunFailed)
        }
        (status, _) => {
            let status = chat::run_status_name(status);
            eprintln!("lightspeed: run {} ended {status}", report.run_id);
            Ok(Outcome::RunFailed)
        }
    }
}

fn print(output: Output) -> Result<(), CliError> {
    match output {
        Output::Stdout(text) => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush())
                .map_err(CliError::Output)
        }
        Output::Stderr(line) => {
            eprintln!("{line}");
            Ok(())
        }
    }
}

/// A cost for people: cents, or four decimals below a cent so a cheap run is not
/// shown as nothing.
pub fn usd(cost_usd: f64) -> String {
    if cost_usd < 0.01 {
        format!("${cost_usd:.4}")
    } else {
        format!("${cost_usd:.2}")
    }
}

/// What chat says when the provider ran one of its own tools.
pub fn hosted_line(tool: &str, detail: Option<&str>) -> String {
    match detail {
        Some(detail) => format!("[{tool}] {detail}"),
        None => format!("[{tool}]"),
    }
}

/// What chat says when the context was compacted.
pub fn compaction_line(native: bool) -> String {
    match native {
        true => "[context compacted by the provider]".into(),
        false => "[context compacted into a summary]".into(),
    }
}

#[cfg(test)]
mod tests {
    use api::types::run::RunView;

    use super::*;

    fn tracker() -> RunTracker {
        RunTracker::new("s".into(), "run_1".into())
    }

    fn delta(text: &str) -> SessionNotification {
        SessionNotification::Delta {
            session_id: "s".into(),
            delta: DeltaView {
                run_id: "run_1".into(),
                turn: 1,
                output_index: 0,
                kind: DeltaKind::Text,
                text: text.into(),
                call_id: None,
            },
        }
    }

    fn event(kind: &str, run: Option<RunStatus>, items: Vec<ItemView>) -> SessionNotification {
        SessionNotification::Event {
            session_id: "s".into(),
            event: EventView {
                cursor: 1,
                kind: kind.into(),
                at_ms: 0,
                run_id: Some("run_1".into()),
                run: run.map(|status| RunView {
                    run_id: "run_1".into(),
                    status,
                    failure: None,
                    turns: 1,
                    usage: UsageView::default(),
                    items: Vec::new(),
                    waiting: Default::default(),
                }),
                items,
                finish_reason: None,
                context_tokens: None,
                hold: None,
                wake_up: Default::default(),
                link: Default::default(),
            },
        }
    }

    fn assistant(text: &str) -> ItemView {
        ItemView::AssistantMessage {
            item_id: "1:0".into(),
            run_id: Some("run_1".into()),
            text: text.into(),
            citations: Vec::new(),
        }
    }

    fn stdout(outputs: Vec<Output>) -> String {
        outputs
            .into_iter()
            .filter_map(|output| match output {
                Output::Stdout(text) => Some(text),
                Output::Stderr(_) => None,
            })
            .collect()
    }

    #[test]
    fn streamed_text_is_not_repeated_and_missed_text_is_filled_in() {
        let mut t = tracker();
        let mut out = stdout(t.on_notification(&delta("Hello ")));
        // A delta lost in a reconnect: the committed item fills in the rest.
        out += &stdout(t.on_notification(&event(
            kinds::TURN_COMPLETED,
            Some(RunStatus::Running),
            vec![assistant("Hello world")],
        )));
        out += &stdout(t.on_notification(&event(
            kinds::RUN_FINISHED,
            Some(RunStatus::Completed),
            vec![],
        )));
        assert_eq!(out, "Hello world\n");
        assert!(t.finished());
        assert_eq!(t.report().text, "Hello world");
    }

    #[test]
    fn turns_are_separated_and_other_runs_ignored() {
        let mut t = tracker();
        let mut out = stdout(t.on_notification(&event(
            kinds::TURN_COMPLETED,
            Some(RunStatus::Running),
            vec![assistant("Checking.")],
        )));
        let other = SessionNotification::Delta {
            session_id: "s".into(),
            delta: DeltaView {
                run_id: "run_2".into(),
                turn: 1,
                output_index: 0,
                kind: DeltaKind::Text,
                text: "not ours".into(),
                call_id: None,
            },
        };
        out += &stdout(t.on_notification(&other));
        out += &stdout(t.on_notification(&delta("Done.")));
        assert_eq!(out, "Checking.\nDone.");
    }
}
