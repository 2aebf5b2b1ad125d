//! The span of one JSON-RPC call (docs/operating/traces.md): the root of the trace
//! a run's work joins, or a child of the caller's span when an HTTP request names one
//! in `traceparent`. Only with traces on; otherwise nothing here runs.
//!
//! Attributes are ids only: method, universe, the session a call names and the run
//! it started, the JSON-RPC error code. Never parameters or answers.

use jsonrpsee::server::MethodResponse;
use serde::Deserialize;
use telemetry::traces::{Attribute, Kind, TraceContext};

/// The remote parent an HTTP request named in its `traceparent` header.
#[derive(Clone)]
pub(crate) struct RemoteParent(pub(crate) TraceContext);

/// The ids a call's params or answer may carry (everything else is skipped unread).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Ids {
    session_id: Option<String>,
    run_id: Option<String>,
}

fn ids(json: &str) -> Option<Ids> {
    serde_json::from_str(json).ok()
}

/// Starts the server span of `method` for `universe_id`; `params` is the call's raw
/// params, read for the session it names.
pub(crate) fn start(
    method: &str,
    universe_id: &str,
    params: Option<&str>,
    parent: Option<&RemoteParent>,
) -> TraceContext {
    let mut attributes = vec![
        Attribute::new("rpc.system", "jsonrpc"),
        Attribute::new("rpc.method", method.to_owned()),
        Attribute::new("lightspeed.universe.id", universe_id.to_owned()),
    ];
    if let Some(session) = params.and_then(ids).and_then(|ids| ids.session_id) {
        attributes.push(Attribute::new("lightspeed.session.id", session));
    }
    let parent = parent.map_or_else(TraceContext::new, |parent| parent.0.clone());
    telemetry::traces::start(method.to_owned(), Kind::Server, &parent, attributes)
}

/// Ends the call's span with what its answer says: the run it started, its error code.
pub(crate) fn finish(context: &TraceContext, response: &MethodResponse) {
    #[derive(Deserialize)]
    struct Answer {
        result: Option<Ids>,
    }
    match response.as_error_code() {
        Some(code) => {
            telemetry::traces::annotate(
                context,
                vec![Attribute::new("rpc.jsonrpc.error_code", i64::from(code))],
            );
            telemetry::traces::finish(context, Some(&format!("JSON-RPC error {code}")));
        }
        None => {
            let run = serde_json::from_str::<Answer>(response.as_json().get())
                .ok()
                .and_then(|answer| answer.result)
                .and_then(|ids| ids.run_id);
            if let Some(run) = run {
                telemetry::traces::annotate(
                    context,
                    vec![Attribute::new("lightspeed.run.id", run)],
                );
            }
            telemetry::traces::finish(context, None);
        }
    }
}
