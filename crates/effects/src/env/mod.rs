//! Shell tools on environments: what attaching registers, what a call does, and
//! what the model is told when it ends.
//!
//! A call never reaches a daemon from here. It becomes a job in the universe's
//! [`EnvCatalog`]; the gateway holding the environment's daemon delivers it and
//! finishes it with [`call_result`] when the daemon answers. How the caller waits
//! is its [`Completion`]: a Temporal activity completes asynchronously (it records
//! its task token and returns [`AdapterError::Deferred`], holding no worker slot
//! while a build runs); an in-process host waits for the job to finish.
//!
//! The definitions carry an `env` marker naming which shell tool they are, the way
//! linked MCP tools carry their origin, so a call is routed by its definition and
//! never by a name a model chose.

use std::time::Duration;

use engine::SessionId;
use engine::core::effects::ToolResult;
use engine::core::run::ToolCallRequest;
use engine::store::BlobStore;
use env_protocol::{Command, Op};
use env_registry::{
    Attachment, EnvCatalog, EnvCatalogError, EnvJob, JOBS_IN_FLIGHT_MAX, JobKind, JobStatus,
    JobSubmit,
};
use serde_json::Value;

use crate::adapter::AdapterError;

mod definitions;
mod results;

pub use results::{bounded_output, call_result, error_result};

pub use definitions::{shell_definitions, shell_tool_of};

/// The OpenAI-style command tool (Codex's spelling).
pub const EXEC_COMMAND: &str = "exec_command";
/// Writes to a command started with `yield_time_ms` that is still running.
pub const WRITE_STDIN: &str = "write_stdin";
/// The `anthropic:messages` spelling: one command, waited for.
pub const BASH: &str = "Bash";

/// Which shell tool a definition is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShellTool {
    Exec,
    WriteStdin,
    Bash,
}

impl ShellTool {
    fn marker(self) -> &'static str {
        match self {
            Self::Exec => "exec",
            Self::WriteStdin => "stdin",
            Self::Bash => "bash",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Exec => EXEC_COMMAND,
            Self::WriteStdin => WRITE_STDIN,
            Self::Bash => BASH,
        }
    }

    /// The shell tools a session on `api_kind` gets.
    pub fn for_api_kind(api_kind: &str) -> &'static [ShellTool] {
        match api_kind {
            "anthropic:messages" => &[Self::Bash],
            _ => &[Self::Exec, Self::WriteStdin],
        }
    }
}

/// Bounds of shell calls. Defaults are documented in `docs/spec/environments.md`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvLimits {
    /// A command's timeout when the model gives none.
    pub command_timeout_default_ms: u64,
    /// The longest timeout a model may ask for (the tool activity's own timeout
    /// bounds it further).
    pub command_timeout_max_ms: u64,
    /// How long a file operation may take, delivery included.
    pub file_timeout_ms: u64,
    /// Bytes of a command's output the model sees: the head and the tail, half each,
    /// with a marker naming what was left out and where the whole output is.
    pub model_output_bytes: usize,
    /// Longest `yield_time_ms` (interactive commands).
    pub yield_max_ms: u64,
    /// Longest command line or stdin text.
    pub command_bytes_max: usize,
}

impl Default for EnvLimits {
    fn default() -> Self {
        Self {
            command_timeout_default_ms: 120_000,
            command_timeout_max_ms: 3_600_000,
            file_timeout_ms: 30_000,
            model_output_bytes: 12 * 1024,
            yield_max_ms: 60_000,
            command_bytes_max: 64 * 1024,
        }
    }
}

/// How the caller of a shell tool waits for its job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completion {
    /// Poll the job until it is finished or past its deadline (in-process hosts, and
    /// short file operations). The job's id is fresh.
    Wait,
    /// The Temporal activity completes asynchronously: the job keyed by `job_id`
    /// (stable across the activity's attempts) records `task_token`, and the call
    /// returns [`AdapterError::Deferred`]. `budget_ms` is the activity's own timeout.
    Async {
        job_id: String,
        task_token: Vec<u8>,
        budget_ms: u64,
    },
}

/// A job the caller must not wait for: whoever finishes it completes the activity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeferredCall {
    pub job_id: String,
    pub deadline_ms: u64,
}

/// One call's context: which run and batch it belongs to (the job records them) and
/// how its caller waits.
#[derive(Debug, Clone)]
pub struct EnvCall {
    pub run_id: String,
    pub batch: u32,
    pub completion: Completion,
}

