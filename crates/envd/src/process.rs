//! Processes: each in its own process group, stdout and stderr into one pipe (so
//! their order is the order they were written), killed as a whole group on
//! timeout, on `kill`, when its leader exits (nothing outlives its call) and when
//! the daemon stops.
//!
//! A process's output goes to the call collecting it: the `exec` that started it
//! until it yields, then each `writeStdin` in turn; output printed between calls
//! waits in a buffer the next call takes over.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::fd::OwnedFd;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process_group};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStdin};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{sleep_until, timeout_at};

use crate::output::{CallOutput, Utf8Decoder};

/// How long output is still read after the leader exited and its group was
/// killed: a process that left the group (`setsid`) may hold the pipe open.
const DRAIN_GRACE: Duration = Duration::from_secs(2);

/// Bytes read from the pipe at once.
const READ_BYTES_MAX: usize = 64 * 1024;

/// What to run, already wrapped by the sandbox.
#[derive(Debug)]
pub(crate) struct SpawnSpec {
    pub(crate) program: OsString,
    pub(crate) args: Vec<OsString>,
    pub(crate) cwd: PathBuf,
    pub(crate) env: Vec<(OsString, OsString)>,
    /// Written first; stdin is then closed unless `keep_stdin_open`.
    pub(crate) stdin: Option<String>,
    pub(crate) keep_stdin_open: bool,
    /// The whole group is killed this long after the start.
    pub(crate) timeout: Duration,
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Exit {
    pub(crate) code: Option<i32>,
    pub(crate) signal: Option<i32>,
    pub(crate) timed_out: bool,
    pub(crate) duration: Duration,
    pub(crate) at: Instant,
}

/// How a call's wait for a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Collected {
    Exited(Exit),
    /// Still running at the call's yield.
    Yielded,
}

/// A running (or exited, not yet reported) process.
#[derive(Debug)]
pub(crate) struct Process {
    pub(crate) id: u64,
    /// Its process group (the leader's pid).
    pgid: Option<Pid>,
    started: Instant,
    stdin: Arc<tokio::sync::Mutex<Option<ChildStdin>>>,
    state: Mutex<ProcessState>,
    /// Set once the process exited and its output is read.
    exit: watch::Sender<Option<Exit>>,
    output_bytes_max: usize,
}

#[derive(Debug)]
struct ProcessState {
    /// Where output goes now: the collecting call's, or the one the next call
    /// takes over.
    current: Arc<CallOutput>,
    collecting: bool,
}

impl Process {
    /// Starts `spec`; its output goes to `output`, collected by the calling call.
    pub(crate) fn spawn(
        id: u64,
        spec: SpawnSpec,
        output: Arc<CallOutput>,
        output_bytes_max: usize,
    ) -> std::io::Result<Arc<Self>> {
        let (reader, writer) = std::io::pipe()?;
        let writer_err = writer.try_clone()?;
        let mut command = tokio::process::Command::new(&spec.program);
        command
            .args(&spec.args)
            .current_dir(&spec.cwd)
            .env_clear()
            .envs(spec.env.iter().map(|(name, value)| (name, value)))
            .stdin(Stdio::piped())
            .stdout(Stdio::from(writer))
            .stderr(Stdio::from(writer_err))
            .process_group(0)
            .kill_on_drop(false);
        let mut child = command.spawn()?;
        // The command holds the pipe's write ends: without dropping it, the
        // output would never reach end of file.
        drop(command);
        let pgid = child
            .id()
            .and_then(|pid| i32::try_from(pid).ok())
            .and_then(Pid::from_raw);
        let receiver = tokio::net::unix::pipe::Receiver::from_owned_fd(OwnedFd::from(reader))?;
        let stdin = Arc::new(tokio::sync::Mutex::new(child.stdin.take()));
        let process = Arc::new(Self {
            id,
            pgid,
            started: Instant::now(),
            stdin,
            state: Mutex::new(ProcessState {
                current: output,
                collecting: true,
            }),
            exit: watch::Sender::new(None),
            output_bytes_max,
        });
        process.write_initial_stdin(spec.stdin, spec.keep_stdin_open);
        let reader = tokio::spawn(read_output(receiver, Arc::clone(&process)));
        let deadline = deadline_after(process.started, spec.timeout);
        tokio::spawn(monitor(Arc::clone(&process), child, reader, deadline));
        Ok(process)
    }

