//! Turns that call tools, scripted on the fake provider. A turn that should call tools
//! carries a marker unique to its session and index in its user message; the script
//! holds one turn per marker, matched on the request's last user text, that asks for
//! `calls` calls of [`TOOL`] in one batch. The follow-up request (carrying the tool
//! results, same last user text) finds that script turn consumed and nothing else left
//! for it, so the provider echoes: a tool turn is one run of two generations around
//! one tool batch.
//!
//! The tool is `sleep` with 0 ms, which the worker's production toolset
//! (`effects::WorkerTools`) serves: the figures are the orchestration of a tool call
//! (its activity, its result's append), not the tool's own work.

use serde_json::json;
use test_support::fake_provider::{Script, ScriptToolCall, ScriptTurn, TurnMatch};

/// The tool every scripted call names.
pub(crate) const TOOL: &str = "sleep";

/// The JSON definition registered for [`TOOL`] (what the model is shown).
pub(crate) fn definition() -> Vec<u8> {
    let definition = json!({
        "name": TOOL,
        "description": "Waits for `ms` milliseconds.",
        "parameters": {
            "type": "object",
            "properties": {"ms": {"type": "integer"}},
            "required": ["ms"],
        },
    });
    definition.to_string().into_bytes()
}

/// The marker of turn `index` of the session named `session`; closed by `]` so no
/// marker is a prefix of another's.
pub(crate) fn marker(session: &str, index: u64) -> String {
    format!(" [tools {session}#{index}]")
}

/// Script turns asking for `calls` tool calls when the last user text holds one of
/// `markers`.
pub(crate) fn script(markers: impl IntoIterator<Item = String>, calls: u64) -> Script {
    let turns = markers
        .into_iter()
        .map(|marker| ScriptTurn {
            // Empty text beside the calls, as a model that only calls tools sends.
            text: Some(String::new()),
            tool_calls: (0..calls)
                .map(|_| ScriptToolCall {
                    name: TOOL.into(),
                    arguments: json!({"ms": 0}),
                })
                .collect(),
            match_on: Some(TurnMatch {
                last_user_contains: marker.trim().to_owned(),
            }),
            ..ScriptTurn::default()
        })
        .collect();
    Script { turns }
}
