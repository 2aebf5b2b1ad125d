//! Process metrics in the Prometheus text format, one registry per process
//! ([`metrics`]): what the gateway serves at `/metrics` and the worker at its own
//! metrics address (docs/operating/metrics.md lists every series). OpenTelemetry
//! traces ([`traces`]): off unless an OTLP endpoint is set (docs/operating/traces.md).
//!
//! Labels are bounded by construction: a JSON-RPC method outside the contract is
//! `unknown`, outcomes, activity kinds and token kinds are fixed words, and provider
//! and model are the deployment's own routes (a provider id that is not configured
//! fails its generation before it is counted). Nothing here takes a session, run,
//! universe or key id, and no content.
//!
//! What this crate must not do: depend on another crate of the workspace (every
//! layer may record into it), or block: recording is a few atomic operations.

pub mod traces;

use std::sync::OnceLock;
use std::time::Duration;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

/// Latency buckets, seconds: from a fast store read to a long generation.
const LATENCY_BUCKETS_S: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0, 300.0,
];

/// Every series this process records.
pub struct Metrics {
    registry: Registry,
    rpc_calls: IntCounterVec,
    rpc_seconds: HistogramVec,
    ws_connections: IntGauge,
    subscriptions_dropped: IntCounter,
    deltas_dropped: IntCounter,
    runs_started: IntCounter,
    runs_finished: IntCounterVec,
    turns: IntCounterVec,
    tokens: IntCounterVec,
    cost_nanos: IntCounterVec,
    activity_seconds: HistogramVec,
    activity_failures: IntCounterVec,
    activity_retries: IntCounterVec,
    store_seconds: HistogramVec,
    hooks_reloads: IntCounterVec,
}

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

fn counter_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let vec = IntCounterVec::new(Opts::new(name, help), labels)
        .unwrap_or_else(|err| panic!("metric {name} is well formed: {err}"));
    register(registry, Box::new(vec.clone()), name);
    vec
}

fn histogram_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> HistogramVec {
    let opts = HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS_S.to_vec());
    let vec = HistogramVec::new(opts, labels)
        .unwrap_or_else(|err| panic!("metric {name} is well formed: {err}"));
    register(registry, Box::new(vec.clone()), name);
    vec
}

fn register(registry: &Registry, collector: Box<dyn prometheus::core::Collector>, name: &str) {
    // Names are constants of this file, registered once: a clash is a bug here.
    if let Err(err) = registry.register(collector) {
        panic!("metric {name} registers once: {err}");
    }
}

impl Metrics {
    fn new() -> Self {
        let registry = Registry::new_custom(Some("lightspeed".into()), None)
            .unwrap_or_else(|err| panic!("the registry prefix is valid: {err}"));
        let r = &registry;
        let ws_connections = IntGauge::new("ws_connections", "Open WebSocket connections.")
            .unwrap_or_else(|err| panic!("ws_connections is well formed: {err}"));
        register(r, Box::new(ws_connections.clone()), "ws_connections");
        let deltas_dropped = IntCounter::new(
            "deltas_dropped_total",
            "Live deltas dropped on their way from a worker to the gateways (a full relay \
             queue); committed events never are.",
        )
        .unwrap_or_else(|err| panic!("deltas_dropped_total is well formed: {err}"));
        register(r, Box::new(deltas_dropped.clone()), "deltas_dropped_total");
        let subscriptions_dropped = IntCounter::new(
            "subscriptions_dropped_total",
            "Subscriptions closed because their subscriber fell behind (subscriberTooSlow).",
        )
        .unwrap_or_else(|err| panic!("subscriptions_dropped_total is well formed: {err}"));
        register(
            r,
            Box::new(subscriptions_dropped.clone()),
            "subscriptions_dropped_total",
        );
        let runs_started = IntCounter::new("runs_started_total", "Runs that started.")
            .unwrap_or_else(|err| panic!("runs_started_total is well formed: {err}"));
        register(r, Box::new(runs_started.clone()), "runs_started_total");
        Self {
            rpc_calls: counter_vec(
                r,
                "rpc_calls_total",
                "JSON-RPC calls answered, by method and code (0: success).",
                &["method", "code"],
            ),
            rpc_seconds: histogram_vec(
                r,
                "rpc_call_seconds",
                "JSON-RPC call latency, by method.",
                &["method"],
            ),
            ws_connections,
            subscriptions_dropped,
            deltas_dropped,
            runs_started,
            runs_finished: counter_vec(
                r,
                "runs_finished_total",
                "Runs that ended, by outcome (completed, failed, cancelled).",
                &["outcome"],
            ),
            turns: counter_vec(
                r,
                "turns_total",
                "Generations completed, by provider and model.",
                &["provider", "model"],
            ),
            tokens: counter_vec(
                r,
                "tokens_total",
                "Tokens of completed generations, by provider, model and kind \
                 (input, cached_input, output, reasoning).",
                &["provider", "model", "kind"],
            ),
            cost_nanos: counter_vec(
                r,
                "cost_nano_usd_total",
                "Cost of completed generations in nano-USD, by provider and model.",
                &["provider", "model"],
            ),
            activity_seconds: histogram_vec(
                r,
                "activity_seconds",
                "Worker activity latency, by kind.",
                &["kind"],
            ),
            activity_failures: counter_vec(
                r,
                "activity_failures_total",
                "Worker activity attempts that failed (Temporal retries or records them), by kind.",
                &["kind"],
            ),
            activity_retries: counter_vec(
                r,
                "activity_retries_total",
                "Worker activity attempts that were retries of a failed attempt, by kind.",
                &["kind"],
            ),
            store_seconds: histogram_vec(
                r,
                "store_seconds",
                "Session log appends and loads by the worker, by operation.",
                &["op"],
            ),
            hooks_reloads: counter_vec(
                r,
                "hooks_reloads_total",
                "Webhook files read again on SIGHUP, by outcome (reloaded, failed: the \
                 hooks were kept).",
                &["outcome"],
            ),
            registry,
        }
    }

