//! OpenTelemetry traces across processes and a worker restart (issue 18,
//! docs/operating/traces.md): a `server gateway` exporting OTLP over gRPC and two
//! `server worker` processes in turn exporting OTLP/HTTP, to receivers in this test
//! that decode every request with the official OpenTelemetry protobuf types. One run makes one trace: the gateway's
//! `run/start` span → the client's workflow update → the workflow's handling of it →
//! each activity's scheduling and execution → the provider call, whose HTTP request
//! carries its `traceparent`. The first worker stops while the first generation is in
//! flight; the second replays the workflow and adds its spans to the same trace, under
//! the same update span. No span carries the prompt or the key.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use jsonrpsee::core::client::ClientT;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use prost::Message as _;
use serde_json::{Value, json};
use temporal_server::devserver;
use test_support::fake_provider::{FakeProvider, FakeProviderConfig};
use test_support::rpc_client::params;
use uuid::Uuid;

use crate::agents::read_until;
use crate::harness::temporal_address;
use crate::postgres::{mint_key, rpc_client, server, stack_env, wait_healthy};

/// In the prompt only: no span may carry it.
const PROMPT_MARKER: &str = "prompt-marker-7f3a";

/// One exported span, with its process's resource attributes.
#[derive(Debug, Clone)]
struct Exported {
    service: String,
    instance: String,
    trace_id: String,
    span_id: String,
    parent_span_id: String,
    name: String,
    attributes: BTreeMap<String, String>,
}

