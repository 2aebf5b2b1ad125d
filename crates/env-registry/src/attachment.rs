//! An environment attached to a session.

use serde::{Deserialize, Serialize};

use crate::environment::{EnvironmentName, check_name};
use crate::error::EnvCatalogError;

/// The name an environment is attached at in a session: its file tools see the
/// environment's directory at `/env/NAME`, and its shell tools take `NAME`. Same
/// rules as an environment name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MountName(String);

impl MountName {
    pub fn new(name: impl Into<String>) -> Result<Self, EnvCatalogError> {
        let name = name.into();
        check_name("name", &name)?;
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The session path the environment's directory appears at.
    pub fn root(&self) -> String {
        format!("/env/{}", self.0)
    }
}

impl TryFrom<String> for MountName {
    type Error = EnvCatalogError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<MountName> for String {
    fn from(value: MountName) -> Self {
        value.0
    }
}

impl std::fmt::Display for MountName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    pub name: MountName,
    pub environment_id: String,
    pub environment: EnvironmentName,
    pub attached_at_ms: u64,
}
