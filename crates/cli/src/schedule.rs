//! `lightspeed schedule ...`: the universe's schedules, through `schedule/*`.

use std::fmt::Write as _;

use api::types::schedule::*;
use api::types::session::SessionConfigInput;
use clap::{Args, Subcommand, ValueEnum};

use crate::client::Client;
use crate::error::{CliError, Outcome};
use crate::sessions::show;

#[derive(Debug, Clone, Args)]
pub struct ScheduleArgs {
    /// Print JSON
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: ScheduleCommand,
}

/// When and where a schedule fires, as flags.
#[derive(Debug, Clone, Args)]
pub struct WhenWhere {
    /// Fire every N seconds (at multiples of N since the Unix epoch)
    #[arg(long, value_name = "SECONDS", conflicts_with = "cron")]
    pub every: Option<u64>,
    /// Fire on a 5-field cron expression, e.g. "0 9 * * MON-FRI"
    #[arg(long)]
    pub cron: Option<String>,
    /// IANA time zone of --cron (default UTC)
    #[arg(long, requires = "cron")]
    pub timezone: Option<String>,
    /// Start each run on this session
    #[arg(long, conflicts_with = "new_session")]
    pub session: Option<String>,
    /// Start each run on a fresh session with this config (JSON, as session/start's
    /// `config`)
    #[arg(long, value_name = "CONFIG_JSON")]
    pub new_session: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Overlap {
    Skip,
    BufferOne,
    AllowAll,
}

impl From<Overlap> for OverlapPolicyInput {
    fn from(overlap: Overlap) -> Self {
        match overlap {
            Overlap::Skip => Self::Skip,
            Overlap::BufferOne => Self::BufferOne,
            Overlap::AllowAll => Self::AllowAll,
        }
    }
}

#[derive(Debug, Clone, Subcommand)]
pub enum ScheduleCommand {
    /// Create a schedule
    Create {
        /// `[a-z0-9_-]`, generated when absent
        #[arg(long)]
        id: Option<String>,
        #[arg(long, default_value = "")]
        name: String,
        #[command(flatten)]
        when: WhenWhere,
        /// The text each firing's run starts with
        #[arg(long)]
        input: String,
        /// What a firing does while the previous one's run goes on
        #[arg(long, value_enum, default_value = "skip")]
        overlap: Overlap,
        /// Create it paused
        #[arg(long)]
        paused: bool,
    },
    /// List the schedules
    List,
    /// Show a schedule, its last firing and when it fires next
    Read { id: String },
    /// Change a schedule (only what is given)
    Update {
        id: String,
        /// The revision read (`read` shows it); without, whatever it is
        #[arg(long)]
        revision: Option<u64>,
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        when: WhenWhere,
        #[arg(long)]
        input: Option<String>,
        #[arg(long, value_enum)]
        overlap: Option<Overlap>,
    },
    /// Pause a schedule
    Pause { id: String },
    /// Resume a paused schedule
    Resume { id: String },
    /// Delete a schedule
    Delete { id: String },
}

impl WhenWhere {
    fn spec(&self) -> Option<ScheduleSpecInput> {
        match (self.every, &self.cron) {
            (Some(every_seconds), _) => Some(ScheduleSpecInput::Interval { every_seconds }),
            (None, Some(expression)) => Some(ScheduleSpecInput::Cron {
                expression: expression.clone(),
                timezone: self.timezone.clone(),
            }),
            (None, None) => None,
        }
    }