fn text(value: Option<&AnyValue>) -> String {
    match value {
        Some(AnyValue::StringValue(text)) => text.clone(),
        Some(AnyValue::IntValue(number)) => number.to_string(),
        Some(AnyValue::BoolValue(flag)) => flag.to_string(),
        Some(AnyValue::DoubleValue(number)) => number.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

fn attributes(pairs: &[KeyValue]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|pair| {
            let value = pair.value.as_ref().and_then(|value| value.value.as_ref());
            (pair.key.clone(), text(value))
        })
        .collect()
}

/// An OTLP/HTTP receiver: `POST /v1/traces` with a protobuf body.
#[derive(Clone, Default)]
struct Receiver {
    spans: Arc<Mutex<Vec<Exported>>>,
}

impl Receiver {
    async fn start(self) -> String {
        let port = devserver::free_port().unwrap();
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let receiver = self.clone();
        let app = axum::Router::new().route(
            "/v1/traces",
            axum::routing::post(move |body: Bytes| {
                let receiver = receiver.clone();
                async move {
                    let request = ExportTraceServiceRequest::decode(body).unwrap();
                    receiver.record(&request);
                    (
                        [("content-type", "application/x-protobuf")],
                        ExportTraceServiceResponse::default().encode_to_vec(),
                    )
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://127.0.0.1:{port}")
    }

    /// The same receiver over gRPC (`TraceService/Export`): a bare HTTP/2 server that
    /// reads each call's length-prefixed message and answers an empty response with
    /// `grpc-status: 0`.
    async fn start_grpc(self) -> String {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                let receiver = self.clone();
                tokio::spawn(async move {
                    let Ok(mut connection) = h2::server::handshake(socket).await else {
                        return;
                    };
                    while let Some(Ok((request, respond))) = connection.accept().await {
                        tokio::spawn(receiver.clone().grpc_export(request, respond));
                    }
                });
            }
        });
        format!("http://127.0.0.1:{port}")
    }

    async fn grpc_export(
        self,
        request: axum::http::Request<h2::RecvStream>,
        mut respond: h2::server::SendResponse<Bytes>,
    ) {
        assert_eq!(
            request.uri().path(),
            "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
        );
        let mut body = request.into_body();
        let mut message = Vec::new();
        while let Some(chunk) = body.data().await {
            let chunk = chunk.unwrap();
            let _ = body.flow_control().release_capacity(chunk.len());
            message.extend_from_slice(&chunk);
        }
        // One uncompressed message: flag byte 0, then its length, big-endian.
        assert_eq!(message[0], 0, "uncompressed");
        let length = u32::from_be_bytes(message[1..5].try_into().unwrap()) as usize;
        let request = ExportTraceServiceRequest::decode(&message[5..5 + length]).unwrap();
        self.record(&request);
        let response = axum::http::Response::builder()
            .status(200)
            .header("content-type", "application/grpc")
            .body(())
            .unwrap();
        let mut stream = respond.send_response(response, false).unwrap();
        let reply = ExportTraceServiceResponse::default().encode_to_vec();
        let mut frame = vec![0];
        frame.extend_from_slice(&u32::try_from(reply.len()).unwrap().to_be_bytes());
        frame.extend_from_slice(&reply);
        stream.send_data(Bytes::from(frame), false).unwrap();
        let mut trailers = axum::http::HeaderMap::new();
        trailers.insert("grpc-status", "0".parse().unwrap());
        stream.send_trailers(trailers).unwrap();
    }

    fn record(&self, request: &ExportTraceServiceRequest) {
        let mut spans = self.spans.lock().unwrap();
        for resource_spans in &request.resource_spans {
            let resource = resource_spans
                .resource
                .as_ref()
                .map(|resource| attributes(&resource.attributes))
                .unwrap_or_default();
            for scope in &resource_spans.scope_spans {
                for span in &scope.spans {
                    spans.push(Exported {
                        service: resource.get("service.name").cloned().unwrap_or_default(),
                        instance: resource
                            .get("service.instance.id")
                            .cloned()
                            .unwrap_or_default(),
                        trace_id: hex::encode(&span.trace_id),
                        span_id: hex::encode(&span.span_id),
                        parent_span_id: hex::encode(&span.parent_span_id),
                        name: span.name.clone(),
                        attributes: attributes(&span.attributes),
                    });
                }
            }
        }
    }

    fn spans(&self) -> Vec<Exported> {
        self.spans.lock().unwrap().clone()
    }
}

/// The names on the way from `span` up to its trace's root, `span` first.
fn ancestry(spans: &[Exported], span: &Exported) -> Vec<String> {
    let by_id: BTreeMap<&str, &Exported> = spans
        .iter()
        .map(|span| (span.span_id.as_str(), span))
        .collect();
    let mut names = vec![span.name.clone()];
    let mut parent = span.parent_span_id.as_str();
    while let Some(next) = by_id.get(parent) {
        names.push(next.name.clone());
        parent = next.parent_span_id.as_str();
    }
    names
}

fn traced_command(
    args: &[&str],
    stack: &[(&'static str, String)],
    temporal: &str,
    task_queue: &str,
    endpoint: &str,
) -> tokio::process::Command {
    let mut command = server(args, stack, temporal, task_queue);
    command
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .env_remove("OTEL_SERVICE_NAME")
        .env_remove("OTEL_EXPORTER_OTLP_PROTOCOL")
        .stderr(Stdio::null());
    command
}

async fn stop_gracefully(child: &mut tokio::process::Child) {
    crate::harness::signal(child, "TERM");
    let exited = tokio::time::timeout(Duration::from_secs(60), child.wait()).await;
    assert!(exited.is_ok(), "the worker stopped within a minute");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_is_one_trace_from_the_gateway_to_the_provider_across_a_worker_restart() {
    let Some(stack) = stack_env() else { return };
    let Some(temporal) = temporal_address().await else {
        return;
    };
    let universe = Uuid::new_v4();
    let task_queue = format!("traces-{}", &universe.simple().to_string()[..12]);
    let key = mint_key(&stack, &temporal, &task_queue, &universe.to_string()).await;
    let receiver = Receiver::default();
    let endpoint = receiver.clone().start().await;
    // The first generation takes 4 s, so the first worker is stopped while it runs.
    let provider = FakeProvider::start(FakeProviderConfig {
        script: Some(
            serde_json::from_value(json!({"turns": [
                {"tool_calls": [{"name": "read_file", "arguments": {"path": "/work/notes.md"}}],
                 "delay_ms": 4_000},
                {"text": "The notes are missing."}
            ]}))
            .unwrap(),
        ),
        ..FakeProviderConfig::default()
    })
    .await
    .unwrap();
    let worker = |endpoint: &str| {
        let mut command = traced_command(&["worker"], &stack, &temporal, &task_queue, endpoint);
        command
            .env("OPENAI_BASE_URL", provider.openai_base_url())
            .env_remove("OPENAI_API_KEY");
        command.spawn().unwrap()
    };
    let mut first_worker = worker(&endpoint);
    let bind = format!("127.0.0.1:{}", devserver::free_port().unwrap());
    let grpc_endpoint = receiver.clone().start_grpc().await;
    let mut gateway = traced_command(
        &["gateway", "--bind", &bind],
        &stack,
        &temporal,
        &task_queue,
        &grpc_endpoint,
    )
    .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    .spawn()
    .unwrap();
    wait_healthy(&bind, &mut gateway).await;
    let rpc = rpc_client(&bind, &key);

    let config = json!({
        "model": {"providerId": "openai", "apiKind": "openai:responses", "model": "m"},
        "tools": {"filesystem": "readOnly"}
    });
    let _: Value = rpc
        .request(
            "session/start",
            params(json!({"sessionId": "s-traced", "config": config})),
        )
        .await
        .unwrap();
    let run: Value = rpc
        .request(
            "run/start",
            params(json!({
                "sessionId": "s-traced",
                "submissionId": "sub-1",
                "input": [{"type": "text", "text": format!("Read my notes ({PROMPT_MARKER}).")}]
            })),
        )
        .await
        .unwrap();
    let run_id = run["runId"].as_str().unwrap().to_owned();

    // The first generation is in flight on the first worker: stop it (it finishes
    // the call within its grace period and exports its spans), then start another.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while provider.requests().is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no generation began"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop_gracefully(&mut first_worker).await;
    let mut second_worker = worker(&endpoint);
    let events = read_until(&rpc, "s-traced", |event| {
        event["kind"] == "lightspeed.core.run.finished"
    })
    .await;
    let finished = events.last().unwrap();
    assert_eq!(finished["run"]["status"], "completed", "{finished:#}");

    // Both generations' spans and all above them arrive (each process exports every
    // 100 ms; an activity's span ends after its provider call's).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let spans = loop {
        let spans = receiver.spans();
        let calls: Vec<&Exported> = spans.iter().filter(|span| span.name == "chat m").collect();
        // A workflow's span of scheduling an activity ends only when the workflow has
        // the activity's result: for the first call that may have been replayed by the
        // second worker (not exported again), so only the second's whole chain is
        // awaited, and the first's activity.
        let parented = calls.iter().all(|call| {
            let chain = ancestry(&spans, call);
            match call.attributes.get("lightspeed.turn").map(String::as_str) {
                Some("2") => chain.last().map(String::as_str) == Some("run/start"),
                _ => chain.len() >= 2,
            }
        });
        let tool_ran = spans
            .iter()
            .any(|span| span.name.starts_with("RunActivity:tool_invoke"));
        if calls.len() >= 2 && parented && tool_ran {
            break spans;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "both provider calls and their activities exported: {:#?}",
            brief(&spans)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    // The root: the gateway's span of `run/start`, naming the run it started.
    let root = spans
        .iter()
        .find(|span| {
            span.service == "lightspeed-gateway"
                && span.name == "run/start"
                && span.attributes.get("lightspeed.run.id") == Some(&run_id)
        })
        .unwrap_or_else(|| panic!("the run/start span: {spans:#?}"));
    assert_eq!(root.parent_span_id, "", "the call named no remote parent");
    assert_eq!(
        root.attributes
            .get("lightspeed.session.id")
            .map(String::as_str),
        Some("s-traced")
    );
    let trace: Vec<Exported> = spans
        .iter()
        .filter(|span| span.trace_id == root.trace_id)
        .cloned()
        .collect();

    // Both provider calls are in the run's trace, one per worker, each under the
    // execution of its activity, under its scheduling by the workflow, under the
    // workflow's handling of the update the gateway's call sent.
    let calls: Vec<&Exported> = trace.iter().filter(|span| span.name == "chat m").collect();
    assert_eq!(calls.len(), 2, "{trace:#?}");
    let instances: std::collections::BTreeSet<&str> =
        calls.iter().map(|span| span.instance.as_str()).collect();
    assert_eq!(instances.len(), 2, "one call on each worker: {calls:#?}");
    for call in &calls {
        assert_eq!(call.service, "lightspeed-worker");
        assert_eq!(call.attributes["gen_ai.request.model"], "m");
        assert_eq!(call.attributes["gen_ai.provider.name"], "openai");
        assert_eq!(call.attributes["lightspeed.run.id"], run_id);
        assert_eq!(call.attributes["lightspeed.session.id"], "s-traced");
        assert!(
            call.attributes.contains_key("gen_ai.usage.input_tokens"),
            "{call:#?}"
        );
        assert!(
            call.attributes.contains_key("lightspeed.cost.nano_usd"),
            "{call:#?}"
        );
        let activity = trace
            .iter()
            .find(|span| span.span_id == call.parent_span_id)
            .unwrap_or_else(|| panic!("the activity of {call:#?} in {:#?}", brief(&trace)));
        assert!(
            activity.name.starts_with("RunActivity:llm_generate"),
            "{activity:#?}"
        );
        assert_eq!(activity.instance, call.instance);
    }
    let turns: Vec<&str> = calls
        .iter()
        .map(|call| call.attributes["lightspeed.turn"].as_str())
        .collect();
    assert!(turns.contains(&"1") && turns.contains(&"2"), "{turns:?}");
    // After the restart the whole chain is there, ids recovered by replay.
    let second = calls
        .iter()
        .find(|call| call.attributes["lightspeed.turn"] == "2")
        .unwrap();
    let chain = ancestry(&trace, second);
    assert_eq!(
        chain.last().map(String::as_str),
        Some("run/start"),
        "{chain:?}"
    );
    for expected in [
        "RunActivity:llm_generate",
        "StartActivity:llm_generate",
        "HandleUpdate:admit",
    ] {
        assert!(
            chain.iter().any(|name| name.starts_with(expected)),
            "{expected} in {chain:?}"
        );
    }
    // The tool call ran on the second worker, in the same trace.
    assert!(
        trace
            .iter()
            .any(|span| span.name.starts_with("RunActivity:tool_invoke")
                && span.attributes.get("gen_ai.tool.name").map(String::as_str)
                    == Some("read_file")),
        "{trace:#?}"
    );

    // Each provider request carried its call span as the W3C parent.
    let requests = provider.requests();
    assert_eq!(requests.len(), 2);
    for request in &requests {
        let traceparent = &request.headers["traceparent"];
        let parts: Vec<&str> = traceparent.split('-').collect();
        assert_eq!(parts[1], root.trace_id, "{traceparent}");
        assert!(
            calls.iter().any(|call| call.span_id == parts[2]),
            "{traceparent} names a provider call span"
        );
    }

    // Ids and counts only: no prompt, no key.
    for span in &spans {
        let carried = format!("{} {:?}", span.name, span.attributes);
        assert!(!carried.contains(PROMPT_MARKER), "{span:#?}");
        assert!(!carried.contains(&key), "{span:#?}");
    }

    stop_gracefully(&mut second_worker).await;
    stop_gracefully(&mut gateway).await;
}

/// `trace` as one line per span, for failure messages.
fn brief(trace: &[Exported]) -> Vec<String> {
    trace
        .iter()
        .map(|span| {
            format!(
                "{} {} <- {} {} @{}",
                span.name, span.span_id, span.parent_span_id, span.service, span.instance
            )
        })
        .collect()
}
