//! The environment record.

use serde::{Deserialize, Serialize};

use crate::error::EnvCatalogError;

/// Longest environment (and attachment) name.
pub const NAME_CHARS_MAX: usize = 32;
/// Longest description.
pub const DESCRIPTION_CHARS_MAX: usize = 500;
/// Longest field of what a daemon reports about its host.
pub const HOST_FIELD_CHARS_MAX: usize = 256;

/// `[a-z0-9-]`, 1 to 32 characters, starting with a letter or digit: it becomes a
/// path segment (`/env/NAME`) and part of tool schemas.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EnvironmentName(String);

impl EnvironmentName {
    pub fn new(name: impl Into<String>) -> Result<Self, EnvCatalogError> {
        let name = name.into();
        check_name("name", &name)?;
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub(crate) fn check_name(field: &'static str, name: &str) -> Result<(), EnvCatalogError> {
    if name.is_empty() || name.len() > NAME_CHARS_MAX {
        return Err(EnvCatalogError::invalid(
            field,
            format!("must be 1 to {NAME_CHARS_MAX} characters"),
        ));
    }
    let valid = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !valid || name.starts_with('-') {
        return Err(EnvCatalogError::invalid(
            field,
            "only a-z, 0-9 and '-' (not first)",
        ));
    }
    Ok(())
}

impl TryFrom<String> for EnvironmentName {
    type Error = EnvCatalogError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<EnvironmentName> for String {
    fn from(value: EnvironmentName) -> Self {
        value.0
    }
}

impl std::fmt::Display for EnvironmentName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One environment of a universe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Environment {
    /// 32 lowercase hex characters, fixed at creation; tokens and jobs name it, so a
    /// deleted environment's token never serves one created later under its name.
    pub id: String,
    pub name: EnvironmentName,
    pub description: String,
    /// SHA-256 (hex) of the token; the token itself is never stored.
    pub token_sha256: String,
    pub created_at_ms: u64,
    /// What its daemon last reported; `None` until one first connects.
    #[serde(default)]
    pub presence: Option<Presence>,
}

/// A daemon's last report. `connected` is what the gateway holding it last wrote;
/// a gateway that died cannot clear it, so readers also compare `last_seen_ms` with
/// the clock (`Presence::online`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Presence {
    pub connected: bool,
    pub last_seen_ms: u64,
    /// The connection holding the daemon (a random id per socket).
    pub connection: String,
    pub os: String,
    pub arch: String,
    pub hostname: String,
    pub dir: String,
    pub sandbox: String,
    pub network: bool,
    pub daemon_version: String,
}

impl Presence {
    /// Connected, and heard from within `stale_ms` of `now_ms`.
    pub fn online(&self, now_ms: u64, stale_ms: u64) -> bool {
        self.connected && now_ms.saturating_sub(self.last_seen_ms) <= stale_ms
    }

    /// Each field cut to [`HOST_FIELD_CHARS_MAX`] characters: they come from a daemon.
    pub fn bounded(mut self) -> Self {
        for field in [
            &mut self.connection,
            &mut self.os,
            &mut self.arch,
            &mut self.hostname,
            &mut self.dir,
            &mut self.sandbox,
            &mut self.daemon_version,
        ] {
            if field.chars().count() > HOST_FIELD_CHARS_MAX {
                *field = field.chars().take(HOST_FIELD_CHARS_MAX).collect();
            }
        }
        self
    }
}

/// Checks a description's length.
pub fn check_description(description: &str) -> Result<(), EnvCatalogError> {
    if description.chars().count() > DESCRIPTION_CHARS_MAX {
        return Err(EnvCatalogError::invalid(
            "description",
            format!("at most {DESCRIPTION_CHARS_MAX} characters"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_path_and_schema_safe() {
        for good in ["a", "ci-box-1", "0laptop"] {
            assert!(EnvironmentName::new(good).is_ok(), "{good}");
        }
        for bad in ["", "-a", "A", "a/b", "a.b", "a b", &"x".repeat(33)] {
            assert!(EnvironmentName::new(bad).is_err(), "{bad}");
        }
    }
}
