//! What `lightspeed chat` asks for, checked once: the session to open or resume and
//! the model settings of a new session or of each run on a resumed one.

use std::path::PathBuf;

use api::types::run::{InputItem, RunLimitsInput, RunOverridesInput, RunStartParams, RunStatus};
use api::types::session::{
    FilesystemMode, GenerationInput, InstructionsInput, ModelRouteInput, ReasoningEffort,
    SessionBudget, SessionConfigInput, SessionStartParams, SessionView, ToolDecisionInput,
    ToolPolicyInput, ToolRuleInput, ToolsInput,
};
use api::types::vfs::{VfsMountMode, VfsMountPutParams, VfsMountSource, VfsWorkspaceCreateParams};

use crate::args::{ChatArgs, FilesystemTools, TypedFlags, non_empty};
use crate::client::{Client, ClientError};
use crate::error::CliError;
use crate::vfs::{SnapshotSummary, snapshot_dir};

pub const PROVIDER_DEFAULT: &str = "openai";
pub const API_KIND_DEFAULT: &str = "openai:responses";
pub const MODEL_DEFAULT: &str = "gpt-5";

/// The chat flags, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatSettings {
    /// Resume this session instead of starting one.
    pub session_id: Option<String>,
    pub provider: Option<String>,
    pub api_kind: Option<String>,
    pub model: Option<String>,
    pub effort: Option<ReasoningEffort>,
    pub max_tokens: Option<u32>,
    /// `None` when not given: `edit` with a mount, else none.
    pub filesystem: Option<FilesystemMode>,
    /// `--mount DIR` and `--mount-path`.
    pub mount: Option<(PathBuf, String)>,
    /// `--include-secrets`: upload secret files of the mounted directory too.
    pub include_secrets: bool,
    /// `--env NAME`: environments attached to the session.
    pub environments: Vec<String>,
    /// `--timers`: the durable time tools.
    pub timers: bool,
    /// `--agents`: the sub-agent tools.
    pub agents: bool,
    /// `--ask` and `--approval-timeout`, as the session's tool policy.
    pub tool_policy: Option<ToolPolicyInput>,
    /// `--max-cost-usd`: every run's cost budget (a new session's run default, a
    /// per-run override on a resumed one).
    pub max_cost_usd: Option<f64>,
    /// `--session-max-cost-usd`: a new session's budget over all its runs.
    pub session_max_cost_usd: Option<f64>,
    pub typed: TypedFlags,
}