    fn lock(&self) -> MutexGuard<'_, ProcessState> {
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    fn write_initial_stdin(&self, data: Option<String>, keep_open: bool) {
        // Taken now, before any `writeStdin` can be, so the initial data is first.
        let Ok(mut guard) = Arc::clone(&self.stdin).try_lock_owned() else {
            return;
        };
        tokio::spawn(async move {
            if let (Some(data), Some(stdin)) = (data, guard.as_mut()) {
                // A process that exits without reading its input is not an error.
                let _ = stdin.write_all(data.as_bytes()).await;
                let _ = stdin.flush().await;
            }
            if !keep_open {
                *guard = None;
            }
        });
    }

    fn push(&self, text: &str) {
        self.lock().current.push(text);
    }

    /// Sends SIGKILL to the whole group.
    pub(crate) fn kill_group(&self) {
        if let Some(pgid) = self.pgid {
            // ESRCH: the group is gone already.
            let _ = kill_process_group(pgid, Signal::KILL);
        }
    }

    pub(crate) fn exit(&self) -> Option<Exit> {
        *self.exit.borrow()
    }

    pub(crate) fn started(&self) -> Instant {
        self.started
    }

    /// Takes over the output waiting since the last call, for a new call; `None`
    /// while another call collects.
    pub(crate) fn claim(&self) -> Option<Arc<CallOutput>> {
        let mut state = self.lock();
        if state.collecting {
            return None;
        }
        state.collecting = true;
        Some(Arc::clone(&state.current))
    }

    /// Waits for the process to exit, at most until `until`, then ends the
    /// collecting call: its output is sealed and, if the process still runs, new
    /// output waits for the next call.
    pub(crate) async fn collect(&self, until: Instant) -> Collected {
        let mut exit = self.exit.subscribe();
        tokio::select! {
            _ = exit.wait_for(Option::is_some) => {}
            () = sleep_until(until.into()) => {}
        }
        let mut state = self.lock();
        let ended = *self.exit.borrow();
        let fresh = Arc::new(CallOutput::new(self.output_bytes_max));
        let finished = std::mem::replace(&mut state.current, fresh);
        state.collecting = false;
        drop(state);
        finished.seal();
        match ended {
            Some(exit) => Collected::Exited(exit),
            None => Collected::Yielded,
        }
    }

    /// Writes to stdin (at most until `until`), closing it after when asked.
    pub(crate) async fn write_stdin(&self, data: &str, close: bool, until: Instant) {
        let Ok(mut stdin) = timeout_at(until.into(), self.stdin.lock()).await else {
            return;
        };
        if let Some(pipe) = stdin.as_mut()
            && !data.is_empty()
        {
            let write = async {
                pipe.write_all(data.as_bytes()).await?;
                pipe.flush().await
            };
            // A process that stopped reading is not the caller's error; what it
            // prints says what happened.
            let _ = timeout_at(until.into(), write).await;
        }
        if close {
            *stdin = None;
        }
    }

    /// Waits for the exit, at most until `until`.
    pub(crate) async fn wait_exit(&self, until: Instant) -> Option<Exit> {
        let mut exit = self.exit.subscribe();
        let waited = timeout_at(until.into(), exit.wait_for(Option::is_some)).await;
        match waited {
            Ok(Ok(exit)) => *exit,
            _ => None,
        }
    }
}

/// `start + timeout`, saturating far in the future.
pub(crate) fn deadline_after(start: Instant, timeout: Duration) -> Instant {
    start
        .checked_add(timeout)
        .unwrap_or_else(|| start + Duration::from_secs(365 * 24 * 3600))
}

