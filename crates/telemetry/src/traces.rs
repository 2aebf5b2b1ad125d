//! OpenTelemetry traces: off unless an OTLP endpoint is configured
//! (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), then
//! exported in batches over OTLP (HTTP/protobuf by default, gRPC when
//! `OTEL_EXPORTER_OTLP_PROTOCOL=grpc`). docs/operating/traces.md.
//!
//! The process installs one tracer provider ([`install`]); the rest of the code only
//! starts spans through the OpenTelemetry API ([`start`], [`child`]) and passes trace
//! context on ([`inject`], [`traceparent`]), which cost nothing while traces are off
//! (the global tracer is then a no-op).
//!
//! Spans carry ids, names, counts and costs, never content: no prompt, no tool
//! argument or output, no header value, no key. Only W3C trace context crosses process
//! boundaries (no baggage: a caller's baggage would otherwise reach model providers).

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer as _};
use opentelemetry::{Context, KeyValue, global};
use opentelemetry_otlp::{SpanExporter, WithExportConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{BatchSpanProcessor, IdGenerator, SdkTracerProvider, SpanProcessor};

pub use opentelemetry::trace::FutureExt;
pub use opentelemetry::trace::SpanKind as Kind;
pub use opentelemetry::{Context as TraceContext, KeyValue as Attribute};

/// The instrumentation scope of every span this workspace starts.
pub const SCOPE: &str = "lightspeed";

/// Longest status message a span gets (error descriptions are already free of
/// secrets; this keeps a long one from bloating every export).
const STATUS_MESSAGE_BYTES_MAX: usize = 256;

static INSTALLED: AtomicBool = AtomicBool::new(false);

/// How an OTLP exporter reaches its receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `http/protobuf` (the OTLP default; port 4318 by convention).
    HttpProtobuf,
    /// `grpc` (port 4317 by convention).
    Grpc,
}

#[derive(Debug, thiserror::Error)]
pub enum TraceSetupError {
    #[error("{variable}={value:?}: expected http/protobuf or grpc")]
    Protocol {
        variable: &'static str,
        value: String,
    },
    #[error("building the OTLP span exporter failed: {0}")]
    Exporter(String),
}

/// What the environment asks of trace export; `None` from [`Self::from_env`] when
/// traces are off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceExport {
    pub protocol: Protocol,
    /// `service.name`: `OTEL_SERVICE_NAME` when set, else the process's own default.
    pub service_name: String,
}

fn variable(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
}

impl TraceExport {
    /// Traces are on when `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` is set. The exporter reads the endpoint, headers
    /// (`OTEL_EXPORTER_OTLP_HEADERS`) and timeout itself, as the OTLP specification
    /// names them; the batch processor reads `OTEL_BSP_*` and the sampler
    /// `OTEL_TRACES_SAMPLER` (default: parent-based, always on).
    pub fn from_env(default_service_name: &str) -> Result<Option<Self>, TraceSetupError> {
        Self::from_lookup(default_service_name, variable)
    }