    /// Everything, in the Prometheus text exposition format (0.0.4).
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        if let Err(err) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            // The encoder writes into memory; a failure is a malformed metric here.
            return format!("# metrics could not be encoded: {err}\n");
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    /// One JSON-RPC call answered. `method` must be a contract method or `unknown`.
    pub fn rpc_call(&self, method: &str, code: i32, elapsed: Duration) {
        self.rpc_calls
            .with_label_values(&[method, &code.to_string()])
            .inc();
        self.rpc_seconds
            .with_label_values(&[method])
            .observe(elapsed.as_secs_f64());
    }

    pub fn ws_opened(&self) {
        self.ws_connections.inc();
    }

    pub fn ws_closed(&self) {
        self.ws_connections.dec();
    }

    pub fn subscription_dropped(&self) {
        self.subscriptions_dropped.inc();
    }

    pub fn delta_dropped(&self) {
        self.deltas_dropped.inc();
    }

    /// `outcome`: `reloaded` or `failed`.
    pub fn hooks_reloaded(&self, outcome: &str) {
        self.hooks_reloads.with_label_values(&[outcome]).inc();
    }

    pub fn run_started(&self) {
        self.runs_started.inc();
    }

    /// `outcome`: `completed`, `failed` or `cancelled`.
    pub fn run_finished(&self, outcome: &str) {
        self.runs_finished.with_label_values(&[outcome]).inc();
    }

    /// One completed generation and what it used.
    pub fn turn(&self, provider: &str, model: &str, usage: TurnUsage) {
        self.turns.with_label_values(&[provider, model]).inc();
        for (kind, tokens) in [
            ("input", usage.input_tokens),
            ("cached_input", usage.cached_input_tokens),
            ("output", usage.output_tokens),
            ("reasoning", usage.reasoning_tokens),
        ] {
            self.tokens
                .with_label_values(&[provider, model, kind])
                .inc_by(tokens);
        }
        self.cost_nanos
            .with_label_values(&[provider, model])
            .inc_by(usage.cost_nanos);
    }

    /// One activity attempt of `kind` took `elapsed`; `failed` when it returned an
    /// activity error; `retry` when it was not the first attempt.
    pub fn activity(&self, kind: &str, elapsed: Duration, failed: bool, retry: bool) {
        self.activity_seconds
            .with_label_values(&[kind])
            .observe(elapsed.as_secs_f64());
        if failed {
            self.activity_failures.with_label_values(&[kind]).inc();
        }
        if retry {
            self.activity_retries.with_label_values(&[kind]).inc();
        }
    }

    /// One store operation (`append`, `load`) of the worker.
    pub fn store(&self, op: &str, elapsed: Duration) {
        self.store_seconds
            .with_label_values(&[op])
            .observe(elapsed.as_secs_f64());
    }
}

/// The token counts and cost of one generation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TurnUsage {
    pub input_tokens: u64,
    pub cached_input_tokens: u64,
    pub output_tokens: u64,
    pub reasoning_tokens: u64,
    pub cost_nanos: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_values_are_rendered_with_their_labels() {
        let metrics = metrics();
        metrics.rpc_call("session/read", -32004, Duration::from_millis(3));
        metrics.turn(
            "openai",
            "gpt-5",
            TurnUsage {
                input_tokens: 100,
                output_tokens: 7,
                cost_nanos: 1_500,
                ..TurnUsage::default()
            },
        );
        metrics.run_finished("completed");
        let text = metrics.render();
        assert!(
            text.contains(r#"lightspeed_rpc_calls_total{code="-32004",method="session/read"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(
                r#"lightspeed_tokens_total{kind="output",model="gpt-5",provider="openai"} 7"#
            ),
            "{text}"
        );
        assert!(text.contains(r#"lightspeed_runs_finished_total{outcome="completed"} 1"#));
        assert!(text.contains("# TYPE lightspeed_rpc_call_seconds histogram"));
    }
}