impl ChatSettings {
    pub fn from_args(args: &ChatArgs) -> Result<Self, CliError> {
        let effort = non_empty(&args.effort).map(parse_effort).transpose()?;
        let max_tokens = non_empty(&args.max_tokens)
            .map(|raw| match raw.parse::<u32>() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(CliError::Usage(format!(
                    "--max-tokens (LIGHTSPEED_CHAT_MAX_TOKENS) must be a positive integer, not {raw:?}"
                ))),
            })
            .transpose()?;
        let filesystem = args.filesystem_tools.map(|tools| match tools {
            FilesystemTools::None => FilesystemMode::None,
            FilesystemTools::ReadOnly => FilesystemMode::ReadOnly,
            FilesystemTools::Edit => FilesystemMode::Edit,
        });
        if args.mount.is_some() && !args.mount_path.starts_with('/') {
            return Err(CliError::Usage(format!(
                "--mount-path must be absolute, not {:?}",
                args.mount_path
            )));
        }
        let session_id = non_empty(&args.session).map(str::to_owned);
        if args.session.is_some() && session_id.is_none() {
            return Err(CliError::Usage("--session needs a session id".into()));
        }
        Ok(Self {
            session_id,
            provider: non_empty(&args.provider).map(str::to_owned),
            api_kind: non_empty(&args.api_kind).map(str::to_owned),
            model: non_empty(&args.model).map(str::to_owned),
            effort,
            max_tokens,
            filesystem,
            mount: args.mount.clone().map(|dir| (dir, args.mount_path.clone())),
            include_secrets: args.include_secrets,
            environments: args.environments.clone(),
            timers: args.timers,
            agents: args.agents,
            tool_policy: tool_policy(&args.ask, args.approval_timeout)?,
            max_cost_usd: args
                .max_cost_usd
                .map(|usd| usd_flag("--max-cost-usd", usd))
                .transpose()?,
            session_max_cost_usd: args
                .session_max_cost_usd
                .map(|usd| usd_flag("--session-max-cost-usd", usd))
                .transpose()?,
            typed: args.typed,
        })
    }

    /// The model route of a new session: flags, environment, then defaults.
    pub fn route(&self) -> ModelRouteInput {
        ModelRouteInput {
            provider_id: self.provider.as_deref().unwrap_or(PROVIDER_DEFAULT).into(),
            api_kind: self.api_kind.as_deref().unwrap_or(API_KIND_DEFAULT).into(),
            model: self.model.as_deref().unwrap_or(MODEL_DEFAULT).into(),
        }
    }

    /// `session/start` params of a new session on `route` with `effort`, working in
    /// `mounted` when given.
    pub fn start_params(
        &self,
        route: ModelRouteInput,
        effort: Option<ReasoningEffort>,
        mounted: Option<&Mounted>,
    ) -> SessionStartParams {
        let default_tools = match (mounted, self.environments.is_empty()) {
            (None, true) => FilesystemMode::None,
            _ => FilesystemMode::Edit,
        };
        let mut lines = Vec::new();
        if let Some(mounted) = mounted {
            lines.push(format!(
                "Your working directory is {path}: a copy of the user's directory {dir}, \
                 mounted read-write. Use paths under {path} with your file tools.",
                path = mounted.mount_path,
                dir = mounted.dir,
            ));
        }
        for name in &self.environments {
            lines.push(format!(
                "Environment {name} is a real machine lent to you: run commands on it with \
                 your shell tool (environment {name:?}); your file tools see its directory at \
                 /env/{name}."
            ));
        }
        let instructions = (!lines.is_empty()).then(|| InstructionsInput::Text {
            text: lines.join("\n"),
        });
        SessionStartParams {
            // Mounts and attachments name the session before it starts.
            session_id: (mounted.is_some() || !self.environments.is_empty())
                .then(|| format!("session_{}", uuid::Uuid::new_v4().simple())),
            config: SessionConfigInput {
                model: route,
                instructions,
                generation: GenerationInput {
                    max_output_tokens: self.max_tokens,
                    reasoning_effort: effort,
                    ..GenerationInput::default()
                },
                context: Default::default(),
                run_defaults: RunLimitsInput {
                    max_cost_usd: self.max_cost_usd,
                    ..RunLimitsInput::default()
                },
                tools: ToolsInput {
                    filesystem: self.filesystem.unwrap_or(default_tools),
                    timers: self.timers,
                    schedules: false,
                    agents: self.agents,
                },
                tool_policy: self.tool_policy.clone(),
                budget: self.session_max_cost_usd.map(|usd| SessionBudget {
                    max_cost_usd: Some(usd),
                }),
            },
        }
    }

    /// Per-run overrides on a resumed session: only what was typed on the command
    /// line, so defaults from the environment never change an existing session.
    pub fn overrides(&self, session: &SessionView) -> Option<RunOverridesInput> {
        let typed = self.typed;
        let current = &session.config.model;
        let model = (typed.model || typed.provider || typed.api_kind).then(|| ModelRouteInput {
            provider_id: pick(typed.provider, &self.provider, &current.provider_id),
            api_kind: pick(typed.api_kind, &self.api_kind, &current.api_kind),
            model: pick(typed.model, &self.model, &current.model),
        });
        let overrides = RunOverridesInput {
            model,
            max_output_tokens: self.max_tokens.filter(|_| typed.max_tokens),
            reasoning_effort: self.effort.filter(|_| typed.effort),
            limits: self.max_cost_usd.map(|usd| RunLimitsInput {
                max_cost_usd: Some(usd),
                ..RunLimitsInput::default()
            }),
        };
        (overrides != RunOverridesInput::default()).then_some(overrides)
    }
}

