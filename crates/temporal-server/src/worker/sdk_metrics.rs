//! The Temporal SDK's own metrics (`temporal_*`), which it keeps in a private
//! registry behind an exporter of its own: a worker built while the process serves
//! worker metrics starts that exporter on an ephemeral loopback port, and the
//! binary's metrics endpoint reads and appends it.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

static WANTED: AtomicBool = AtomicBool::new(false);
static EXPORTER: OnceLock<SocketAddr> = OnceLock::new();

/// Asks workers built from now on to start the SDK's exporter.
pub fn want() {
    WANTED.store(true, Ordering::SeqCst);
}

pub(crate) fn wanted() -> bool {
    WANTED.load(Ordering::SeqCst)
}

/// Records where the first worker's exporter listens.
pub(crate) fn started(addr: SocketAddr) {
    let _ = EXPORTER.set(addr);
}

/// Where the SDK's exporter listens, once a worker started it.
pub fn exporter() -> Option<SocketAddr> {
    EXPORTER.get().copied()
}

/// The SDK's telemetry: a Prometheus meter when wanted (its exporter started on
/// 127.0.0.1, an ephemeral port), else the SDK's defaults.
pub(crate) fn telemetry() -> temporalio_common::telemetry::TelemetryOptions {
    use temporalio_common::telemetry::{
        PrometheusExporterOptions, TelemetryOptions, start_prometheus_metric_exporter,
    };
    if !wanted() {
        return TelemetryOptions::default();
    }
    let options = PrometheusExporterOptions::builder()
        .socket_addr(SocketAddr::from(([127, 0, 0, 1], 0)))
        .counters_total_suffix(true)
        .use_seconds_for_durations(true)
        .build();
    match start_prometheus_metric_exporter(options) {
        Ok(exporter) => {
            started(exporter.bound_addr);
            let meter: std::sync::Arc<dyn temporalio_common::telemetry::metrics::CoreMeter> =
                exporter.meter;
            TelemetryOptions::builder().metrics(meter).build()
        }
        Err(err) => {
            // The worker runs without the SDK's series rather than not at all.
            tracing::warn!(error = %err, "starting the Temporal SDK's metrics exporter failed");
            TelemetryOptions::default()
        }
    }
}