/// Room between a command's timeout and its job's deadline, for delivery and for the
/// result to come back.
const DEADLINE_GRACE_MS: u64 = 15_000;
/// How often a waiting caller reads its job.
const WAIT_POLL: Duration = Duration::from_millis(100);

/// Submits shell calls as jobs and turns finished jobs into tool results.
#[derive(Debug, Clone, Default)]
pub struct EnvTools {
    pub limits: EnvLimits,
}

impl EnvTools {
    pub fn new(limits: EnvLimits) -> Self {
        Self { limits }
    }

    /// Runs `call` of shell tool `tool` on one of the session's environments.
    pub async fn invoke<S: EnvCatalog + BlobStore>(
        &self,
        store: &S,
        session: &SessionId,
        call: &ToolCallRequest,
        tool: ShellTool,
        context: &EnvCall,
        now_ms: u64,
    ) -> Result<ToolResult, AdapterError> {
        let arguments = store.get(&call.arguments_ref).await?;
        let attachments = store
            .attachment_list(session)
            .await
            .map_err(catalog_failure)?;
        let planned = match self.plan(tool, &arguments, &attachments) {
            Ok(planned) => planned,
            Err(refusal) => return refused(store, call, refusal).await,
        };
        // An attachment outlives its environment: no daemon would ever take the call.
        let environment = store
            .env_read_id(&planned.attachment.environment_id)
            .await
            .map_err(catalog_failure)?;
        if environment.is_none() {
            let refusal = Refusal::new(
                "environmentNotFound",
                format!(
                    "environment {} was deleted; detach {}",
                    planned.attachment.environment, planned.attachment.name
                ),
            );
            return refused(store, call, refusal).await;
        }
        let budget_ms = match &context.completion {
            Completion::Async { budget_ms, .. } => *budget_ms,
            Completion::Wait => planned.timeout_ms.saturating_add(DEADLINE_GRACE_MS),
        };
        let op = planned.op(budget_ms);
        self.submit(
            store,
            session,
            call,
            context,
            &planned.attachment,
            JobKind::Command,
            op,
            now_ms,
            budget_ms,
        )
        .await
    }

    /// Submits `op` for `attachment`'s environment and waits as `context` says.
    #[allow(clippy::too_many_arguments)]
    pub async fn submit<S: EnvCatalog + BlobStore>(
        &self,
        store: &S,
        session: &SessionId,
        call: &ToolCallRequest,
        context: &EnvCall,
        attachment: &Attachment,
        kind: JobKind,
        op: Op,
        now_ms: u64,
        budget_ms: u64,
    ) -> Result<ToolResult, AdapterError> {
        let (id, task_token) = match &context.completion {
            Completion::Async {
                job_id, task_token, ..
            } => (job_id.clone(), Some(encode_token(task_token))),
            Completion::Wait => (fresh_job_id()?, None),
        };
        let op = serde_json::to_value(&op).map_err(|err| AdapterError::Other(err.to_string()))?;
        let job = EnvJob {
            id,
            environment_id: attachment.environment_id.clone(),
            session_id: session.as_str().to_owned(),
            run_id: context.run_id.clone(),
            batch: context.batch,
            call_id: call.call_id.as_str().to_owned(),
            kind,
            op,
            status: JobStatus::Pending,
            task_token,
            created_at_ms: now_ms,
            deadline_ms: now_ms.saturating_add(budget_ms),
            deliveries: 0,
            result: None,
            finished_at_ms: None,
        };
        let job = match store.job_submit(&job, JOBS_IN_FLIGHT_MAX).await {
            Ok(JobSubmit::Created(job) | JobSubmit::Existing(job)) => job,
            Err(EnvCatalogError::TooMany { max, .. }) => {
                let refusal = Refusal::new(
                    "environmentBusy",
                    format!("this universe already has {max} environment calls in flight"),
                );
                return refused(store, call, refusal).await;
            }
            Err(err) => return Err(catalog_failure(err)),
        };
        if let Some(result) = finished(&job)? {
            return Ok(result);
        }
        if let Some(result) = self
            .finish_if_deleted(store, call, attachment, &job.id, now_ms)
            .await?
        {
            return Ok(result);
        }
        match &context.completion {
            Completion::Async { .. } => Err(AdapterError::Deferred(DeferredCall {
                job_id: job.id,
                deadline_ms: job.deadline_ms,
            })),
            Completion::Wait => self.wait(store, &job.id, job.deadline_ms, now_ms).await,
        }
    }

