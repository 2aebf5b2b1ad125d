//! `lightspeed approve` and `lightspeed deny`: decide the calls a session's tool
//! policy holds for a person, from a shell (the TUI answers them with a key).

use api::types::run::{RunAccepted, RunApproveParams, RunDenyParams, WaitReason};

use crate::client::Client;
use crate::error::{CliError, Outcome};
use crate::sessions::{print_json, print_text};

/// What to decide: approve (for the session, with `remember`) or deny.
pub enum Decision {
    Approve { remember: bool },
    Deny { message: Option<String> },
}

/// Decides `calls` (default: every waiting call) of `run` (default: the session's
/// active run). Waiting calls are listed first, so a person sees what they decide.
pub async fn decide(
    client: &Client,
    session_id: String,
    run: Option<String>,
    calls: Vec<String>,
    decision: Decision,
    json: bool,
) -> Result<Outcome, CliError> {
    let session = client.session_read(&session_id).await?;
    let active = session.active_run.as_ref();
    let run_id = match (run, active) {
        (Some(run), _) => run,
        (None, Some(active)) => active.run_id.clone(),
        (None, None) => {
            return Err(CliError::Usage(format!(
                "session {session_id} has no active run: nothing waits for approval"
            )));
        }
    };
    let waiting: Vec<_> = active
        .filter(|active| active.run_id == run_id)
        .map(|active| active.waiting.as_slice())
        .unwrap_or_default()
        .iter()
        .filter(|call| call.reason == WaitReason::Approval)
        .filter(|call| calls.is_empty() || calls.contains(&call.call_id))
        .collect();
    let (method, accepted): (&str, RunAccepted) = match decision {
        Decision::Approve { remember } => {
            let params = RunApproveParams {
                session_id,
                run_id,
                call_ids: calls,
                remember,
            };
            ("approved", client.call("run/approve", &params).await?)
        }
        Decision::Deny { message } => {
            let params = RunDenyParams {
                session_id,
                run_id,
                call_ids: calls,
                message,
            };
            ("denied", client.call("run/deny", &params).await?)
        }
    };
    if json {
        return print_json(&accepted);
    }
    let mut text = String::new();
    for call in waiting {
        let arguments = call.arguments.as_deref().unwrap_or("");
        text.push_str(&format!(
            "{method} {} {} {arguments}\n",
            call.call_id, call.tool
        ));
    }
    text.push_str(&format!(
        "{method}: {} continues (event {})\n",
        accepted.run_id, accepted.event_cursor
    ));
    print_text(&text)
}