fn pick(typed: bool, flag: &Option<String>, current: &str) -> String {
    match (typed, flag) {
        (true, Some(value)) => value.clone(),
        _ => current.to_owned(),
    }
}

/// A USD amount from a flag: a number of dollars, not below 0 (the server checks
/// the ceiling).
fn usd_flag(flag: &str, usd: f64) -> Result<f64, CliError> {
    if usd.is_finite() && usd >= 0.0 {
        Ok(usd)
    } else {
        Err(CliError::Usage(format!(
            "{flag} must be a number of US dollars, 0 or more, not {usd}"
        )))
    }
}

pub fn parse_effort(raw: &str) -> Result<ReasoningEffort, CliError> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "minimal" => Ok(ReasoningEffort::Minimal),
        "low" => Ok(ReasoningEffort::Low),
        "medium" => Ok(ReasoningEffort::Medium),
        "high" => Ok(ReasoningEffort::High),
        _ => Err(CliError::Usage(format!(
            "reasoning effort must be minimal, low, medium or high, not {raw:?}"
        ))),
    }
}

pub fn effort_name(effort: ReasoningEffort) -> &'static str {
    match effort {
        ReasoningEffort::Minimal => "minimal",
        ReasoningEffort::Low => "low",
        ReasoningEffort::Medium => "medium",
        ReasoningEffort::High => "high",
    }
}

/// `--ask` values as a tool policy: classes set their default, anything else is a
/// rule (a tool name or `*` pattern, checked by the server).
fn tool_policy(
    ask: &[String],
    timeout_secs: Option<u64>,
) -> Result<Option<ToolPolicyInput>, CliError> {
    if ask.is_empty() {
        if timeout_secs.is_some() {
            return Err(CliError::Usage("--approval-timeout needs --ask".into()));
        }
        return Ok(None);
    }
    let mut policy = ToolPolicyInput {
        approval_timeout_ms: timeout_secs.map(|secs| secs.saturating_mul(1_000)),
        ..ToolPolicyInput::default()
    };
    for tools in ask.iter().flat_map(|value| value.split(',')).map(str::trim) {
        let ask = Some(ToolDecisionInput::Ask);
        match tools {
            "" => {}
            "shell" => policy.shell = ask,
            "file-writes" | "files" => policy.file_writes = ask,
            "mcp" => policy.mcp = ask,
            "all" => {
                policy.shell = ask;
                policy.file_writes = ask;
                policy.mcp = ask;
                policy.other = ask;
            }
            pattern => policy.rules.push(ToolRuleInput {
                tools: pattern.to_owned(),
                decision: ToolDecisionInput::Ask,
            }),
        }
    }
    Ok(Some(policy))
}

pub fn run_status_name(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Queued => "queued",
        RunStatus::Running => "running",
        RunStatus::AwaitingApproval => "awaiting approval",
        RunStatus::Cancelling => "cancelling",
        RunStatus::Completed => "completed",
        RunStatus::Failed => "failed",
        RunStatus::Cancelled => "cancelled",
    }
}

/// A local directory uploaded as a workspace and mounted into the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mounted {
    /// The local directory, as given.
    pub dir: String,
    pub mount_path: String,
    pub workspace_id: String,
    pub snapshot: SnapshotSummary,
}

impl Mounted {
    /// One line for the user.
    pub fn describe(&self) -> String {
        format!(
            "mounted {} at {} read-write: workspace {}, {} files ({} new blobs uploaded); \
             the agent's changes stay in the workspace",
            self.dir,
            self.mount_path,
            self.workspace_id,
            self.snapshot.file_count,
            self.snapshot.blobs_uploaded
        )
    }

