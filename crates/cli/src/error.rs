//! How a command ends: an [`Outcome`] when it ran, a [`CliError`] when it could not.

use crate::client::ClientError;

/// How a command that ran to its end went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0.
    Success,
    /// The run failed or was cancelled (exit 1); the reason is on stderr.
    RunFailed,
}

impl Outcome {
    pub fn exit_code(self) -> u8 {
        match self {
            Self::Success => 0,
            Self::RunFailed => 1,
        }
    }
}

/// Why a command could not run. Every variant exits 2.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("the connection to the gateway was lost: {0}")]
    ConnectionLost(String),
    #[error("terminal: {0}")]
    Terminal(#[source] std::io::Error),
    #[error("writing output failed: {0}")]
    Output(#[source] std::io::Error),
    /// A local file or directory could not be read or written.
    #[error("{path}: {message}")]
    Local { path: String, message: String },
    /// The environment daemon refused to start.
    #[error(transparent)]
    Env(#[from] envd::ServeError),
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_)
            | Self::Client(_)
            | Self::ConnectionLost(_)
            | Self::Terminal(_)
            | Self::Output(_)
            | Self::Local { .. }
            | Self::Env(_) => 2,
        }
    }

    pub(crate) fn local(path: &std::path::Path, err: impl std::fmt::Display) -> Self {
        Self::Local {
            path: path.display().to_string(),
            message: err.to_string(),
        }
    }
}
