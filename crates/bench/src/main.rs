//! `temporal-bench`: what hosting sessions on Temporal costs, measured on a real
//! Temporal dev server that the bench spawns on a free port, with the zero-latency fake
//! provider and a filesystem store in a temporary directory.
//!
//! - `history` ([`history`]): workflow history bytes and events per turn for sessions of
//!   several lengths, over every run of the continue-as-new chain, and the largest
//!   activity payload.
//! - `throughput` ([`throughput`]): turns per second through `AgentSessionWorkflow`
//!   against a no-op workflow ([`noop`]) scheduling the same activities per turn.
//! - `rss` ([`rss`]): the worker's peak resident set with many concurrent sessions.
//! - `cold-start` ([`cold_start`], only when named in `--only`: it needs Postgres):
//!   rehydrating a session of 100,000 log entries from checkpoint + tail against a
//!   full replay, control state (`load_session`) and full state (request rebuild).
//! - `scale` ([`scale`]): 1,000 concurrent sessions of several turns (some calling
//!   tools) against one `server worker` process: completion, turns per second, turn
//!   latency percentiles, peak RSS per session and worker CPU per turn.
//!
//! Progress goes to stderr; the figures to stdout, as a table or (`--json`) one JSON
//! object.
//!
//! What this binary must not do: touch any Temporal server, store or provider but the
//! ones it starts, or change what it measures (it drives sessions through the same
//! `SessionClient` and worker the product uses).

mod chain;
mod cold_start;
mod driver;
mod history;
mod noop;
mod procfs;
mod report;
mod rss;
mod scale;
mod stack;
mod throughput;
mod tools;

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, ValueEnum};

use crate::report::Report;
use crate::rss::WorkerMode;

#[derive(Debug, Parser)]
#[command(
    name = "temporal-bench",
    about = "History bytes per turn, turns per second against a no-op workflow, worker RSS, and many \
             sessions on one worker, on a Temporal dev server the bench spawns (needs the `temporal` \
             CLI: local/up.sh installs it)"
)]
struct Cli {
    /// Session lengths for the history figure, in turns [default: 10,100,500; --quick: 3,6].
    #[arg(long, value_delimiter = ',', value_parser = clap::value_parser!(u64).range(1..=100_000))]
    turns: Option<Vec<u64>>,
    /// Tool calls each turn of the history sessions makes, one session per value per
    /// length; 0 is text-only turns [default: 0,2].
    #[arg(long, value_delimiter = ',', value_parser = clap::value_parser!(u64).range(0..=16))]
    tool_calls_per_turn: Option<Vec<u64>>,
    /// Concurrent sessions for the RSS figure [default: 200; --quick: 5].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    sessions: Option<u64>,
    /// Turns each RSS session runs [default: 3; --quick: 1].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1_000))]
    turns_per_session: Option<u64>,
    /// Turns for the throughput figure, run once per workflow [default: 1000; --quick: 20].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    throughput_turns: Option<u64>,
    /// Sessions the throughput turns are spread over [default: 100; --quick: 2]. Enough
    /// of them that CPU (worker and Temporal server), not the dispatch latency of one
    /// session's activities, is the limit.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1_000))]
    throughput_sessions: Option<u64>,
    /// Throughput rounds; each runs both workflows, in alternating order
    /// [default: 2; --quick: 1].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=100))]
    throughput_rounds: Option<u64>,
    /// Concurrent sessions of the scale figure, on one worker [default: 1000; --quick: 5].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    scale_sessions: Option<u64>,
    /// Turns each scale session runs, one after another [default: 3; --quick: 2].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1_000))]
    scale_turns: Option<u64>,
    /// Tool calls (in one batch) of every second turn of a scale session; 0: text
    /// turns only [default: 2].
    #[arg(long, value_parser = clap::value_parser!(u64).range(0..=16))]
    scale_tool_calls: Option<u64>,
    /// The scale figure's turns stop here; what finished by then is reported
    /// [default: 600].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    scale_deadline_secs: Option<u64>,
    /// Log entries of the cold-start session [default: 100000; --quick: 2000].
    #[arg(long, value_parser = clap::value_parser!(u64).range(100..=10_000_000))]
    cold_start_entries: Option<u64>,
    /// Run only these measurements (comma-separated) [default: all but cold-start,
    /// which needs LIGHTSPEED_POSTGRES_URL and runs only when named].
    #[arg(long, value_delimiter = ',')]
    only: Vec<Measurement>,
    /// Sessions of the history figure run in the workflow shape before the history
    /// budget (regular store activities, one append per decision), to measure the
    /// budget against it on the same machine and build.
    #[arg(long)]
    legacy_history_shape: bool,
    /// Small sizes (for the smoke test); explicit sizes still win.
    #[arg(long)]
    quick: bool,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
    /// Where the worker of the RSS and scale measurements runs.
    #[arg(long, value_enum, default_value_t = WorkerMode::Auto)]
    rss_worker: WorkerMode,
    /// The `server` binary for the RSS and scale worker [default: `server` next to this
    /// binary].
    #[arg(long, env = "LIGHTSPEED_SERVER_BIN")]
    server_bin: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Measurement {
    History,
    Throughput,
    Rss,
    Scale,
    ColdStart,
}

/// Sizes after `--quick` and the defaults are applied.
struct Sizes {
    history_turns: Vec<u64>,
    history_tool_calls: Vec<u64>,
    throughput_turns: u64,
    throughput_sessions: u64,
    throughput_rounds: u64,
    rss_sessions: u64,
    rss_turns_per_session: u64,
    scale_sessions: u64,
    scale_turns: u64,
    scale_tool_calls: u64,
    scale_deadline_secs: u64,
    cold_start_entries: u64,
}

impl Cli {
    fn sizes(&self) -> Sizes {
        let pick = |explicit: Option<u64>, full: u64, quick: u64| {
            explicit.unwrap_or(if self.quick { quick } else { full })
        };
        Sizes {
            history_turns: self.turns.clone().unwrap_or_else(|| {
                if self.quick {
                    vec![3, 6]
                } else {
                    vec![10, 100, 500]
                }
            }),
            history_tool_calls: self
                .tool_calls_per_turn
                .clone()
                .unwrap_or_else(|| vec![0, 2]),
            throughput_turns: pick(self.throughput_turns, 1_000, 20),
            throughput_sessions: pick(self.throughput_sessions, 100, 2),
            throughput_rounds: pick(self.throughput_rounds, 2, 1),
            rss_sessions: pick(self.sessions, 200, 5),
            rss_turns_per_session: pick(self.turns_per_session, 3, 1),
            scale_sessions: pick(self.scale_sessions, 1_000, 5),
            scale_turns: pick(self.scale_turns, 3, 2),
            scale_tool_calls: pick(self.scale_tool_calls, 2, 2),
            scale_deadline_secs: pick(self.scale_deadline_secs, 600, 600),
            cold_start_entries: pick(self.cold_start_entries, 100_000, 2_000),
        }
    }