    async fn attach(&self, client: &Client, session_id: &str) -> Result<(), ClientError> {
        let params = VfsMountPutParams {
            session_id: session_id.to_owned(),
            mount_path: self.mount_path.clone(),
            source: VfsMountSource::Workspace {
                workspace_id: self.workspace_id.clone(),
            },
            mode: VfsMountMode::ReadWrite,
        };
        client.vfs_mount_put(&params).await.map(|_| ())
    }
}

/// An opened session and what each run on it carries.
#[derive(Debug, Clone)]
pub struct Opened {
    pub session: SessionView,
    pub overrides: Option<RunOverridesInput>,
    pub mounted: Option<Mounted>,
}

/// Resumes `--session` or starts a new session; with `--mount`, uploads the
/// directory as a workspace first and mounts it.
pub async fn open(client: &Client, settings: &ChatSettings) -> Result<Opened, CliError> {
    let mounted = match &settings.mount {
        Some((dir, mount_path)) => {
            Some(upload_workspace(client, dir, mount_path, settings.include_secrets).await?)
        }
        None => None,
    };
    let opened = match &settings.session_id {
        Some(session_id) => {
            let session = client.session_read(session_id).await?;
            if let Some(mounted) = &mounted {
                mounted.attach(client, session_id).await?;
            }
            let overrides = settings.overrides(&session);
            Opened {
                session,
                overrides,
                mounted,
            }
        }
        None => {
            let route = settings.route();
            let session =
                start_session(client, settings, route, settings.effort, mounted.as_ref()).await?;
            Opened {
                session,
                overrides: None,
                mounted,
            }
        }
    };
    attach_environments(client, &opened.session.session_id, &settings.environments).await?;
    Ok(opened)
}

/// Attaches `--env` environments to the session, each at its own name.
pub async fn attach_environments(
    client: &Client,
    session_id: &str,
    environments: &[String],
) -> Result<(), CliError> {
    for environment in environments {
        let params = api::types::env::SessionEnvironmentAttachParams {
            session_id: session_id.to_owned(),
            environment: environment.clone(),
            name: None,
        };
        let attached: api::types::env::SessionEnvironmentView =
            client.call("session/environments/attach", &params).await?;
        eprintln!(
            "lightspeed: environment {} attached ({}) at {}",
            attached.name,
            match attached.environment.status {
                api::types::env::EnvironmentStatus::Online => "online",
                api::types::env::EnvironmentStatus::Offline => "offline: its calls wait for it",
                api::types::env::EnvironmentStatus::Never =>
                    "never connected: its calls wait for it",
            },
            attached.path
        );
    }
    Ok(())
}

/// Starts a new session, mounting `mounted` first (mounts may precede the session).
pub async fn start_session(
    client: &Client,
    settings: &ChatSettings,
    route: ModelRouteInput,
    effort: Option<ReasoningEffort>,
    mounted: Option<&Mounted>,
) -> Result<SessionView, ClientError> {
    let params = settings.start_params(route, effort, mounted);
    if let (Some(mounted), Some(session_id)) = (mounted, &params.session_id) {
        mounted.attach(client, session_id).await?;
    }
    client.session_start(&params).await
}

async fn upload_workspace(
    client: &Client,
    dir: &std::path::Path,
    mount_path: &str,
    include_secrets: bool,
) -> Result<Mounted, CliError> {
    let snapshot = snapshot_dir(client, dir, include_secrets).await?;
    // Said on stderr whatever the output format, as `vfs snapshot` does.
    for skipped in &snapshot.skipped {
        eprintln!("lightspeed: skipped {skipped}");
    }
    let params = VfsWorkspaceCreateParams {
        workspace_id: None,
        snapshot_ref: Some(snapshot.snapshot_ref.clone()),
    };
    let workspace = client.vfs_workspace_create(&params).await?;
    Ok(Mounted {
        dir: dir.display().to_string(),
        mount_path: mount_path.to_owned(),
        workspace_id: workspace.workspace_id,
        snapshot,
    })
}