async fn read_output(mut pipe: tokio::net::unix::pipe::Receiver, process: Arc<Process>) {
    let mut decoder = Utf8Decoder::default();
    let mut buffer = vec![0u8; READ_BYTES_MAX];
    loop {
        match pipe.read(&mut buffer).await {
            Ok(0) => break,
            Ok(read) => process.push(&decoder.decode(&buffer[..read])),
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(err) => {
                tracing::debug!(process = process.id, "reading output failed: {err}");
                break;
            }
        }
    }
    process.push(&decoder.finish());
}

async fn monitor(
    process: Arc<Process>,
    mut child: Child,
    mut reader: JoinHandle<()>,
    deadline: Instant,
) {
    let mut timed_out = false;
    let status = tokio::select! {
        status = child.wait() => status,
        () = sleep_until(deadline.into()) => {
            timed_out = true;
            process.kill_group();
            child.wait().await
        }
    };
    // What the leader left behind in its group dies with it. (Its pid was just
    // reaped; the group id stays reserved while any member lives, and a fresh
    // process would have to reuse it within microseconds to be hit.)
    process.kill_group();
    if tokio::time::timeout(DRAIN_GRACE, &mut reader)
        .await
        .is_err()
    {
        reader.abort();
    }
    let exit = exit_of(status, timed_out, process.started);
    process.exit.send_replace(Some(exit));
}

fn exit_of(status: std::io::Result<ExitStatus>, timed_out: bool, started: Instant) -> Exit {
    let (code, signal) = match status {
        Ok(status) => (status.code(), status.signal()),
        Err(err) => {
            tracing::warn!("waiting for a process failed: {err}");
            (None, None)
        }
    };
    Exit {
        code,
        signal,
        timed_out,
        duration: started.elapsed(),
        at: Instant::now(),
    }
}

/// The daemon's processes, by id.
#[derive(Debug)]
pub(crate) struct ProcessTable {
    state: Mutex<TableState>,
    processes_max: usize,
}

#[derive(Debug, Default)]
struct TableState {
    next_id: u64,
    processes: BTreeMap<u64, Arc<Process>>,
    /// Places taken by processes being started.
    reserved: usize,
}

impl ProcessTable {
    pub(crate) fn new(processes_max: usize) -> Self {
        Self {
            state: Mutex::new(TableState {
                next_id: 1,
                ..TableState::default()
            }),
            processes_max,
        }
    }

    fn lock(&self) -> MutexGuard<'_, TableState> {
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// A place and an id for a new process; `None` when `processes_max` run.
    /// Exited processes not yet reported are forgotten after `memory`.
    pub(crate) fn reserve(&self, memory: Duration) -> Option<u64> {
        let mut state = self.lock();
        let now = Instant::now();
        state.processes.retain(|_, process| {
            process
                .exit()
                .is_none_or(|exit| now.saturating_duration_since(exit.at) <= memory)
        });
        let live = state
            .processes
            .values()
            .filter(|process| process.exit().is_none())
            .count();
        if live + state.reserved >= self.processes_max {
            return None;
        }
        state.reserved += 1;
        let id = state.next_id;
        state.next_id += 1;
        Some(id)
    }

    /// Gives back a place [`Self::reserve`] took, with the process if it started.
    pub(crate) fn settle(&self, process: Option<Arc<Process>>) {
        let mut state = self.lock();
        state.reserved = state.reserved.saturating_sub(1);
        if let Some(process) = process {
            state.processes.insert(process.id, process);
        }
    }

    pub(crate) fn get(&self, id: u64) -> Option<Arc<Process>> {
        self.lock().processes.get(&id).cloned()
    }

    /// Forgets a process whose exit was reported.
    pub(crate) fn remove(&self, id: u64) {
        self.lock().processes.remove(&id);
    }

    /// Kills every group (the daemon is stopping).
    pub(crate) fn kill_all(&self) {
        for process in self.lock().processes.values() {
            if process.exit().is_none() {
                process.kill_group();
            }
        }
    }
}
