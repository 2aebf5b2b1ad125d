//! `fake-provider`: runs the fake LLM provider until killed. The first stdout line is the
//! bound address (`127.0.0.1:PORT`); nothing else is written to stdout.
//!
//! Must not: listen beyond 127.0.0.1, use TLS, or log per request (a parent that never
//! reads our pipes must not block us).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use test_support::fake_provider::{FakeProvider, FakeProviderConfig, Script};

/// Fake OpenAI Responses / Chat Completions / Anthropic Messages server for tests.
#[derive(Debug, Parser)]
#[command(name = "fake-provider")]
struct Args {
    /// Port on 127.0.0.1; 0 picks a free one.
    #[arg(long)]
    port: u16,
    /// Script file: `{"turns": [...]}` (see docs/fake-provider.md).
    #[arg(long, conflicts_with = "replay")]
    script: Option<PathBuf>,
    /// Directory of recorded responses, served verbatim in file-name order.
    #[arg(long)]
    replay: Option<PathBuf>,
    /// File every request is appended to, one JSON line each.
    #[arg(long)]
    record: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line, no backtrace: callers grep this.
            eprintln!("fake-provider: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let script = args.script.as_deref().map(Script::from_file).transpose()?;
    let config = FakeProviderConfig {
        script,
        replay_dir: args.replay,
        record_file: args.record,
        port: args.port,
        // The record file is the only consumer of requests here.
        requests_kept_max: 0,
    };
    let server = FakeProvider::start(config).await?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", server.addr()).context("writing the address to stdout")?;
    stdout.flush().context("flushing stdout")?;
    drop(stdout);
    stopped().await?;
    server.shutdown().await;
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn stopped() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate =
            signal(SignalKind::terminate()).context("installing SIGTERM handler")?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.context("waiting for Ctrl-C")?,
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    Ok(())
}
