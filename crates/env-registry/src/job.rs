//! A call for an environment, from the worker that submitted it to whoever finishes it.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Largest operation a job carries (a file write's content is the biggest part).
pub const OP_BYTES_MAX: usize = 5 * 1024 * 1024;
/// Largest result a job keeps (a tool result: refs and a few numbers).
pub const RESULT_BYTES_MAX: usize = 16 * 1024;

/// The id of the job for one tool call: the first 128 bits of the SHA-256 of its
/// session, run, batch and call id, in hex. A retried activity computes the same id,
/// so it finds the job its first attempt made.
pub fn job_id(session_id: &str, run_id: &str, batch: u32, call_id: &str) -> String {
    let mut hasher = Sha256::new();
    for part in [session_id, run_id, &batch.to_string(), call_id] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    hex::encode(&hasher.finalize()[..16])
}

/// Whether `id` has the shape [`job_id`] gives: 32 lowercase hex characters. Stores
/// rely on it (store-fs names a job's file after its id).
pub fn is_job_id(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum JobKind {
    /// A process (exec, stdin, kill): may run for minutes; its activity completes
    /// asynchronously.
    Command,
    /// A file operation: short; its activity waits for it.
    File,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "state",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum JobStatus {
    /// Waiting for the environment's daemon to be connected.
    Pending,
    /// Handed to the daemon on `connection`.
    Delivered { connection: String, at_ms: u64 },
    /// Finished; `EnvJob::result` holds the outcome.
    Done,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvJob {
    pub id: String,
    pub environment_id: String,
    pub session_id: String,
    pub run_id: String,
    pub batch: u32,
    pub call_id: String,
    pub kind: JobKind,
    /// The operation, as the environment protocol's `Op` (opaque here).
    pub op: Value,
    pub status: JobStatus,
    /// Base64 of the Temporal task token of the activity attempt waiting for this
    /// job, when it completes asynchronously; a retried attempt replaces it.
    #[serde(default)]
    pub task_token: Option<String>,
    pub created_at_ms: u64,
    /// After this the job is finished as failed (the environment did not answer).
    pub deadline_ms: u64,
    /// How many times it was handed to a daemon.
    #[serde(default)]
    pub deliveries: u32,
    /// The outcome (a tool result, opaque here) once `Done`.
    #[serde(default)]
    pub result: Option<Value>,
    #[serde(default)]
    pub finished_at_ms: Option<u64>,
}

impl EnvJob {
    pub fn is_done(&self) -> bool {
        matches!(self.status, JobStatus::Done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_ids_are_stable_and_unambiguous() {
        let a = job_id("s", "r", 1, "c");
        assert_eq!(a, job_id("s", "r", 1, "c"));
        assert_eq!(a.len(), 32);
        assert_ne!(a, job_id("s", "r", 2, "c"));
        assert_ne!(job_id("ab", "c", 1, "d"), job_id("a", "bc", 1, "d"));
        assert!(is_job_id(&a));
        for bad in ["", "../x", &a.to_uppercase(), &a[1..], &format!("{a}0")] {
            assert!(!is_job_id(bad), "{bad}");
        }
    }
}
