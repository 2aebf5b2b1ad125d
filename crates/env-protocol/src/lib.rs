//! The environment protocol: what an environment daemon (`lightspeed env serve`) and
//! the gateway say to each other over the WebSocket the daemon dials
//! (`GET /env/connect`, `Authorization: Bearer <environment token>`).
//!
//! Not part of the JSON-RPC contract: one JSON object per text frame, tagged by
//! `type`. The daemon speaks first ([`DaemonMessage::Hello`]); the gateway answers
//! [`GatewayMessage::Welcome`] or closes the socket with a reason. After that the
//! gateway sends [`GatewayMessage::Call`]s; the daemon streams
//! [`DaemonMessage::Output`] for the calls that produce output and ends every call
//! with exactly one [`DaemonMessage::Result`].
//!
//! Delivery is at least once: a call id the daemon has seen (running, or finished
//! within its memory) is never run twice; a re-delivered call that is still running
//! is attached to (its output is sent again from offset 0, then live), and one that
//! finished is answered from memory (output from offset 0, then its result).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The protocol revision both sides speak; a daemon with another is refused.
pub const PROTOCOL_VERSION: u32 = 1;

/// The path the daemon dials on the gateway.
pub const CONNECT_PATH: &str = "/env/connect";

/// Largest frame either side sends (a file write's content is the biggest).
pub const FRAME_BYTES_MAX: usize = 4 * 1024 * 1024;

/// Largest `data` of one [`DaemonMessage::Output`] chunk.
pub const OUTPUT_CHUNK_BYTES_MAX: usize = 64 * 1024;

/// Daemon → gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum DaemonMessage {
    /// The first frame after the upgrade.
    Hello {
        protocol: u32,
        /// The environment name the daemon was started with; must match the token's.
        name: String,
        /// What the daemon runs on and how it confines commands.
        host: HostInfo,
        /// Call ids the daemon is running or remembers finishing, so a gateway that
        /// handed a call to a previous connection knows whether it was lost.
        known_calls: Vec<String>,
    },
    /// Output of call `call_id`, at byte `offset` of its combined stdout+stderr.
    Output {
        call_id: String,
        offset: u64,
        /// UTF-8 text; invalid sequences are replaced (lossy), so offsets count the
        /// bytes as sent.
        data: String,
    },
    /// The end of call `call_id`.
    Result { call_id: String, result: CallResult },
    /// Answers [`GatewayMessage::Ping`].
    Pong { nonce: u64 },
}

/// Gateway → daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum GatewayMessage {
    Welcome {
        environment_id: String,
        /// How often the gateway pings; a daemon that hears nothing for 3× this
        /// reconnects.
        ping_interval_ms: u64,
    },
    Call {
        call_id: String,
        op: Op,
    },
    /// Nobody waits for call `call_id` any more (its run was cancelled, or its
    /// deadline passed): kill its process group if it still runs. Its result, if
    /// it sends one, is dropped.
    Cancel {
        call_id: String,
    },
    Ping {
        nonce: u64,
    },
}

/// What the daemon runs on. Reported at every connect and shown by
/// `environments/read`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostInfo {
    /// `std::env::consts::OS`.
    pub os: String,
    pub arch: String,
    pub hostname: String,
    /// The directory commands and file operations are confined to (absolute).
    pub dir: String,
    pub sandbox: SandboxInfo,
    pub daemon_version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SandboxInfo {
    /// `landlock`, `bwrap` or `none`.
    pub kind: String,
    /// Whether commands may use the network.
    pub network: bool,
}

