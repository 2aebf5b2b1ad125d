//! The figures of one invocation, as a table (stdout) or one JSON object (`--json`).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::cold_start::ColdStart;
use crate::history::HistoryFigures;
use crate::rss::{RssFigures, WorkerMode};
use crate::scale::ScaleFigures;
use crate::throughput::{Rate, ThroughputFigures};

#[derive(Debug, Serialize)]
pub(crate) struct Report {
    /// `debug` or `release`: throughput and RSS depend on it.
    pub(crate) build: &'static str,
    /// CPUs this process may use, and the machine's 1-minute load average when the
    /// measurements started and ended: rates and latencies depend on what else runs.
    pub(crate) cpus: usize,
    pub(crate) load_average_start: f64,
    pub(crate) load_average_end: f64,
    /// Which workflow shape the history sessions ran in.
    pub(crate) history_shape: &'static str,
    pub(crate) history: Option<Vec<HistoryFigures>>,
    pub(crate) throughput: Option<ThroughputFigures>,
    pub(crate) rss: Option<RssFigures>,
    pub(crate) scale: Option<ScaleFigures>,
    pub(crate) cold_start: Option<ColdStart>,
}

pub(crate) fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// `append_events 4.00, llm_generate 1.00, ...`
fn activities(per_turn: &BTreeMap<String, f64>) -> String {
    per_turn
        .iter()
        .map(|(name, count)| format!("{name} {count:.2}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Report {
    pub(crate) fn table(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = self.write_table(&mut out);
        out
    }

    fn write_table(&self, out: &mut String) -> std::fmt::Result {
        writeln!(
            out,
            "temporal-bench ({} build): Temporal dev server, zero-latency fake provider, store-fs",
            self.build
        )?;
        writeln!(
            out,
            "machine: {} CPUs, 1-minute load average {:.2} at the start, {:.2} at the end",
            self.cpus, self.load_average_start, self.load_average_end
        )?;
        writeln!(
            out,
            "A turn is one run: answered by one text reply, or with tool calls, one generation \
             calling `sleep` (0 ms) in one batch and one answering."
        )?;
        if let Some(history) = &self.history {
            write_history(out, self.history_shape, history)?;
        }
        if let Some(throughput) = &self.throughput {
            write_throughput(out, throughput)?;
        }
        if let Some(rss) = &self.rss {
            write_rss(out, rss)?;
        }
        if let Some(cold) = &self.cold_start {
            write_cold_start(out, cold)?;
        }
        if let Some(scale) = &self.scale {
            write_scale(out, scale)?;
        }
        Ok(())
    }
}

fn write_history(out: &mut String, shape: &str, history: &[HistoryFigures]) -> std::fmt::Result {
    writeln!(out)?;
    writeln!(
        out,
        "History per session in the workflow shape {shape} (summed over every run of its continue-as-new chain; sizes from DescribeWorkflowExecution)"
    )?;
    writeln!(
        out,
        "{:>6} {:>6} {:>5} {:>8} {:>11} {:>10} {:>11} {:>11}  largest activity payload",
        "turns", "tools", "runs", "events", "bytes", "bytes/turn", "events/turn", "largest run"
    )?;
    for figures in history {
        let payload = figures.largest_payload.as_ref().map_or_else(
            || "-".to_owned(),
            |p| format!("{} B ({} {})", p.bytes, p.activity_type, p.direction),
        );
        writeln!(
            out,
            "{:>6} {:>6} {:>5} {:>8} {:>11} {:>10.0} {:>11.1} {:>11}  {payload}",
            figures.turns,
            figures.tool_calls_per_turn,
            figures.runs.len(),
            figures.events_total,
            figures.bytes_total,
            figures.bytes_per_turn,
            figures.events_per_turn,
            figures.run_bytes_max,
        )?;
    }
    for figures in history {
        writeln!(
            out,
            "  {} turns, {} tool calls/turn: activities/turn: {}; per run (events/bytes): {}",
            figures.turns,
            figures.tool_calls_per_turn,
            activities(&figures.activities_per_turn),
            figures
                .runs
                .iter()
                .map(|run| format!("{}/{}", run.events, run.bytes))
                .collect::<Vec<_>>()
                .join(" ")
        )?;
    }
    Ok(())
}

fn write_throughput(out: &mut String, figures: &ThroughputFigures) -> std::fmt::Result {
    writeln!(out)?;
    writeln!(
        out,
        "Throughput: {} turns over {} sessions (up to {} turns outstanding each), per workflow and round; {} round(s), fresh Temporal server per phase",
        figures.turns,
        figures.sessions,
        crate::throughput::WINDOW,
        figures.rounds
    )?;
    writeln!(
        out,
        "{:<22} {:>8} {:>8} {:>10} {:>10} {:>11} {:>12} {:>13}",
        "workflow",
        "seconds",
        "turns/s",
        "cpu ms/t",
        "srv ms/t",
        "events/turn",
        "cont.-as-new",
        "dispatch ms"
    )?;
    let row = |out: &mut String, name: &str, rate: &Rate| {
        writeln!(
            out,
            "{name:<22} {:>8.2} {:>8.2} {:>10.2} {:>10.2} {:>11.1} {:>12} {:>6.1}/{:<6.1}",
            rate.seconds,
            rate.turns_per_second,
            rate.bench_cpu_ms_per_turn,
            rate.temporal_cpu_ms_per_turn,
            rate.events_per_turn,
            rate.continued_as_new,
            rate.activity_dispatch_ms_median,
            rate.workflow_task_dispatch_ms_median,
        )?;
        writeln!(
            out,
            "{:<22} activities/turn: {}",
            "",
            activities(&rate.activities_per_turn)
        )
    };
    row(out, "AgentSessionWorkflow", &figures.session_workflow)?;
    row(out, "no-op workflow", &figures.noop_workflow)?;
    writeln!(
        out,
        "ratio (session turns/s / no-op turns/s): {:.3} (per round: {})",
        figures.ratio,
        figures
            .round_ratios
            .iter()
            .map(|ratio| format!("{ratio:.3}"))
            .collect::<Vec<_>>()
            .join(", ")
    )?;
    writeln!(
        out,
        "cpu ms/t: CPU of the bench process (worker, client, fake provider) per turn; srv ms/t: \
         CPU of the Temporal dev server per turn;"
    )?;
    writeln!(
        out,
        "dispatch ms: median schedule-to-start of activity tasks / workflow tasks, from history event times"
    )
}

/// Where the worker of a figure ran.
fn worker_description(mode: WorkerMode, binary: Option<&std::path::Path>) -> String {
    match (mode, binary) {
        (WorkerMode::InProcess, _) | (_, None) => {
            "in this process (figures include the bench client and fake provider)".to_owned()
        }
        (_, Some(binary)) => format!("`server worker` child process ({})", binary.display()),
    }
}

fn write_rss(out: &mut String, figures: &RssFigures) -> std::fmt::Result {
    writeln!(out)?;
    let worker = worker_description(figures.worker, figures.worker_binary.as_deref());
    writeln!(
        out,
        "Worker RSS: {} concurrent sessions x {} turns in {:.1} s; worker: {worker}",
        figures.sessions, figures.turns_per_session, figures.seconds
    )?;
    writeln!(
        out,
        "{:>14} {:>14} {:>14} {:>14} {:>14} {:>18}",
        "baseline", "peak (VmHWM)", "sampled peak", "end", "per session", "Temporal server"
    )?;
    writeln!(
        out,
        "{:>14} {:>14} {:>14} {:>14} {:>14} {:>18}",
        mib(figures.baseline_rss_bytes),
        mib(figures.peak_rss_bytes),
        mib(figures.sampled_peak_rss_bytes),
        mib(figures.end_rss_bytes),
        format!("{:.1} KiB", figures.per_session_bytes / 1024.0),
        figures
            .temporal_server_peak_rss_bytes
            .map_or_else(|| "-".to_owned(), mib),
    )
}

fn write_scale(out: &mut String, figures: &ScaleFigures) -> std::fmt::Result {
    writeln!(out)?;
    let worker = worker_description(figures.worker, figures.worker_binary.as_deref());
    writeln!(
        out,
        "Scale: {} concurrent sessions x {} turns on one worker (every 2nd turn calls {} tools); worker: {worker}",
        figures.sessions, figures.turns_per_session, figures.tool_calls_per_tool_turn
    )?;
    let tuning = &figures.worker_tuning;
    writeln!(
        out,
        "worker settings: max cached workflows {}, workflow task slots {}, activity slots {}, local activity slots {}",
        tuning.max_cached_workflows,
        tuning.workflow_task_slots,
        tuning.activity_task_slots,
        tuning.local_activity_slots
    )?;
    writeln!(
        out,
        "completion: {}/{} sessions opened in {:.1} s, {}/{} sessions completed, {}/{} turns finished \
         ({} with tools, {} not completed), {} errors{}",
        figures.sessions_opened,
        figures.sessions,
        figures.open_seconds,
        figures.sessions_completed,
        figures.sessions_opened,
        figures.turns_finished,
        figures.turns_requested,
        figures.tool_turns_finished,
        figures.turns_not_completed,
        figures.errors,
        if figures.timed_out {
            format!(" (deadline of {:.0} s reached)", figures.deadline_seconds)
        } else {
            String::new()
        }
    )?;
    for error in &figures.first_errors {
        writeln!(out, "  error: {error}")?;
    }
    writeln!(
        out,
        "turns: {:.2} turns/s over {:.1} s",
        figures.turns_per_second, figures.turn_seconds
    )?;
    for (kind, latency) in [
        ("all", &figures.turn_latency_ms),
        ("text", &figures.text_turn_latency_ms),
        ("tool", &figures.tool_turn_latency_ms),
    ] {
        writeln!(
            out,
            "latency ms, {kind} turns: p50 {:.0}, p90 {:.0}, p99 {:.0}, max {:.0} ({} turns)",
            latency.p50, latency.p90, latency.p99, latency.max, latency.count
        )?;
    }
    writeln!(
        out,
        "worker RSS: baseline {}, all open {}, peak (VmHWM) {}, end {}; {:.1} KiB per session",
        mib(figures.baseline_rss_bytes),
        mib(figures.opened_rss_bytes),
        mib(figures.peak_rss_bytes),
        mib(figures.end_rss_bytes),
        figures.rss_per_session_bytes / 1024.0
    )?;
    writeln!(
        out,
        "CPU ms per turn: worker {:.2}, Temporal server {:.2}, bench {:.2}; worker {:.2} ms per session opened; \
         Temporal server peak {}",
        figures.worker_cpu_ms_per_turn,
        figures.temporal_cpu_ms_per_turn,
        figures.bench_cpu_ms_per_turn,
        figures.worker_open_cpu_ms_per_session,
        figures
            .temporal_server_peak_rss_bytes
            .map_or_else(|| "-".to_owned(), mib),
    )
}

fn write_cold_start(out: &mut String, figures: &ColdStart) -> std::fmt::Result {
    use std::fmt::Write as _;
    writeln!(
        out,
        "\ncold start on Postgres: {} entries, {} context items; checkpoint at {} ({} bytes, {} chunks)",
        figures.entries,
        figures.context_items,
        figures.checkpoint_seq,
        figures.checkpoint_bytes,
        figures.checkpoint_chunks
    )?;
    writeln!(
        out,
        "  control state (load_session): checkpoint + tail {:.1} ms, full replay {:.1} ms ({:.2} %)",
        figures.control_checkpoint_ms, figures.control_replay_ms, figures.control_percent
    )?;
    writeln!(
        out,
        "  full state (request rebuild): checkpoint + tail {:.1} ms, full replay {:.1} ms ({:.2} %)",
        figures.full_checkpoint_ms, figures.full_replay_ms, figures.full_percent
    )
}
