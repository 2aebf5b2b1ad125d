//! The daemon's core, shared by every connection: calls in, results out.
//! [`Daemon::handle_call`] decides at once (under the call table's lock) whether
//! a call is new, known or refused for capacity, so a call delivered twice in a
//! row is never started twice.

use std::ffi::OsString;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use env_protocol::{
    CallResult, Command, DaemonMessage, FailureCode, HostInfo, Op, PROTOCOL_VERSION, ProcessOutcome,
};

use crate::calls::{CallRun, CallTable, Sink, attach};
use crate::config::{Limits, ServeConfig};
use crate::error::ServeError;
use crate::files::{FileError, Files, Root};
use crate::output::CallOutput;
use crate::process::{Collected, Process, ProcessTable, SpawnSpec, deadline_after};
use crate::sandbox::Confinement;

/// How long `kill` waits for the group to go.
const KILL_WAIT: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub(crate) struct Daemon {
    name: String,
    host: HostInfo,
    calls: Mutex<CallTable>,
    processes: ProcessTable,
    /// The process each running `exec` call started, for [`Daemon::cancel`].
    started: Mutex<std::collections::BTreeMap<String, u64>>,
    files: Arc<Files>,
    confinement: Confinement,
    limits: Limits,
}

/// What a new call needs before it runs.
enum Prepared {
    /// Answered without running anything (remembered like any result).
    Answered(CallResult),
    /// Refused for capacity: not remembered, so a later delivery may run.
    Refused(CallResult),
    Run {
        output: Option<Arc<CallOutput>>,
        work: Work,
    },
}

enum Work {
    Exec {
        process_id: u64,
        op: Op,
        output: Arc<CallOutput>,
    },
    WriteStdin {
        process: Arc<Process>,
        data: String,
        close: bool,
        yield_ms: u64,
        output: Arc<CallOutput>,
    },
    Kill {
        process: Arc<Process>,
        output: Option<Arc<CallOutput>>,
    },
    File(Op),
}

impl Daemon {
    /// Opens the directory and prepares (and probes) the sandbox.
    pub(crate) async fn start(config: &ServeConfig) -> Result<Arc<Self>, ServeError> {
        // Not dumpable: its memory and `/proc/PID/environ` (which holds the token
        // when it came from LIGHTSPEED_ENV_TOKEN) need CAP_SYS_PTRACE to read,
        // which no sandboxed command has. No core dumps with the token either.
        #[cfg(target_os = "linux")]
        rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
            .map_err(|err| ServeError::Setup(format!("making the daemon non-dumpable: {err}")))?;
        let root = Root::new(&config.dir)
            .map_err(|err| ServeError::Setup(format!("--dir {}: {err}", config.dir.display())))?;
        let confinement = Confinement::prepare(&config.sandbox, root.path()).await?;
        let host = HostInfo {
            os: std::env::consts::OS.into(),
            arch: std::env::consts::ARCH.into(),
            hostname: rustix::system::uname()
                .nodename()
                .to_string_lossy()
                .into_owned(),
            dir: root.path().to_string_lossy().into_owned(),
            sandbox: confinement.info(),
            daemon_version: env!("CARGO_PKG_VERSION").into(),
        };
        Ok(Arc::new(Self {
            name: config.name.clone(),
            host,
            calls: Mutex::new(CallTable::new(config.limits.clone())),
            processes: ProcessTable::new(config.limits.processes_max),
            started: Mutex::default(),
            files: Arc::new(Files::new(root, config.limits.clone())),
            confinement,
            limits: config.limits.clone(),
        }))
    }

    pub(crate) fn host(&self) -> &HostInfo {
        &self.host
    }

    fn lock_calls(&self) -> MutexGuard<'_, CallTable> {
        // The table's maps stay consistent between statements; a panic elsewhere
        // must not stop the daemon from answering.
        self.calls
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// The first frame of every connection.
    pub(crate) fn hello(&self) -> DaemonMessage {
        let mut calls = self.lock_calls();
        calls.forget(Instant::now());
        DaemonMessage::Hello {
            protocol: PROTOCOL_VERSION,
            name: self.name.clone(),
            host: self.host.clone(),
            known_calls: calls.known(),
        }
    }