    /// An environment deleted after the caller checked it but before job `id` was
    /// submitted: the deletion's sweep of unfinished jobs ran before this job
    /// existed, so nobody else would ever finish it. Finished here as
    /// `environmentNotFound`. The job is committed before this read and the
    /// environment is gone before the sweep, so whichever of the two runs second sees
    /// the other: no job of a deleted environment waits for its deadline.
    async fn finish_if_deleted<S: EnvCatalog + BlobStore>(
        &self,
        store: &S,
        call: &ToolCallRequest,
        attachment: &Attachment,
        id: &str,
        now_ms: u64,
    ) -> Result<Option<ToolResult>, AdapterError> {
        let exists = store
            .env_read_id(&attachment.environment_id)
            .await
            .map_err(catalog_failure)?
            .is_some();
        if exists {
            return Ok(None);
        }
        let message = format!(
            "environment {} was deleted; detach {}",
            attachment.environment, attachment.name
        );
        let result = error_result(
            store,
            call.call_id.as_str(),
            "environmentNotFound",
            &message,
        )
        .await?;
        let value =
            serde_json::to_value(&result).map_err(|err| AdapterError::Other(err.to_string()))?;
        if store
            .job_finish(id, &value, now_ms)
            .await
            .map_err(catalog_failure)?
            .is_some()
        {
            return Ok(Some(result));
        }
        // The sweep finished it first: its result stands.
        let job = store
            .job_read(id)
            .await
            .map_err(catalog_failure)?
            .ok_or_else(|| AdapterError::Other(format!("environment job {id} vanished")))?;
        finished(&job)
    }

    /// Reads job `id` until it is finished; past `deadline_ms` (on the caller's
    /// clock, advanced by the time waited) finishes it as expired.
    async fn wait<S: EnvCatalog + BlobStore>(
        &self,
        store: &S,
        id: &str,
        deadline_ms: u64,
        now_ms: u64,
    ) -> Result<ToolResult, AdapterError> {
        let started = std::time::Instant::now();
        loop {
            let job = store
                .job_read(id)
                .await
                .map_err(catalog_failure)?
                .ok_or_else(|| AdapterError::Other(format!("environment job {id} vanished")))?;
            if let Some(result) = finished(&job)? {
                return Ok(result);
            }
            let now = now_ms.saturating_add(started.elapsed().as_millis() as u64);
            if now >= deadline_ms {
                return expire(store, &job, now).await;
            }
            tokio::time::sleep(WAIT_POLL).await;
        }
    }

    fn plan(
        &self,
        tool: ShellTool,
        arguments: &[u8],
        attachments: &[Attachment],
    ) -> Result<Planned, Refusal> {
        let arguments: Value = serde_json::from_slice(arguments)
            .map_err(|err| Refusal::arguments(format!("arguments are not JSON: {err}")))?;
        let text = |key: &str| arguments.get(key).and_then(Value::as_str);
        let number = |key: &str| arguments.get(key).and_then(Value::as_u64);
        match tool {
            ShellTool::Exec | ShellTool::Bash => {
                let (command_key, timeout_key) = match tool {
                    ShellTool::Bash => ("command", "timeout"),
                    _ => ("cmd", "timeout_ms"),
                };
                let command = text(command_key)
                    .ok_or_else(|| Refusal::arguments(format!("`{command_key}` is required")))?;
                if command.len() > self.limits.command_bytes_max {
                    return Err(Refusal::arguments(format!(
                        "the command is over {} bytes",
                        self.limits.command_bytes_max
                    )));
                }
                let attachment = pick(attachments, text("environment"))?;
                let timeout_ms = number(timeout_key)
                    .unwrap_or(self.limits.command_timeout_default_ms)
                    .clamp(1, self.limits.command_timeout_max_ms);
                let yield_ms = match tool {
                    ShellTool::Exec => {
                        number("yield_time_ms").map(|ms| ms.min(self.limits.yield_max_ms))
                    }
                    _ => None,
                };
                Ok(Planned {
                    attachment: attachment.clone(),
                    timeout_ms,
                    action: Action::Exec {
                        command: command.to_owned(),
                        workdir: text("workdir").map(str::to_owned),
                        yield_ms,
                    },
                })
            }
            ShellTool::WriteStdin => {
                let handle = text("session_id")
                    .ok_or_else(|| Refusal::arguments("`session_id` is required"))?;
                let (name, process) = handle.rsplit_once(':').ok_or_else(|| {
                    Refusal::arguments(
                        "`session_id` is the one exec_command returned (name:number)",
                    )
                })?;
                let process_id: u64 = process
                    .parse()
                    .map_err(|_| Refusal::arguments("`session_id` ends with a process number"))?;
                let attachment = pick(attachments, Some(name))?;
                let chars = text("chars").unwrap_or_default();
                if chars.len() > self.limits.command_bytes_max {
                    return Err(Refusal::arguments(format!(
                        "`chars` is over {} bytes",
                        self.limits.command_bytes_max
                    )));
                }
                let kill = arguments.get("kill").and_then(Value::as_bool) == Some(true);
                let yield_ms = number("yield_time_ms")
                    .unwrap_or(1_000)
                    .min(self.limits.yield_max_ms);
                Ok(Planned {
                    attachment: attachment.clone(),
                    timeout_ms: yield_ms,
                    action: if kill {
                        Action::Kill { process_id }
                    } else {
                        Action::Stdin {
                            process_id,
                            data: chars.to_owned(),
                            close: arguments.get("close_stdin").and_then(Value::as_bool)
                                == Some(true),
                            yield_ms,
                        }
                    },
                })
            }
        }
    }
}

