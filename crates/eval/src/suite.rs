//! Runs every case × configuration × run, `jobs` at a time, offline (own server and
//! fake providers) or live (an existing server), and gathers the [`Report`].

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Map, Value, json};

use crate::EvalError;
use crate::case::Case;
use crate::matchers::evaluate;
use crate::offline::{
    FakeProvider, PROVIDERS_PER_SERVER, ProviderEntry, providers_toml, start_fake_provider,
    start_server,
};
use crate::report::{CaseResult, Report, RunResult, Skipped};
use crate::rpc::RpcClient;
use crate::runner::{RunSpec, run_case};

/// An existing server and the model route for `--live`.
#[derive(Debug, Clone)]
pub struct Live {
    pub url: String,
    pub key: String,
    pub model: Value,
}

#[derive(Debug, Clone)]
pub struct SuiteOptions {
    pub jobs: usize,
    pub live: Option<Live>,
    /// Named configurations (session config overrides); empty: one, `default`.
    pub configs: Vec<(String, Map<String, Value>)>,
    pub server_bin: PathBuf,
    pub fake_provider_bin: PathBuf,
    pub timeout: Duration,
    /// Scripts, fake provider and server logs, the server's data.
    pub work_dir: PathBuf,
    pub progress: bool,
}

/// `provider:apiKind:model` (the API kind has a colon itself: `openai:responses`).
pub fn parse_model(route: &str) -> Option<Value> {
    let (provider, rest) = route.split_once(':')?;
    let (api_kind, model) = rest.rsplit_once(':')?;
    if provider.is_empty() || api_kind.is_empty() || model.is_empty() {
        return None;
    }
    Some(json!({"providerId": provider, "apiKind": api_kind, "model": model}))
}

/// One unit of work: a case's run under a configuration.
#[derive(Debug, Clone)]
struct Job {
    case: usize,
    config: usize,
    run: u32,
}

fn session_id(nonce: &str, case: &str, config: &str, run: u32) -> String {
    let clean: String = format!("{case}-{config}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    format!("eval-{nonce}-{clean}-{run}")
}

pub async fn run_suite(cases: &[Case], options: &SuiteOptions) -> Result<Report, EvalError> {
    let started = Instant::now();
    let configs = if options.configs.is_empty() {
        vec![("default".to_owned(), Map::new())]
    } else {
        options.configs.clone()
    };
    let mut jobs = Vec::new();
    let mut skipped = Vec::new();
    for (case_index, case) in cases.iter().enumerate() {
        if let Some(path) = case.missing_requirement() {
            skipped.push(Skipped {
                name: case.name.clone(),
                reason: format!("missing {path}"),
            });
            continue;
        }
        for config in 0..configs.len() {
            for run in 0..case.runs {
                jobs.push(Job {
                    case: case_index,
                    config,
                    run,
                });
            }
        }
    }
    let progress = if options.progress {
        ProgressBar::new(jobs.len() as u64)
    } else {
        ProgressBar::hidden()
    };
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} {msg}")
    {
        progress.set_style(style);
    }
    let nonce = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let mut results: Vec<(Job, RunResult)> = Vec::new();
    match &options.live {
        Some(live) => {
            let client = Arc::new(RpcClient::new(&live.url, &live.key)?);
            let specs = jobs
                .iter()
                .map(|job| {
                    let (name, overrides) = &configs[job.config];
                    let case = &cases[job.case];
                    let spec = RunSpec {
                        session_id: session_id(&nonce, &case.name, name, job.run),
                        model: live.model.clone(),
                        overrides: overrides.clone(),
                        timeout: options.timeout,
                        record_file: None,
                    };
                    (job.clone(), case.clone(), spec, client.clone())
                })
                .collect();
            results.extend(run_jobs(specs, options.jobs, &progress).await);
        }
        None => {
            for (chunk_index, chunk) in jobs.chunks(PROVIDERS_PER_SERVER).enumerate() {
                let dir = options.work_dir.join(format!("server-{chunk_index}"));
                results.extend(
                    run_offline_chunk(cases, &configs, chunk, &dir, &nonce, options, &progress)
                        .await?,
                );
            }
        }
    }
    progress.finish_and_clear();
    let mut report = gather(cases, &configs, results, options, started);
    report.skipped = skipped;
    Ok(report)
}