    /// Takes one delivery of a call: attaches to it if known, else starts it.
    /// Its output and result go to `sink`.
    pub(crate) fn handle_call(self: &Arc<Self>, call_id: String, op: Op, sink: Sink) {
        let mut calls = self.lock_calls();
        calls.forget(Instant::now());
        if let Some(run) = calls.get(&call_id) {
            drop(calls);
            tokio::spawn(attach(call_id, run, sink));
            return;
        }
        let prepared = if calls.running() >= self.limits.calls_running_max {
            Prepared::Refused(busy(format!(
                "{} calls are running already",
                self.limits.calls_running_max
            )))
        } else {
            self.prepare(op)
        };
        let (run, work) = match prepared {
            Prepared::Refused(result) => {
                drop(calls);
                tokio::spawn(attach(call_id, Arc::new(CallRun::answered(result)), sink));
                return;
            }
            Prepared::Answered(result) => (Arc::new(CallRun::answered(result)), None),
            Prepared::Run { output, work } => (Arc::new(CallRun::new(output)), Some(work)),
        };
        calls.insert(call_id.clone(), Arc::clone(&run));
        drop(calls);
        tokio::spawn(attach(call_id.clone(), run, sink));
        if let Some(work) = work {
            if let Work::Exec { process_id, .. } = &work {
                self.lock_started().insert(call_id.clone(), *process_id);
            }
            let daemon = Arc::clone(self);
            tokio::spawn(async move {
                let result = daemon.execute(work).await;
                daemon.lock_started().remove(&call_id);
                daemon.lock_calls().finish(&call_id, result, Instant::now());
            });
        }
    }

    /// Kills the process group call `call_id` started, if it still runs: nobody
    /// waits for its result any more.
    pub(crate) fn cancel(&self, call_id: &str) {
        let process_id = self.lock_started().get(call_id).copied();
        if let Some(process) = process_id.and_then(|id| self.processes.get(id)) {
            process.kill_group();
        }
    }

    fn lock_started(&self) -> std::sync::MutexGuard<'_, std::collections::BTreeMap<String, u64>> {
        // One insert or remove at a time: whole after a panic.
        self.started
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Kills every process group (the daemon is stopping).
    pub(crate) fn shutdown(&self) {
        self.processes.kill_all();
    }

    fn prepare(&self, op: Op) -> Prepared {
        match op {
            Op::Exec { .. } => {
                let Some(process_id) = self.processes.reserve(self.limits.call_memory) else {
                    return Prepared::Refused(busy(format!(
                        "{} processes are running already",
                        self.limits.processes_max
                    )));
                };
                let output = Arc::new(CallOutput::new(self.limits.output_bytes_max));
                Prepared::Run {
                    output: Some(Arc::clone(&output)),
                    work: Work::Exec {
                        process_id,
                        op,
                        output,
                    },
                }
            }
            Op::WriteStdin {
                process_id,
                data,
                close,
                yield_ms,
            } => {
                let Some(process) = self.processes.get(process_id) else {
                    return Prepared::Answered(no_such_process(process_id));
                };
                let Some(output) = process.claim() else {
                    return Prepared::Refused(busy(format!(
                        "another call is reading process {process_id}'s output"
                    )));
                };
                Prepared::Run {
                    output: Some(Arc::clone(&output)),
                    work: Work::WriteStdin {
                        process,
                        data,
                        close,
                        yield_ms,
                        output,
                    },
                }
            }
            Op::Kill { process_id } => {
                let Some(process) = self.processes.get(process_id) else {
                    return Prepared::Answered(no_such_process(process_id));
                };
                // The output waiting since the last call, unless a call reads it.
                let output = process.claim();
                Prepared::Run {
                    output: output.clone(),
                    work: Work::Kill { process, output },
                }
            }
            Op::Read { .. }
            | Op::Write { .. }
            | Op::List { .. }
            | Op::Stat { .. }
            | Op::Search { .. }
            | Op::Glob { .. } => Prepared::Run {
                output: None,
                work: Work::File(op),
            },
        }
    }

    async fn execute(self: &Arc<Self>, work: Work) -> CallResult {
        match work {
            Work::Exec {
                process_id,
                op,
                output,
            } => self.exec(process_id, op, output).await,
            Work::WriteStdin {
                process,
                data,
                close,
                yield_ms,
                output,
            } => {
                let until = self.yield_deadline(yield_ms);
                if process.exit().is_none() {
                    process.write_stdin(&data, close, until).await;
                }
                let collected = process.collect(until).await;
                self.outcome(&process, collected, Some(&output))
            }
            Work::Kill { process, output } => {
                process.kill_group();
                let until = Instant::now() + KILL_WAIT;
                let collected = match &output {
                    Some(_) => process.collect(until).await,
                    None => match process.wait_exit(until).await {
                        Some(exit) => Collected::Exited(exit),
                        None => Collected::Yielded,
                    },
                };
                self.outcome(&process, collected, output.as_deref())
            }
            Work::File(op) => {
                let files = Arc::clone(&self.files);
                match tokio::task::spawn_blocking(move || file_op(&files, op)).await {
                    Ok(Ok(result)) => result,
                    Ok(Err(err)) => err.into_result(),
                    Err(err) => CallResult::Failed {
                        code: FailureCode::Io,
                        message: format!("the file operation failed: {err}"),
                    },
                }
            }
        }
    }