    fn runs(&self, measurement: Measurement) -> bool {
        if measurement == Measurement::ColdStart {
            return self.only.contains(&measurement);
        }
        self.only.is_empty() || self.only.contains(&measurement)
    }
}

/// Progress for the user, on stderr.
pub(crate) fn progress(message: std::fmt::Arguments<'_>) {
    eprintln!("[temporal-bench] {message}");
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Both ring and aws-lc-rs end up linked; pick one before any TLS use.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let stack = stack::Stack::start()
        .await
        .context("the bench runs against a Temporal dev server it starts itself")?;
    let result = measure(&cli, &stack).await;
    stack.shutdown().await;
    let report = result?;
    if cli.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.table());
    }
    Ok(())
}

async fn measure(cli: &Cli, stack: &stack::Stack) -> anyhow::Result<Report> {
    let sizes = cli.sizes();
    let mut report = Report {
        build: if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        cpus: std::thread::available_parallelism().map_or(1, usize::from),
        load_average_start: procfs::load_average()?,
        load_average_end: 0.0,
        history_shape: "",
        history: None,
        throughput: None,
        rss: None,
        scale: None,
        cold_start: None,
    };
    if cli.runs(Measurement::History) {
        let settings = temporal_workflow::WorkflowSettings {
            legacy_history_shape: cli.legacy_history_shape,
            ..temporal_workflow::WorkflowSettings::default()
        };
        report.history_shape = if cli.legacy_history_shape {
            "before the history budget (--legacy-history-shape)"
        } else {
            "the history budget's (history-budget-v1)"
        };
        report.history = Some(
            history::run(
                stack,
                &sizes.history_turns,
                &sizes.history_tool_calls,
                settings,
            )
            .await?,
        );
    }
    if cli.runs(Measurement::Throughput) {
        report.throughput = Some(
            throughput::run(
                stack,
                sizes.throughput_turns,
                sizes.throughput_sessions,
                sizes.throughput_rounds,
            )
            .await?,
        );
    }
    if cli.runs(Measurement::Rss) {
        report.rss = Some(
            rss::run(
                stack,
                sizes.rss_sessions,
                sizes.rss_turns_per_session,
                cli.rss_worker,
                cli.server_bin.as_deref(),
            )
            .await?,
        );
    }
    if cli.runs(Measurement::Scale) {
        let options = scale::ScaleOptions {
            sessions: sizes.scale_sessions,
            turns_per_session: sizes.scale_turns,
            tool_calls: sizes.scale_tool_calls,
            deadline: std::time::Duration::from_secs(sizes.scale_deadline_secs),
            worker: cli.rss_worker,
            server_binary: cli.server_bin.as_deref(),
        };
        report.scale = Some(scale::run(stack, &options).await?);
    }
    if cli.runs(Measurement::ColdStart) {
        report.cold_start = Some(cold_start::measure(sizes.cold_start_entries).await?);
    }
    report.load_average_end = procfs::load_average()?;
    Ok(report)
}