    fn from_lookup(
        default_service_name: &str,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, TraceSetupError> {
        let endpoint = lookup("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            .or_else(|| lookup("OTEL_EXPORTER_OTLP_ENDPOINT"));
        if endpoint.is_none() {
            return Ok(None);
        }
        let (variable, value) = match lookup("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") {
            Some(value) => ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", value),
            None => (
                "OTEL_EXPORTER_OTLP_PROTOCOL",
                lookup("OTEL_EXPORTER_OTLP_PROTOCOL").unwrap_or_default(),
            ),
        };
        let protocol = match value.trim() {
            "" | "http/protobuf" => Protocol::HttpProtobuf,
            "grpc" => Protocol::Grpc,
            _ => return Err(TraceSetupError::Protocol { variable, value }),
        };
        Ok(Some(Self {
            protocol,
            service_name: lookup("OTEL_SERVICE_NAME")
                .unwrap_or_else(|| default_service_name.to_owned()),
        }))
    }

    fn exporter(&self) -> Result<SpanExporter, TraceSetupError> {
        let built = match self.protocol {
            Protocol::HttpProtobuf => SpanExporter::builder()
                .with_http()
                .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                .build(),
            // tonic's channel runs on the tokio runtime it is built in; the batch
            // processor's thread only waits on it.
            Protocol::Grpc => SpanExporter::builder().with_tonic().build(),
        };
        built.map_err(|err| TraceSetupError::Exporter(err.to_string()))
    }
}

/// The installed tracer provider; [`TracesGuard::shutdown`] exports what is still
/// batched (call it when the process stops, or spans of its last moments are lost).
#[must_use = "dropping the guard does not flush; call shutdown when the process stops"]
pub struct TracesGuard {
    provider: SdkTracerProvider,
}

impl TracesGuard {
    /// Exports every span still batched and stops the exporter.
    pub fn shutdown(self) {
        if let Err(err) = self.provider.shutdown() {
            tracing::warn!(error = %err, "exporting the last spans failed");
        }
    }
}

/// Installs the process's tracer provider: a batch processor over the OTLP exporter
/// (`wrap` may wrap it, as the Temporal worker does to drop spans of replayed
/// workflow code), spans numbered by `id_generator`, W3C trace context as the
/// propagator. Call it inside the tokio runtime (the gRPC exporter's channel lives
/// there).
pub fn install<G, P>(
    export: &TraceExport,
    id_generator: G,
    wrap: impl FnOnce(BatchSpanProcessor) -> P,
) -> Result<TracesGuard, TraceSetupError>
where
    G: IdGenerator + 'static,
    P: SpanProcessor + 'static,
{
    let processor = BatchSpanProcessor::builder(export.exporter()?).build();
    let resource = Resource::builder()
        .with_service_name(export.service_name.clone())
        .with_attribute(KeyValue::new(
            "service.version",
            env!("CARGO_PKG_VERSION").to_owned(),
        ))
        .with_attribute(KeyValue::new(
            "service.instance.id",
            format!("{}-{}", hostname(), std::process::id()),
        ))
        .build();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(wrap(processor))
        .with_id_generator(id_generator)
        .with_resource(resource)
        .build();
    global::set_tracer_provider(provider.clone());
    global::set_text_map_propagator(TraceContextPropagator::new());
    INSTALLED.store(true, Ordering::Release);
    tracing::info!(
        service = %export.service_name,
        protocol = ?export.protocol,
        "exporting traces over OTLP"
    );
    Ok(TracesGuard { provider })
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .unwrap_or_else(|_| "host".to_owned())
}

/// Whether this process exports traces (after [`install`]).
pub fn enabled() -> bool {
    INSTALLED.load(Ordering::Acquire)
}

/// Starts span `name` as a child of `parent` and returns the context holding it:
/// run work under it with [`FutureExt::with_context`], end it with [`finish`].
pub fn start(
    name: impl Into<Cow<'static, str>>,
    kind: SpanKind,
    parent: &Context,
    attributes: Vec<KeyValue>,
) -> Context {
    let tracer = global::tracer(SCOPE);
    let span = tracer
        .span_builder(name)
        .with_kind(kind)
        .with_attributes(attributes)
        .start_with_context(&tracer, parent);
    parent.with_span(span)
}

/// [`start`] under the current context.
pub fn child(
    name: impl Into<Cow<'static, str>>,
    kind: SpanKind,
    attributes: Vec<KeyValue>,
) -> Context {
    start(name, kind, &Context::current(), attributes)
}

/// Adds `attributes` to the span of `context` (nothing when it is not recording).
pub fn annotate(context: &Context, attributes: Vec<KeyValue>) {
    let span = context.span();
    if span.is_recording() {
        span.set_attributes(attributes);
    }
}

/// Ends the span of `context`, as failed with `failure` (a secret-free description,
/// cut to a bounded length) when given.
pub fn finish(context: &Context, failure: Option<&str>) {
    let span = context.span();
    if let Some(failure) = failure {
        span.set_status(Status::error(bounded(failure)));
    }
    span.end();
}

fn bounded(text: &str) -> String {
    if text.len() <= STATUS_MESSAGE_BYTES_MAX {
        return text.to_owned();
    }
    let mut end = STATUS_MESSAGE_BYTES_MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

struct HeaderInjector<'a>(&'a mut http::HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(key.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

/// Puts the current span's `traceparent` (W3C trace context) into `headers`; nothing
/// when traces are off or no span is current.
pub fn inject(headers: &mut http::HeaderMap) {
    if !enabled() {
        return;
    }
    let context = Context::current();
    global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut HeaderInjector(headers));
    });
}

/// The current span's `traceparent` header value, for protocols that carry trace
/// context in their messages (MCP's `_meta.traceparent`).
pub fn traceparent() -> Option<String> {
    let mut headers = http::HeaderMap::new();
    inject(&mut headers);
    headers
        .get("traceparent")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

/// The remote parent a request's headers name (`traceparent`); an empty context
/// when traces are off or the request names none.
pub fn extract(headers: &http::HeaderMap) -> Context {
    if !enabled() {
        return Context::new();
    }
    TraceContextPropagator::new().extract(&HeaderExtractor(headers))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn traces_are_off_without_an_endpoint() {
        let export = TraceExport::from_lookup("svc", lookup(&[("OTEL_SERVICE_NAME", "x")]));
        assert_eq!(export.unwrap(), None);
    }

    #[test]
    fn the_protocol_and_service_name_come_from_the_environment() {
        let export = TraceExport::from_lookup(
            "lightspeed-worker",
            lookup(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")]),
        )
        .unwrap()
        .unwrap();
        assert_eq!(export.protocol, Protocol::HttpProtobuf);
        assert_eq!(export.service_name, "lightspeed-worker");
        let export = TraceExport::from_lookup(
            "lightspeed-worker",
            lookup(&[
                ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c:4317"),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
                ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc"),
                ("OTEL_SERVICE_NAME", "agents-eu"),
            ]),
        )
        .unwrap()
        .unwrap();
        assert_eq!(export.protocol, Protocol::Grpc);
        assert_eq!(export.service_name, "agents-eu");
    }

    #[test]
    fn an_unsupported_protocol_is_refused_with_its_variable_named() {
        let err = TraceExport::from_lookup(
            "svc",
            lookup(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ]),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("OTEL_EXPORTER_OTLP_PROTOCOL"),
            "{err}"
        );
    }

    #[test]
    fn status_messages_are_bounded_on_a_char_boundary() {
        let long = "é".repeat(STATUS_MESSAGE_BYTES_MAX);
        let cut = bounded(&long);
        assert!(cut.len() <= STATUS_MESSAGE_BYTES_MAX + '…'.len_utf8());
        assert_eq!(bounded("short"), "short");
    }
}