    async fn exec(&self, process_id: u64, op: Op, output: Arc<CallOutput>) -> CallResult {
        let started = self.spawn(process_id, op, Arc::clone(&output));
        let (process, yield_ms) = match started {
            Ok(started) => started,
            Err(err) => {
                self.processes.settle(None);
                output.seal();
                return err.into_result();
            }
        };
        self.processes.settle(Some(Arc::clone(&process)));
        let until = match yield_ms {
            Some(yield_ms) => self.yield_deadline(yield_ms),
            // Never before the exit: the process's own timeout ends it.
            None => deadline_after(Instant::now(), self.limits.timeout_max * 2),
        };
        let collected = process.collect(until).await;
        self.outcome(&process, collected, Some(&output))
    }

    fn spawn(
        &self,
        process_id: u64,
        op: Op,
        output: Arc<CallOutput>,
    ) -> Result<(Arc<Process>, Option<u64>), FileError> {
        let Op::Exec {
            command,
            workdir,
            env,
            stdin,
            timeout_ms,
            yield_ms,
        } = op
        else {
            return Err(FileError::new(FailureCode::InvalidArguments, "not an exec"));
        };
        let argv: Vec<OsString> = match command {
            Command::Argv(argv) if argv.is_empty() => {
                return Err(FileError::new(FailureCode::InvalidArguments, "empty argv"));
            }
            Command::Argv(argv) => argv.into_iter().map(OsString::from).collect(),
            Command::Shell(script) => self.confinement.shell_argv(&script),
        };
        let cwd = self.files.workdir(workdir.as_deref().unwrap_or("/"))?;
        let (program, args) = self.confinement.wrap(argv, &cwd);
        let spec = SpawnSpec {
            program,
            args,
            cwd,
            env: self.confinement.env(&env),
            stdin,
            keep_stdin_open: yield_ms.is_some(),
            timeout: Duration::from_millis(timeout_ms).min(self.limits.timeout_max),
        };
        let process = Process::spawn(process_id, spec, output, self.limits.output_bytes_max)
            .map_err(|err| {
                FileError::new(FailureCode::Spawn, format!("starting the command: {err}"))
            })?;
        Ok((process, yield_ms))
    }

    fn yield_deadline(&self, yield_ms: u64) -> Instant {
        deadline_after(
            Instant::now(),
            Duration::from_millis(yield_ms).min(self.limits.timeout_max),
        )
    }

    /// A process call's result; an exit reported is the process's last.
    fn outcome(
        &self,
        process: &Process,
        collected: Collected,
        output: Option<&CallOutput>,
    ) -> CallResult {
        let (output_end, output_dropped) = output.map_or((0, 0), CallOutput::totals);
        let outcome = match collected {
            Collected::Exited(exit) => {
                self.processes.remove(process.id);
                ProcessOutcome {
                    process_id: process.id,
                    exit_code: exit.code,
                    signal: exit.signal,
                    running: false,
                    timed_out: exit.timed_out,
                    duration_ms: millis(exit.duration),
                    output_end,
                    output_dropped,
                }
            }
            Collected::Yielded => ProcessOutcome {
                process_id: process.id,
                exit_code: None,
                signal: None,
                running: true,
                timed_out: false,
                duration_ms: millis(process.started().elapsed()),
                output_end,
                output_dropped,
            },
        };
        CallResult::Process(outcome)
    }
}

fn file_op(files: &Files, op: Op) -> Result<CallResult, FileError> {
    match op {
        Op::Read {
            path,
            offset,
            limit,
        } => files.read(&path, offset, limit),
        Op::Write {
            path,
            content,
            expected_sha256,
        } => files.write(&path, &content, expected_sha256.as_deref()),
        Op::List { path, depth, limit } => files.list(&path, depth, limit),
        Op::Stat { path } => files.stat(&path),
        Op::Search {
            path,
            pattern,
            glob,
            limit,
        } => files.search(&path, &pattern, glob.as_deref(), limit),
        Op::Glob { path, glob, limit } => files.glob(&path, &glob, limit),
        Op::Exec { .. } | Op::WriteStdin { .. } | Op::Kill { .. } => Err(FileError::new(
            FailureCode::InvalidArguments,
            "not a file operation",
        )),
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn busy(message: String) -> CallResult {
    CallResult::Failed {
        code: FailureCode::Busy,
        message,
    }
}

fn no_such_process(process_id: u64) -> CallResult {
    CallResult::Failed {
        code: FailureCode::NoSuchProcess,
        message: format!("no process {process_id}"),
    }
}
