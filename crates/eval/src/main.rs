//! `lightspeed-eval`: see the crate README for the case format and flags.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use eval::case::load_cases;
use eval::offline::default_bin;
use eval::report::Report;
use eval::suite::{Live, SuiteOptions, parse_model, run_suite};
use serde_json::{Map, Value};

#[derive(Debug, Parser)]
#[command(
    name = "lightspeed-eval",
    about = "Runs eval cases through Lightspeed over its JSON-RPC API"
)]
struct Args {
    /// Case files or directories of them.
    #[arg(default_value = "evals/cases")]
    cases: Vec<PathBuf>,
    /// Case runs at a time.
    #[arg(long, default_value_t = 4)]
    jobs: usize,
    /// Write the results as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write a self-contained HTML report.
    #[arg(long)]
    html: Option<PathBuf>,
    /// Use an existing server (LIGHTSPEED_API_URL, LIGHTSPEED_API_KEY) and a real
    /// model instead of fake providers.
    #[arg(long)]
    live: bool,
    /// The model route for --live: provider:apiKind:model, e.g.
    /// openai:openai:responses:gpt-5.
    #[arg(long)]
    model: Option<String>,
    /// A configuration to compare, NAME=overrides.json (session config fields
    /// merged over each case's); give it twice to compare two.
    #[arg(long = "config", value_name = "NAME=FILE")]
    configs: Vec<String>,
    /// Render two earlier --json results side by side instead of running.
    #[arg(long, num_args = 2, value_names = ["A.json", "B.json"])]
    compare: Option<Vec<PathBuf>>,
    #[arg(long, default_value_os_t = default_bin("server"))]
    server_bin: PathBuf,
    #[arg(long, default_value_os_t = default_bin("fake-provider"))]
    fake_provider_bin: PathBuf,
    /// Seconds one case run may take.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
    /// Keep logs, scripts and the server's data here (default: a temporary
    /// directory, removed at the end).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    #[arg(long, env = "LIGHTSPEED_API_URL", hide_env_values = true)]
    api_url: Option<String>,
    #[arg(long, env = "LIGHTSPEED_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
}

fn parse_config(spec: &str) -> anyhow::Result<(String, Map<String, Value>)> {
    let (name, file) = spec
        .split_once('=')
        .with_context(|| format!("--config {spec}: expected NAME=FILE"))?;
    let text = std::fs::read_to_string(file).with_context(|| format!("--config {name}: {file}"))?;
    let value: Value =
        serde_json::from_str(&text).with_context(|| format!("--config {name}: {file}"))?;
    match value {
        Value::Object(map) => Ok((name.to_owned(), map)),
        _ => bail!("--config {name}: {file} must hold a JSON object"),
    }
}

fn read_report(path: &PathBuf) -> anyhow::Result<Report> {
    let text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
    serde_json::from_str(&text).with_context(|| path.display().to_string())
}

async fn run(args: Args) -> anyhow::Result<Report> {
    if let Some(files) = &args.compare {
        let [a, b] = files.as_slice() else {
            bail!("--compare needs two files");
        };
        return Ok(Report::merge(read_report(a)?, read_report(b)?));
    }
    let cases = load_cases(&args.cases)?;
    if cases.is_empty() {
        bail!("no cases in {:?}", args.cases);
    }
    let configs = args
        .configs
        .iter()
        .map(|spec| parse_config(spec))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let live = if args.live {
        let url = args
            .api_url
            .clone()
            .context("--live needs LIGHTSPEED_API_URL")?;
        let key = args
            .api_key
            .clone()
            .context("--live needs LIGHTSPEED_API_KEY")?;
        let route = args.model.as_deref().context("--live needs --model")?;
        let model = parse_model(route)
            .with_context(|| format!("--model {route}: expected provider:apiKind:model"))?;
        Some(Live { url, key, model })
    } else {
        for bin in [&args.server_bin, &args.fake_provider_bin] {
            if !bin.exists() {
                bail!(
                    "{} not found (build it, or pass --server-bin / --fake-provider-bin)",
                    bin.display()
                );
            }
        }
        None
    };
    // Held until the end: the temporary directory goes when it drops.
    let temp = match &args.work_dir {
        Some(_) => None,
        None => Some(tempfile::tempdir().context("temporary directory")?),
    };
    let work_dir = match (&args.work_dir, &temp) {
        (Some(dir), _) => dir.clone(),
        (None, Some(temp)) => temp.path().to_path_buf(),
        (None, None) => bail!("no work directory"),
    };
    let options = SuiteOptions {
        jobs: args.jobs,
        live,
        configs,
        server_bin: args.server_bin.clone(),
        fake_provider_bin: args.fake_provider_bin.clone(),
        timeout: Duration::from_secs(args.timeout),
        work_dir,
        progress: true,
    };
    Ok(run_suite(&cases, &options).await?)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let json = args.json.clone();
    let html = args.html.clone();
    // The server, Temporal and fake providers run in process groups of their own (so
    // they can be stopped as groups) and so miss the terminal's Ctrl-C: dropping the
    // suite's future on Ctrl-C drops their handles, which SIGTERM the groups.
    let outcome = tokio::select! {
        outcome = run(args) => outcome,
        _ = tokio::signal::ctrl_c() => {
            eprintln!("lightspeed-eval: interrupted");
            return ExitCode::from(130);
        }
    };
    let report = match outcome {
        Ok(report) => report,
        Err(err) => {
            eprintln!("lightspeed-eval: {err:#}");
            return ExitCode::from(2);
        }
    };
    print!("{}", report.table());
    let diffs = report.failure_diffs();
    if !diffs.is_empty() {
        println!("\n{diffs}");
    }
    let written = write_outputs(&report, json, html);
    if let Err(err) = written {
        eprintln!("lightspeed-eval: {err:#}");
        return ExitCode::from(2);
    }
    if report.all_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn write_outputs(
    report: &Report,
    json: Option<PathBuf>,
    html: Option<PathBuf>,
) -> anyhow::Result<()> {
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(report)?;
        std::fs::write(&path, text).with_context(|| path.display().to_string())?;
    }
    if let Some(path) = html {
        std::fs::write(&path, report.html()).with_context(|| path.display().to_string())?;
    }
    Ok(())
}
