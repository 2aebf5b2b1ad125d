//! Errors of the runtime. Provider failures keep their [`llm_clients::LlmError`] so
//! callers can honour retry hints; everything else is a bug in stored content or
//! configuration and is not retryable.

use engine::store::StoreError;
use llm_clients::LlmError;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(transparent)]
    Provider(#[from] LlmError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no provider is configured under id {0:?}")]
    UnknownProvider(String),
    #[error("provider {provider_id:?} speaks {configured}, but the route asks for {requested}")]
    ApiKindMismatch {
        provider_id: String,
        configured: String,
        requested: String,
    },
    #[error("unknown API kind {0:?}")]
    UnknownApiKind(String),
    #[error(transparent)]
    Params(#[from] ParamsError),
    #[error("blob {blob} cannot be used: {reason}")]
    Content { blob: String, reason: String },
    #[error("the request cannot be expressed in {api_kind}: {reason}")]
    Unsupported {
        api_kind: &'static str,
        reason: String,
    },
    #[error("provider response cannot be understood: {0}")]
    Decode(String),
    #[error("encoding failed: {0}")]
    Encode(String),
}

impl RuntimeError {
    /// Whether calling again may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Provider(err) => err.is_retryable(),
            Self::Store(err) => err.is_retryable(),
            Self::UnknownProvider(_)
            | Self::ApiKindMismatch { .. }
            | Self::UnknownApiKind(_)
            | Self::Params(_)
            | Self::Content { .. }
            | Self::Unsupported { .. }
            | Self::Decode(_)
            | Self::Encode(_) => false,
        }
    }

    /// Stable code for a failed generation recorded in the session log.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Provider(err) => err.kind.as_str(),
            Self::Store(_) => "store",
            Self::UnknownProvider(_) | Self::ApiKindMismatch { .. } | Self::UnknownApiKind(_) => {
                "configuration"
            }
            Self::Params(_) => "invalid_params",
            Self::Content { .. } | Self::Unsupported { .. } => "invalid_request",
            Self::Decode(_) => "decode",
            Self::Encode(_) => "encode",
        }
    }
}

/// Provider params that the adapter of an API kind refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid provider params for {api_kind}: {reason}")]
pub struct ParamsError {
    pub api_kind: String,
    pub reason: String,
}
