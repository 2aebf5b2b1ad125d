//! Tool definitions as the engine sees them: a name and a ref to the full
//! provider-neutral definition (description and JSON schema) in the CAS.

use serde::{Deserialize, Serialize};

use crate::blob_ref::BlobRef;
pub use crate::core::policy::ToolClass;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ToolSpec {
    /// What the model calls the tool: 1-64 of `[A-Za-z0-9_-]`, the strictest rule
    /// among the providers we speak.
    pub name: String,
    /// CAS blob holding the tool's definition.
    pub definition_ref: BlobRef,
    /// The family the tool policy may name it by (file writes, shell, MCP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<ToolClass>,
}

impl ToolSpec {
    /// A tool of no policy class.
    pub fn new(name: impl Into<String>, definition_ref: BlobRef) -> Self {
        Self {
            name: name.into(),
            definition_ref,
            class: None,
        }
    }

    pub fn with_class(mut self, class: ToolClass) -> Self {
        self.class = Some(class);
        self
    }
}

pub fn is_valid_tool_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}