/// `run/start` params for one text message; the submission id makes retries of the
/// same call idempotent.
pub fn run_params(
    session_id: &str,
    text: String,
    overrides: Option<RunOverridesInput>,
) -> RunStartParams {
    RunStartParams {
        session_id: session_id.to_owned(),
        submission_id: format!("cli-{}", uuid::Uuid::new_v4().simple()),
        input: vec![InputItem::Text { text }],
        overrides,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Command, parse_from};

    fn settings(args: &[&str]) -> ChatSettings {
        let cli = parse_from(args.iter().copied()).unwrap();
        let Command::Chat(chat) = cli.command else {
            panic!("not chat")
        };
        ChatSettings::from_args(&chat).unwrap()
    }

    #[test]
    fn defaults_and_checks() {
        let s = settings(&[
            "lightspeed",
            "chat",
            "--effort",
            "HIGH",
            "--max-tokens",
            "64",
        ]);
        assert_eq!(s.effort, Some(ReasoningEffort::High));
        assert_eq!(s.max_tokens, Some(64));
        let route = s.route();
        assert_eq!(route.provider_id, PROVIDER_DEFAULT);
        assert_eq!(route.api_kind, API_KIND_DEFAULT);
        for bad in [
            &["lightspeed", "chat", "--effort", "max"][..],
            &["lightspeed", "chat", "--max-tokens", "0"][..],
        ] {
            let cli = parse_from(bad.iter().copied()).unwrap();
            let Command::Chat(chat) = cli.command else {
                panic!()
            };
            assert!(ChatSettings::from_args(&chat).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn cost_budgets_go_to_a_new_session_and_to_each_run_of_a_resumed_one() {
        let s = settings(&[
            "lightspeed",
            "chat",
            "--max-cost-usd",
            "0.5",
            "--session-max-cost-usd",
            "20",
        ]);
        let config = s.start_params(s.route(), None, None).config;
        assert_eq!(config.run_defaults.max_cost_usd, Some(0.5));
        assert_eq!(config.budget.and_then(|b| b.max_cost_usd), Some(20.0));

        let resumed = settings(&[
            "lightspeed",
            "chat",
            "--session",
            "s1",
            "--max-cost-usd",
            "2",
        ]);
        let session: SessionView = serde_json::from_value(serde_json::json!({
            "sessionId": "s1", "status": "idle", "revision": 1,
            "config": {
                "model": {"providerId": "openai", "apiKind": "openai:responses", "model": "gpt-5"},
                "maxOutputTokens": 8192, "toolChoice": {"type": "auto"}, "providerParams": {},
                "compaction": "auto", "compactionThresholdTokens": 150000,
                "runDefaults": {"maxTurns": 50, "maxToolRounds": 50, "maxOutputTokens": 200000},
                "filesystem": "none", "timers": false, "toolPolicy": {"rules": []}, "budget": {}
            },
            "queuedRunIds": [],
            "usage": {"inputTokens": 0, "outputTokens": 0, "cachedInputTokens": 0,
                      "reasoningTokens": 0, "costUsd": 0.0, "costComplete": true},
            "contextTokensEstimate": 0, "eventCursor": 3, "updatedAtMs": 0
        }))
        .unwrap();
        let limits = resumed.overrides(&session).and_then(|o| o.limits);
        assert_eq!(limits.and_then(|l| l.max_cost_usd), Some(2.0));

        for bad in [
            &["lightspeed", "chat", "--max-cost-usd=-1"][..],
            &["lightspeed", "chat", "--max-cost-usd", "NaN"][..],
        ] {
            let cli = parse_from(bad.iter().copied()).unwrap();
            let Command::Chat(chat) = cli.command else {
                panic!()
            };
            assert!(ChatSettings::from_args(&chat).is_err(), "{bad:?}");
        }
        // A session's budget is set when it starts.
        let both = [
            "lightspeed",
            "chat",
            "--session",
            "s1",
            "--session-max-cost-usd",
            "1",
        ];
        assert!(parse_from(both.iter().copied()).is_err());
    }
}
