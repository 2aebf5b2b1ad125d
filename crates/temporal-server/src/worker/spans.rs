//! The spans activities add to a run's trace (docs/operating/traces.md): the
//! provider call of a generation, with the GenAI semantic conventions' names, and
//! the ids of the session, run and turn on the activity's own span (the SDK's plugin
//! starts that one). Ids, names, counts and costs only: never content.

use engine::core::run::Usage;
use engine::drive::GenerationIntent;
use telemetry::traces::{Attribute, Kind, TraceContext};
use temporal_workflow::activities::ToolInvokeInput;

fn ids(intent: &GenerationIntent) -> Vec<Attribute> {
    vec![
        Attribute::new("lightspeed.session.id", intent.session_id.to_string()),
        Attribute::new("lightspeed.run.id", intent.run_id.to_string()),
        Attribute::new("lightspeed.turn", i64::from(intent.turn)),
    ]
}

/// Names the session, run and turn on the current (activity) span and starts the
/// client span of the provider call under it; the call's HTTP requests carry its
/// `traceparent` (llm-clients).
pub(super) fn generation(intent: &GenerationIntent, provider: &str, model: &str) -> TraceContext {
    telemetry::traces::annotate(&TraceContext::current(), ids(intent));
    let mut attributes = ids(intent);
    attributes.extend([
        Attribute::new("gen_ai.operation.name", "chat"),
        Attribute::new("gen_ai.provider.name", provider.to_owned()),
        Attribute::new("gen_ai.request.model", model.to_owned()),
    ]);
    telemetry::traces::child(format!("chat {model}"), Kind::Client, attributes)
}

/// Ends the provider call's span: its usage and cost, or the failure's code.
pub(super) fn generation_finished(span: &TraceContext, outcome: Result<&Usage, &str>) {
    match outcome {
        Ok(usage) => {
            telemetry::traces::annotate(
                span,
                vec![
                    Attribute::new("gen_ai.usage.input_tokens", saturating(usage.input_tokens)),
                    Attribute::new(
                        "gen_ai.usage.output_tokens",
                        saturating(usage.output_tokens),
                    ),
                    Attribute::new(
                        "lightspeed.usage.cached_input_tokens",
                        saturating(usage.cached_input_tokens),
                    ),
                    Attribute::new(
                        "lightspeed.usage.reasoning_tokens",
                        saturating(usage.reasoning_tokens),
                    ),
                    // Nano-USD, as the log records it (docs/spec/cost.md).
                    Attribute::new("lightspeed.cost.nano_usd", saturating(usage.cost_nanos)),
                ],
            );
            telemetry::traces::finish(span, None);
        }
        Err(code) => telemetry::traces::finish(span, Some(code)),
    }
}

/// Names the session, run and tool on the current (activity) span of a tool call.
pub(super) fn tool_call(input: &ToolInvokeInput) {
    telemetry::traces::annotate(
        &TraceContext::current(),
        vec![
            Attribute::new("lightspeed.session.id", input.key.session_id.to_string()),
            Attribute::new("lightspeed.run.id", input.run_id.to_string()),
            Attribute::new("gen_ai.tool.name", input.call.name.clone()),
            Attribute::new("gen_ai.tool.call.id", input.call.call_id.to_string()),
        ],
    );
}

fn saturating(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