/// What a planned call does.
enum Action {
    Exec {
        command: String,
        workdir: Option<String>,
        yield_ms: Option<u64>,
    },
    Stdin {
        process_id: u64,
        data: String,
        close: bool,
        yield_ms: u64,
    },
    Kill {
        process_id: u64,
    },
}

struct Planned {
    attachment: Attachment,
    timeout_ms: u64,
    action: Action,
}

impl Planned {
    /// The operation, its timeout cut so it ends within `budget_ms` with room to
    /// answer.
    fn op(&self, budget_ms: u64) -> Op {
        let ceiling = budget_ms.saturating_sub(DEADLINE_GRACE_MS).max(1_000);
        match &self.action {
            Action::Exec {
                command,
                workdir,
                yield_ms,
            } => Op::Exec {
                command: Command::Shell(command.clone()),
                workdir: workdir.clone(),
                env: Default::default(),
                stdin: None,
                timeout_ms: self.timeout_ms.min(ceiling),
                yield_ms: *yield_ms,
            },
            Action::Stdin {
                process_id,
                data,
                close,
                yield_ms,
            } => Op::WriteStdin {
                process_id: *process_id,
                data: data.clone(),
                close: *close,
                yield_ms: (*yield_ms).min(ceiling),
            },
            Action::Kill { process_id } => Op::Kill {
                process_id: *process_id,
            },
        }
    }
}

/// The attachment a call names, or the only one.
fn pick<'a>(attachments: &'a [Attachment], name: Option<&str>) -> Result<&'a Attachment, Refusal> {
    match name {
        Some(name) => attachments
            .iter()
            .find(|attachment| attachment.name.as_str() == name)
            .ok_or_else(|| {
                Refusal::new(
                    "environmentNotAttached",
                    format!("no environment is attached to this session as {name:?}"),
                )
            }),
        None => match attachments {
            [only] => Ok(only),
            [] => Err(Refusal::new(
                "environmentNotAttached",
                "no environment is attached to this session",
            )),
            _ => Err(Refusal::arguments(
                "several environments are attached: name one with `environment`",
            )),
        },
    }
}

/// A call refused before any job exists: an error result the model sees.
struct Refusal {
    code: &'static str,
    message: String,
}

impl Refusal {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    fn arguments(message: impl Into<String>) -> Self {
        Self::new("invalidArguments", message)
    }
}

async fn refused<B: BlobStore>(
    blobs: &B,
    call: &ToolCallRequest,
    refusal: Refusal,
) -> Result<ToolResult, AdapterError> {
    Ok(error_result(blobs, call.call_id.as_str(), refusal.code, &refusal.message).await?)
}

/// The tool result of a finished job.
fn finished(job: &EnvJob) -> Result<Option<ToolResult>, AdapterError> {
    if !job.is_done() {
        return Ok(None);
    }
    let result = job
        .result
        .clone()
        .ok_or_else(|| AdapterError::Other(format!("environment job {} has no result", job.id)))?;
    serde_json::from_value(result)
        .map(Some)
        .map_err(|err| AdapterError::Other(format!("environment job {}: {err}", job.id)))
}