/// One operation. Paths are relative to the daemon's directory (a leading `/` is
/// the directory itself); any that resolves outside it, through `..` or a
/// symlink, is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum Op {
    /// Start a process in its own process group.
    Exec {
        command: Command,
        /// Working directory, relative to the daemon's directory (default: it).
        #[serde(default)]
        workdir: Option<String>,
        /// Added to the daemon's own environment.
        #[serde(default)]
        env: BTreeMap<String, String>,
        /// Written to the process's stdin, which is then left open only when
        /// `yield_ms` is set (an interactive process), closed otherwise.
        #[serde(default)]
        stdin: Option<String>,
        /// The whole process group is killed after this long.
        timeout_ms: u64,
        /// Set: answer after this long even if the process still runs (its
        /// `process_id` in the result; [`Op::WriteStdin`] talks to it). Unset: wait
        /// until it exits or times out.
        #[serde(default)]
        yield_ms: Option<u64>,
    },
    /// Write to a running process's stdin, then collect what it prints for
    /// `yield_ms` (or until it exits).
    WriteStdin {
        process_id: u64,
        data: String,
        /// Close stdin after writing.
        #[serde(default)]
        close: bool,
        yield_ms: u64,
    },
    /// Kill a running process's whole group.
    Kill {
        process_id: u64,
    },
    /// Read a file: at most `limit` bytes from `offset`.
    Read {
        path: String,
        #[serde(default)]
        offset: u64,
        limit: u64,
    },
    /// Create or replace a file (parents created). With `expected_sha256`, only if
    /// the file's current content has that digest (`absent` for a new file).
    Write {
        path: String,
        content: String,
        #[serde(default)]
        expected_sha256: Option<String>,
    },
    /// Entries below a directory, breadth first, at most `depth` levels and
    /// `limit` entries.
    List {
        path: String,
        depth: u32,
        limit: u32,
    },
    Stat {
        path: String,
    },
    /// Lines matching a regular expression in files below `path` whose relative
    /// path matches `glob` (if given); at most `limit` matches.
    Search {
        path: String,
        pattern: String,
        #[serde(default)]
        glob: Option<String>,
        limit: u32,
    },
    /// Files below `path` whose relative path matches `glob`; at most `limit`.
    Glob {
        path: String,
        glob: String,
        limit: u32,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "camelCase")]
pub enum Command {
    /// Run directly, no shell.
    Argv(Vec<String>),
    /// Run with `/bin/sh -c` (`bash -c` when bash exists).
    Shell(String),
}

/// How a call ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "status",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum CallResult {
    /// A process call (`exec`, `writeStdin`, `kill`) answered.
    Process(ProcessOutcome),
    Read {
        /// UTF-8 text (lossy); `binary` when the bytes are not text.
        content: String,
        binary: bool,
        size: u64,
        sha256: String,
    },
    Written {
        size: u64,
        sha256: String,
    },
    Listed {
        entries: Vec<DirEntry>,
        truncated: bool,
    },
    Stat {
        entry: DirEntry,
    },
    Searched {
        matches: Vec<SearchMatch>,
        truncated: bool,
    },
    Globbed {
        paths: Vec<String>,
        truncated: bool,
    },
    /// The operation was refused or failed; `code` is stable.
    Failed {
        code: FailureCode,
        message: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProcessOutcome {
    pub process_id: u64,
    /// `None` while the process runs (yielded), or when killed by a signal.
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub running: bool,
    pub timed_out: bool,
    /// Since the process started.
    pub duration_ms: u64,
    /// Bytes of output the call streamed: the end offset of its last `Output`.
    pub output_end: u64,
    /// Output beyond the daemon's per-process memory was dropped from the middle;
    /// this many bytes are missing.
    #[serde(default)]
    pub output_dropped: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DirEntry {
    /// Relative to the daemon's directory, `/`-separated.
    pub path: String,
    pub kind: EntryKind,
    pub size: u64,
    pub modified_ms: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchMatch {
    pub path: String,
    pub line: u64,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FailureCode {
    /// The path resolves outside the directory (or through a refused symlink).
    OutsideRoot,
    NotFound,
    NotAFile,
    NotADirectory,
    TooLarge,
    /// `expected_sha256` did not match.
    Conflict,
    /// No running process with that id.
    NoSuchProcess,
    /// The command could not be started (not found, not executable...).
    Spawn,
    /// Too many processes running already.
    Busy,
    InvalidArguments,
    /// The sandbox refused it.
    Denied,
    Io,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_tagged_camel_case() -> anyhow::Result<()> {
        let call = GatewayMessage::Call {
            call_id: "c1".into(),
            op: Op::Exec {
                command: Command::Shell("echo hi".into()),
                workdir: None,
                env: BTreeMap::new(),
                stdin: None,
                timeout_ms: 1000,
                yield_ms: None,
            },
        };
        let text = serde_json::to_string(&call)?;
        assert!(text.contains(r#""type":"call""#), "{text}");
        assert!(text.contains(r#""op":"exec""#), "{text}");
        assert!(text.contains(r#""timeoutMs":1000"#), "{text}");
        assert_eq!(serde_json::from_str::<GatewayMessage>(&text)?, call);
        let result = DaemonMessage::Result {
            call_id: "c1".into(),
            result: CallResult::Failed {
                code: FailureCode::OutsideRoot,
                message: "no".into(),
            },
        };
        let text = serde_json::to_string(&result)?;
        assert!(text.contains(r#""status":"failed""#), "{text}");
        assert!(text.contains(r#""code":"outsideRoot""#), "{text}");
        assert_eq!(serde_json::from_str::<DaemonMessage>(&text)?, result);
        Ok(())
    }
}