    fn target(&self) -> Result<Option<ScheduleTargetInput>, CliError> {
        if let Some(session_id) = &self.session {
            return Ok(Some(ScheduleTargetInput::Session {
                session_id: session_id.clone(),
            }));
        }
        let Some(config) = &self.new_session else {
            return Ok(None);
        };
        let config: SessionConfigInput = serde_json::from_str(config)
            .map_err(|err| CliError::Usage(format!("--new-session: {err}")))?;
        Ok(Some(ScheduleTargetInput::NewSession {
            config: Box::new(config),
        }))
    }
}

pub async fn run(client: &Client, args: ScheduleArgs) -> Result<Outcome, CliError> {
    let json = args.json;
    let view = |schedule: ScheduleView| show(json, &schedule, || describe(&schedule));
    match args.command {
        ScheduleCommand::Create {
            id,
            name,
            when,
            input,
            overlap,
            paused,
        } => {
            let spec = when
                .spec()
                .ok_or_else(|| CliError::Usage("give --every or --cron".into()))?;
            let target = when
                .target()?
                .ok_or_else(|| CliError::Usage("give --session or --new-session".into()))?;
            let params = ScheduleCreateParams {
                schedule_id: id,
                name,
                spec,
                target,
                input,
                overlap: overlap.into(),
                paused,
            };
            view(client.call("schedule/create", &params).await?)
        }
        ScheduleCommand::List => {
            let listed: ScheduleListResult =
                client.call("schedule/list", &ScheduleListParams {}).await?;
            show(json, &listed, || {
                let mut out = String::new();
                for schedule in &listed.schedules {
                    let _ = writeln!(out, "{}", summary(schedule));
                }
                out
            })
        }
        ScheduleCommand::Read { id } => view(
            client
                .call("schedule/read", &ScheduleRef { schedule_id: id })
                .await?,
        ),
        ScheduleCommand::Update {
            id,
            revision,
            name,
            when,
            input,
            overlap,
        } => {
            let params = ScheduleUpdateParams {
                schedule_id: id,
                expected_revision: revision,
                name,
                spec: when.spec(),
                target: when.target()?,
                input,
                overlap: overlap.map(Into::into),
            };
            view(client.call("schedule/update", &params).await?)
        }
        ScheduleCommand::Pause { id } => pause(client, json, id, true).await,
        ScheduleCommand::Resume { id } => pause(client, json, id, false).await,
        ScheduleCommand::Delete { id } => {
            let deleted: ScheduleDeleteResult = client
                .call(
                    "schedule/delete",
                    &ScheduleRef {
                        schedule_id: id.clone(),
                    },
                )
                .await?;
            show(json, &deleted, || match deleted.deleted {
                true => format!("deleted {id}\n"),
                false => format!("no schedule {id}\n"),
            })
        }
    }
}

async fn pause(client: &Client, json: bool, id: String, paused: bool) -> Result<Outcome, CliError> {
    let params = SchedulePauseParams {
        schedule_id: id,
        paused,
    };
    let schedule: ScheduleView = client.call("schedule/pause", &params).await?;
    show(json, &schedule, || describe(&schedule))
}

fn spec_text(spec: &ScheduleSpecInput) -> String {
    match spec {
        ScheduleSpecInput::Interval { every_seconds } => format!("every {every_seconds}s"),
        ScheduleSpecInput::Cron {
            expression,
            timezone,
        } => format!(
            "cron \"{expression}\" {}",
            timezone.as_deref().unwrap_or("UTC")
        ),
    }
}

fn target_text(target: &ScheduleTargetInput) -> String {
    match target {
        ScheduleTargetInput::Session { session_id } => format!("session {session_id}"),
        ScheduleTargetInput::NewSession { .. } => "a new session per firing".into(),
    }
}

/// One line: id, revision, state, when, where.
fn summary(schedule: &ScheduleView) -> String {
    format!(
        "{:<24} r{:<3} {:<7} {:<28} {} ({} firings)",
        schedule.schedule_id,
        schedule.revision,
        if schedule.paused { "paused" } else { "active" },
        spec_text(&schedule.spec),
        target_text(&schedule.target),
        schedule.firings
    )
}

fn describe(schedule: &ScheduleView) -> String {
    let mut out = summary(schedule);
    out.push('\n');
    if let Some(next) = schedule.next_firing_at_ms {
        let _ = writeln!(out, "next firing at {next} ms");
    }
    if let Some(last) = &schedule.last_firing {
        let what = match (&last.run_id, &last.error) {
            (Some(run_id), _) => format!(
                "run {run_id} on {}",
                last.session_id.as_deref().unwrap_or("?")
            ),
            (None, Some(error)) => format!("refused: {error}"),
            (None, None) => "starting".into(),
        };
        let _ = writeln!(
            out,
            "last firing due at {} ms, ran at {} ms: {what}",
            last.scheduled_at_ms, last.fired_at_ms
        );
    }
    out
}