/// Finishes `job` as expired: nothing answered before its deadline. The daemon was
/// offline (the job was never delivered) or went away with it. Returns the result
/// the job holds afterwards: a result that won the race stays.
pub async fn expire<S: EnvCatalog + BlobStore>(
    store: &S,
    job: &EnvJob,
    now_ms: u64,
) -> Result<ToolResult, AdapterError> {
    let (code, message) = match job.status {
        JobStatus::Pending => (
            "environmentOffline",
            "the environment was offline: no daemon took the call before its deadline",
        ),
        _ => (
            "environmentTimeout",
            "the environment took the call but did not answer before its deadline",
        ),
    };
    let result = error_result(store, &job.call_id, code, message).await?;
    finish(store, job, &result, now_ms).await
}

/// Finishes `job` with `result` unless it is finished already; the result it holds.
pub async fn finish<S: EnvCatalog>(
    store: &S,
    job: &EnvJob,
    result: &ToolResult,
    now_ms: u64,
) -> Result<ToolResult, AdapterError> {
    let value = serde_json::to_value(result).map_err(|err| AdapterError::Other(err.to_string()))?;
    match store
        .job_finish(&job.id, &value, now_ms)
        .await
        .map_err(catalog_failure)?
    {
        Some(_) => Ok(result.clone()),
        None => {
            let stored = store
                .job_read(&job.id)
                .await
                .map_err(catalog_failure)?
                .ok_or_else(|| {
                    AdapterError::Other(format!("environment job {} vanished", job.id))
                })?;
            finished(&stored)?.ok_or_else(|| {
                AdapterError::Other(format!("environment job {} is not finished", job.id))
            })
        }
    }
}

fn catalog_failure(err: EnvCatalogError) -> AdapterError {
    match err {
        EnvCatalogError::Store(err) => AdapterError::Store(err),
        other => AdapterError::Other(other.to_string()),
    }
}

/// A task token as a job records it.
pub fn encode_token(token: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(token)
}

/// A task token a job recorded, as Temporal gave it.
pub fn decode_token(token: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(token).ok()
}

/// 32 hex characters from the OS, for jobs no retry will look for.
fn fresh_job_id() -> Result<String, AdapterError> {
    let mut random = [0u8; 16];
    getrandom::fill(&mut random)
        .map_err(|err| AdapterError::Other(format!("no randomness for a job id: {err}")))?;
    Ok(random.iter().map(|byte| format!("{byte:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definitions_are_marked_and_per_surface() {
        let names = vec!["ci".to_owned()];
        let openai = shell_definitions("openai:responses", &names, &EnvLimits::default());
        assert_eq!(
            openai
                .iter()
                .map(|(name, _)| name.as_str())
                .collect::<Vec<_>>(),
            [EXEC_COMMAND, WRITE_STDIN]
        );
        assert_eq!(shell_tool_of(&openai[0].1), Some(ShellTool::Exec));
        assert_eq!(shell_tool_of(&openai[1].1), Some(ShellTool::WriteStdin));
        let anthropic = shell_definitions("anthropic:messages", &names, &EnvLimits::default());
        assert_eq!(anthropic.len(), 1);
        assert_eq!(shell_tool_of(&anthropic[0].1), Some(ShellTool::Bash));
        assert_eq!(shell_tool_of(br#"{"name":"x"}"#), None);
    }

    #[test]
    fn long_output_keeps_head_and_tail_around_a_marker() {
        let limits = EnvLimits {
            model_output_bytes: 100,
            ..EnvLimits::default()
        };
        let output: Vec<u8> = (0..1000).map(|i| b'a' + (i % 26) as u8).collect();
        let whole = engine::BlobRef::of_bytes(&output);
        let text = bounded_output(&output, Some(&whole), &limits);
        assert!(text.starts_with(std::str::from_utf8(&output[..50]).unwrap_or_default()));
        assert!(text.ends_with(std::str::from_utf8(&output[950..]).unwrap_or_default()));
        assert!(text.contains("900 bytes of output omitted"), "{text}");
        assert!(text.contains(&whole.to_string()));
        assert_eq!(bounded_output(b"short", None, &limits), "short");
    }
}
