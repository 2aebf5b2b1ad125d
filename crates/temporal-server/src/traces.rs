//! Traces of the Temporal host (docs/operating/traces.md): the process's tracer
//! provider, numbered so that spans of workflow code get the same ids when the
//! workflow replays, and the SDK's OpenTelemetry plugin that carries trace context
//! through Temporal headers.
//!
//! One trace per run: the gateway's span of the call that asked for the run is the
//! root; the client's update of the session workflow, the workflow's handling of it,
//! every activity the workflow schedules for that run (see
//! `temporal_workflow::traces`), and the provider and MCP calls those activities make
//! hang under it. A worker that restarts replays the workflow, recovers the same span
//! ids from its history, and goes on adding to the same trace.

use opentelemetry_sdk::propagation::TraceContextPropagator;
use telemetry::traces::{TraceExport, TraceSetupError, TracesGuard};
use temporalio_sdk::SimplePlugin;
use temporalio_sdk::opentelemetry::{
    OpenTelemetryPlugin, WorkflowIdGenerator, WorkflowSpanProcessor,
};

/// Installs the tracer provider when the environment turns traces on
/// ([`TraceExport::from_env`]); `default_service_name` is `service.name` unless
/// `OTEL_SERVICE_NAME` is set.
pub fn install_from_env(
    default_service_name: &str,
) -> Result<Option<TracesGuard>, TraceSetupError> {
    let Some(export) = TraceExport::from_env(default_service_name)? else {
        return Ok(None);
    };
    // Workflow spans take their ids from the workflow's replay-safe randomness, and
    // a span started by replayed workflow code is never exported (it was, the first
    // time that code ran).
    telemetry::traces::install(&export, WorkflowIdGenerator::default(), |processor| {
        WorkflowSpanProcessor::new(processor)
    })
    .map(Some)
}

/// The SDK's plugin when traces are on: W3C trace context (no baggage) in the
/// `_tracer-data` header every Temporal SDK reads.
pub fn temporal_plugin() -> Option<SimplePlugin> {
    telemetry::traces::enabled().then(|| {
        OpenTelemetryPlugin::builder()
            .propagator(TraceContextPropagator::new())
            .build()
    })
}
