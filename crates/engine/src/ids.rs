//! Validated identifiers.
//!
//! Every id is a short printable token so it can appear in log keys, file names,
//! workflow ids and URLs without escaping. Validation happens on construction and on
//! deserialisation, so an invalid id can never be held in memory.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Longest id accepted, in bytes. Provider tool-call ids are the longest we meet.
pub const ID_BYTES_MAX: usize = 256;

/// Why a string was refused as an id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("{kind} must not be empty")]
    Empty { kind: &'static str },
    #[error("{kind} is {len} bytes; at most {ID_BYTES_MAX} are allowed")]
    TooLong { kind: &'static str, len: usize },
    #[error("{kind} contains {found:?}; only ASCII letters, digits and `_ - . :` are allowed")]
    InvalidChar { kind: &'static str, found: char },
}

fn validate(kind: &'static str, value: &str) -> Result<(), IdError> {
    if value.is_empty() {
        return Err(IdError::Empty { kind });
    }
    if value.len() > ID_BYTES_MAX {
        return Err(IdError::TooLong {
            kind,
            len: value.len(),
        });
    }
    if let Some(found) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':')))
    {
        return Err(IdError::InvalidChar { kind, found });
    }
    Ok(())
}

macro_rules! define_id {
    ($(#[$meta:meta])* $name:ident, $kind:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Validates and wraps `value`.
            pub fn new(value: impl Into<String>) -> Result<Self, IdError> {
                let value = value.into();
                validate($kind, &value)?;
                Ok(Self(value))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::new(value)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(value: &str) -> Result<Self, Self::Err> {
                Self::new(value)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

define_id!(
    /// One session: one context window's history and state.
    SessionId,
    "session id"
);
define_id!(
    /// One run inside a session. Assigned by the engine (`run_1`, `run_2`, ...).
    RunId,
    "run id"
);
define_id!(
    /// Client-chosen idempotency key of a run request.
    SubmissionId,
    "submission id"
);
define_id!(
    /// A tool call, named by the provider that asked for it.
    ToolCallId,
    "tool call id"
);

impl RunId {
    /// The engine's run id for the `ordinal`-th run of a session (1-based).
    pub fn from_ordinal(ordinal: u64) -> Self {
        Self(format!("run_{ordinal}"))
    }

    /// The ordinal of an engine-assigned run id (`run_7` is 7); `None` for ids the
    /// engine did not assign.
    pub fn ordinal(&self) -> Option<u64> {
        self.0.strip_prefix("run_")?.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_provider_style_ids() {
        for id in ["call_abc123", "toolu_01A09q90qw90lq917835lq9", "s-1.2:3"] {
            assert!(ToolCallId::new(id).is_ok(), "{id}");
        }
    }

    #[test]
    fn rejects_bad_ids() {
        assert_eq!(
            SessionId::new(""),
            Err(IdError::Empty { kind: "session id" })
        );
        assert!(matches!(
            SessionId::new("a/b"),
            Err(IdError::InvalidChar { found: '/', .. })
        ));
        assert!(matches!(
            SessionId::new("a b"),
            Err(IdError::InvalidChar { found: ' ', .. })
        ));
        assert!(matches!(
            SessionId::new("x".repeat(257)),
            Err(IdError::TooLong { len: 257, .. })
        ));
    }

    #[test]
    fn deserialisation_validates() {
        assert!(serde_json::from_str::<RunId>("\"../etc\"").is_err());
        let id: RunId = serde_json::from_str("\"run_7\"").unwrap();
        assert_eq!(id, RunId::from_ordinal(7));
    }
}
