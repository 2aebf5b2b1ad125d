//! Why the daemon could not start. Once it serves, nothing is fatal: a lost
//! connection is dialled again, and a call's failure is its result.

/// A refusal to start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The directory, the temp directory or an `--allow-read` path is unusable.
    #[error("{0}")]
    Setup(String),
    /// The requested sandbox cannot be enforced on this machine.
    #[error("the {kind} sandbox cannot be enforced here, so the daemon does not start: {reason}")]
    Sandbox { kind: &'static str, reason: String },
    /// The gateway URL or the token cannot make a connection request.
    #[error("{0}")]
    Gateway(String),
}
