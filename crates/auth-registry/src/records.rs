//! The records a catalog keeps: secrets, grants and OAuth flows. Every credential
//! inside them is [`Sealed`]; everything else is plain metadata. Names and ids are
//! validated on construction, so a record that exists has path-safe names.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::keyring::Sealed;

/// Longest secret or grant name, in bytes.
pub const NAME_BYTES_MAX: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind}: {reason}")]
pub struct NameError {
    pub kind: &'static str,
    pub reason: &'static str,
}

/// `[A-Za-z0-9_.-]`, 1..=128 bytes, starting with a letter or digit: safe as a file
/// name, a header-free label and a Postgres key.
fn check_name(kind: &'static str, value: &str) -> Result<(), NameError> {
    let error = |reason| NameError { kind, reason };
    if value.is_empty() {
        return Err(error("empty"));
    }
    if value.len() > NAME_BYTES_MAX {
        return Err(error("longer than 128 bytes"));
    }
    if !value.as_bytes()[0].is_ascii_alphanumeric() {
        return Err(error("must start with a letter or digit"));
    }
    if !value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    {
        return Err(error("only letters, digits, '_', '.' and '-' are allowed"));
    }
    Ok(())
}

macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(value: impl Into<String>) -> Result<Self, NameError> {
                let value = value.into();
                check_name($kind, &value)?;
                Ok(Self(value))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                Self::new(String::deserialize(d)?).map_err(serde::de::Error::custom)
            }
        }
    };
}

name_type!(
    /// A secret's name, unique in its universe.
    SecretName,
    "secret name"
);
name_type!(
    /// A grant's label (not unique).
    GrantName,
    "grant name"
);
name_type!(
    /// `grant_` + a UUID, made by the registry.
    GrantId,
    "grant id"
);
name_type!(
    /// `flow_` + a UUID, made by the registry.
    FlowId,
    "flow id"
);

impl GrantId {
    pub fn generate() -> Self {
        Self(format!("grant_{}", uuid::Uuid::new_v4().simple()))
    }
}

impl FlowId {
    pub fn generate() -> Self {
        Self(format!("flow_{}", uuid::Uuid::new_v4().simple()))
    }
}

/// A stored secret: metadata and the sealed value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredSecret {
    pub meta: SecretMeta,
    pub value: Sealed,
}

/// What listing a secret shows: never its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretMeta {
    pub name: SecretName,
    pub purpose: SecretPurpose,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
    /// The key that sealed the value (to see what a rotation still has to reseal).
    pub key_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SecretPurpose {
    /// A value sent as a header (through a static grant).
    Header,
    /// An OAuth client secret, named when starting a flow.
    OauthClientSecret,
}

impl SecretPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Header => "header",
            Self::OauthClientSecret => "oauthClientSecret",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "header" => Some(Self::Header),
            "oauthClientSecret" => Some(Self::OauthClientSecret),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum GrantStatus {
    Active,
    /// The server refused the refresh token: a person must authorize again.
    NeedsReauth,
    Revoked,
}

impl GrantStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::NeedsReauth => "needsReauth",
            Self::Revoked => "revoked",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "active" => Some(Self::Active),
            "needsReauth" => Some(Self::NeedsReauth),
            "revoked" => Some(Self::Revoked),
            _ => None,
        }
    }
}

/// What a grant is, without its credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum GrantKind {
    /// A stored secret sent as `header_name: prefix + value`.
    Secret {
        secret_name: SecretName,
        header_name: String,
        prefix: Option<String>,
    },
    /// OAuth tokens; the sealed ones are in [`GrantSealed`].
    Oauth {
        /// When the access token expires (None: the server did not say).
        expires_at_ms: Option<u64>,
        token_endpoint: String,
        revocation_endpoint: Option<String>,
        client_id: String,
        scopes: Vec<String>,
        /// The protected resource (RFC 8707), the MCP server's URL.
        resource: String,
    },
}

/// A grant's sealed credentials (all absent for a secret grant).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GrantSealed {
    pub access_token: Option<Sealed>,
    pub refresh_token: Option<Sealed>,
    pub client_secret: Option<Sealed>,
}

/// Revision of a grant or flow when created; each update moves it up by one.
pub const REVISION_INITIAL: u64 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Grant {
    pub id: GrantId,
    pub name: GrantName,
    pub status: GrantStatus,
    pub revision: u64,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
    pub kind: GrantKind,
    pub sealed: GrantSealed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum FlowStatus {
    Pending,
    Completed,
    Failed { reason: String },
}

/// Longest failure reason a flow keeps (the authorization server's text is cut).
pub const FLOW_REASON_BYTES_MAX: usize = 256;

impl FlowStatus {
    /// A failure whose reason is cut to [`FLOW_REASON_BYTES_MAX`] on a char boundary.
    pub fn failed(reason: &str) -> Self {
        let mut end = reason.len().min(FLOW_REASON_BYTES_MAX);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        Self::Failed {
            reason: reason[..end].to_owned(),
        }
    }
}

/// What a flow needs to finish, none of it secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowSpec {
    /// Hex SHA-256 of the random part of `state`: the flow keeps no usable state.
    pub state_digest: String,
    pub redirect_uri: String,
    pub resource: String,
    pub token_endpoint: String,
    pub revocation_endpoint: Option<String>,
    pub client_id: String,
    /// Whether the client was registered dynamically for this flow.
    pub client_registered: bool,
    pub scopes: Vec<String>,
    pub grant_name: GrantName,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Flow {
    pub id: FlowId,
    pub revision: u64,
    pub status: FlowStatus,
    pub grant_id: Option<GrantId>,
    pub created_at_ms: u64,
    pub expires_at_ms: u64,
    pub spec: FlowSpec,
    pub verifier: Sealed,
    pub client_secret: Option<Sealed>,
}