async fn run_jobs(
    specs: Vec<(Job, Case, RunSpec, Arc<RpcClient>)>,
    jobs: usize,
    progress: &ProgressBar,
) -> Vec<(Job, RunResult)> {
    futures::stream::iter(specs)
        .map(|(job, case, spec, client)| async move {
            let outcome = run_case(&client, &case, &spec).await;
            let mismatches = evaluate(&case.expect, &outcome);
            progress.inc(1);
            if !mismatches.is_empty() {
                progress.set_message(format!("{} failed", case.name));
            }
            let result = RunResult {
                index: job.run,
                session_id: spec.session_id.clone(),
                passed: mismatches.is_empty(),
                mismatches,
                outcome,
            };
            (job, result)
        })
        .buffer_unordered(jobs.max(1))
        .collect()
        .await
}

/// Offline: a fake provider per job, one server for the chunk, then the jobs.
async fn run_offline_chunk(
    cases: &[Case],
    configs: &[(String, Map<String, Value>)],
    chunk: &[Job],
    dir: &std::path::Path,
    nonce: &str,
    options: &SuiteOptions,
    progress: &ProgressBar,
) -> Result<Vec<(Job, RunResult)>, EvalError> {
    let io = |path: &std::path::Path| {
        let path = path.to_path_buf();
        move |err| EvalError::Io { path, source: err }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut fakes: Vec<FakeProvider> = Vec::new();
    let mut entries = Vec::new();
    let mut specs = Vec::new();
    for (index, job) in chunk.iter().enumerate() {
        let case = &cases[job.case];
        let script = match &case.fake_provider {
            Some(script) => {
                let path = dir.join(format!("script-{index}.json"));
                std::fs::write(&path, script.to_string()).map_err(io(&path))?;
                Some(path)
            }
            None => None,
        };
        let log = dir.join(format!("fake-provider-{index}.log"));
        let record = dir.join(format!("requests-{index}.jsonl"));
        let fake =
            start_fake_provider(&options.fake_provider_bin, script.as_deref(), &record, &log)
                .await
                .map_err(|err| EvalError::Process(format!("case {}: {err}", case.name)))?;
        let api_kind = case
            .session
            .get("model")
            .and_then(|m| m.get("apiKind"))
            .and_then(Value::as_str)
            .unwrap_or("openai:responses")
            .to_owned();
        let provider_id = format!("eval-{index}");
        entries.push(ProviderEntry {
            id: provider_id.clone(),
            api_kind: api_kind.clone(),
            addr: fake.addr.clone(),
        });
        fakes.push(fake);
        // Offline the route is always this job's fake provider: a case's or
        // configuration's `model` would point elsewhere.
        let mut case = case.clone();
        case.session.remove("model");
        let (config_name, overrides) = &configs[job.config];
        let mut overrides = overrides.clone();
        overrides.remove("model");
        let spec = RunSpec {
            session_id: session_id(nonce, &case.name, config_name, job.run),
            model: json!({"providerId": provider_id, "apiKind": api_kind, "model": "fake-model"}),
            overrides,
            timeout: options.timeout,
            record_file: Some(record),
        };
        specs.push((job.clone(), case, spec));
    }
    let providers_file = dir.join("providers.toml");
    std::fs::write(&providers_file, providers_toml(&entries)).map_err(io(&providers_file))?;
    progress.set_message("starting server dev");
    let server = start_server(&options.server_bin, &providers_file, dir).await?;
    progress.set_message("");
    let client = Arc::new(RpcClient::new(&server.url, &server.key)?);
    let specs = specs
        .into_iter()
        .map(|(job, case, spec)| (job, case, spec, client.clone()))
        .collect();
    let results = run_jobs(specs, options.jobs, progress).await;
    server.process.stop().await;
    for fake in fakes {
        fake.process.stop().await;
    }
    Ok(results)
}

fn gather(
    cases: &[Case],
    configs: &[(String, Map<String, Value>)],
    mut results: Vec<(Job, RunResult)>,
    options: &SuiteOptions,
    started: Instant,
) -> Report {
    results.sort_by_key(|(job, _)| (job.case, job.config, job.run));
    let mut report = Report {
        configs: configs.iter().map(|(name, _)| name.clone()).collect(),
        mode: if options.live.is_some() {
            "live".into()
        } else {
            "offline".into()
        },
        wall_ms: 0,
        cases: Vec::new(),
        skipped: Vec::new(),
    };
    for (case_index, case) in cases.iter().enumerate() {
        if case.missing_requirement().is_some() {
            continue;
        }
        for (config_index, (config, _)) in configs.iter().enumerate() {
            let runs = results
                .iter()
                .filter(|(job, _)| job.case == case_index && job.config == config_index)
                .map(|(_, result)| result.clone())
                .collect();
            report.cases.push(CaseResult {
                name: case.name.clone(),
                description: case.description.clone(),
                config: config.clone(),
                min_pass_rate: case.min_pass_rate,
                runs,
            });
        }
    }
    report.wall_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    report
}
