//! The worker's metrics endpoint: `GET /metrics` on `LIGHTSPEED_WORKER_METRICS_BIND`
//! (off unless set), the process's series (`telemetry`) followed by the Temporal
//! SDK's own (`temporal_*`: task slots, polls, schedule-to-start latency, sticky
//! cache), so one scrape sees both. A gateway serves `/metrics` on its own address;
//! a process running both (`server both`, `server dev`) has one registry, so either
//! endpoint shows the worker's series, and this one adds the SDK's.
//!
//! The SDK keeps its registry private and serves it from its own exporter, which
//! `temporal_server::worker::sdk_metrics` starts on an ephemeral loopback port when this endpoint is on;
//! a scrape here reads that exporter and appends its text (the SDK's families are
//! all prefixed `temporal_`, ours `lightspeed_`, so the two never clash).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use clap::Args;

/// How long a scrape waits for the SDK's exporter.
const SDK_SCRAPE_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Args)]
pub(crate) struct WorkerMetricsArgs {
    /// Serve the worker's Prometheus metrics (with the Temporal SDK's) at
    /// `http://ADDR/metrics`; unset: not served (a gateway in the same process
    /// still serves the process's own series at its `/metrics`).
    #[arg(long, env = "LIGHTSPEED_WORKER_METRICS_BIND")]
    worker_metrics_bind: Option<SocketAddr>,
}

impl WorkerMetricsArgs {
    /// Starts the endpoint when configured; call before the worker starts.
    pub(crate) async fn start(&self) -> anyhow::Result<()> {
        let Some(bind) = self.worker_metrics_bind else {
            return Ok(());
        };
        temporal_server::worker::sdk_metrics::want();
        let listener = tokio::net::TcpListener::bind(bind)
            .await
            .with_context(|| format!("binding the worker metrics endpoint on {bind}"))?;
        let local = listener.local_addr()?;
        let app = Router::new().route("/metrics", get(scrape));
        tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, app).await {
                tracing::error!(error = %err, "the worker metrics endpoint stopped");
            }
        });
        eprintln!("lightspeed: worker metrics on http://{local}/metrics");
        Ok(())
    }
}

async fn scrape() -> impl IntoResponse {
    let mut text = telemetry::metrics().render();
    if let Some(addr) = temporal_server::worker::sdk_metrics::exporter() {
        match sdk_text(addr).await {
            Ok(sdk) => text.push_str(&sdk),
            // The process's own series still go out; the gap shows in the SDK's.
            Err(err) => tracing::warn!(error = %err, "reading the Temporal SDK's metrics failed"),
        }
    }
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        text,
    )
}

async fn sdk_text(addr: SocketAddr) -> anyhow::Result<String> {
    let response = reqwest::Client::new()
        .get(format!("http://{addr}/metrics"))
        .timeout(SDK_SCRAPE_TIMEOUT)
        .send()
        .await?
        .error_for_status()?;
    Ok(response.text().await?)
}
