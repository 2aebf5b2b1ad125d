//! `lightspeed-eval`: runs eval cases (`evals/cases/*.json`) through the real product
//! over its JSON-RPC API, checks what happened against each case's expectations, and
//! reports pass rates, tokens, cost and latency as a table, JSON and HTML.
//!
//! The runner is a client only: it speaks JSON-RPC to a gateway (one it starts
//! offline, with a fake provider per case run, or an existing one with `--live`) and
//! knows nothing of the server's internals.

pub mod case;
pub mod matchers;
pub mod offline;
pub mod report;
pub mod rpc;
pub mod runner;
pub mod suite;

use std::path::PathBuf;

/// Errors of the eval library; the binary wraps them in `anyhow`.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("case {path}: {message}")]
    Case { path: PathBuf, message: String },
    #[error("{method}: {message}")]
    Rpc { method: String, message: String },
    #[error("{0}")]
    Process(String),
    #[error("{0}")]
    Run(String),
}
