//! A universe's credentials for remote MCP servers.
//!
//! - [`keyring`]: AES-256-GCM sealing under the deployment's keys (rotation: the first
//!   key seals, all open); the associated data binds universe, purpose and name.
//! - [`records`] and [`catalog`]: secrets, grants and OAuth flows, and the
//!   [`AuthCatalog`] trait every store implements for ONE universe
//!   ([`memory::MemoryAuthCatalog`] here, store-fs, store-pg).
//! - [`oauth`]: MCP authorization discovery (RFC 9728, RFC 8414 with the OpenID
//!   fallback), dynamic client registration (RFC 7591), PKCE S256, the `resource`
//!   parameter (RFC 8707), code exchange, refresh and revocation (RFC 7009), over
//!   bounded HTTP.
//! - [`registry::AuthRegistry`]: the operations the API layer calls.
//! - [`broker::TokenBroker`]: a grant id in, a header out, refreshing once per grant
//!   however many callers wait.
//!
//! What this crate must not do: put a secret, token, verifier or client secret in a
//! log line, an error, a `Debug` rendering, or anything a list or read returns (only
//! [`broker::Credential`] carries a value, as a `SecretString`); read or write another
//! universe's records (a catalog instance and a registry serve one universe, and
//! ciphertext moved across universes does not open); speak plain HTTP to anything but
//! a loopback host.

pub mod broker;
pub mod catalog;
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
pub mod error;
pub mod keyring;
pub mod memory;
pub mod oauth;
pub mod records;
pub mod registry;

pub use broker::{BrokerError, Credential, TokenBroker};
pub use catalog::{AuthCatalog, CatalogError};
pub use error::AuthError;
pub use keyring::{Keyring, KeyringError, Purpose, SealContext, Sealed};
pub use memory::MemoryAuthCatalog;
pub use records::{
    Flow, FlowId, FlowStatus, Grant, GrantId, GrantKind, GrantName, GrantStatus, SecretMeta,
    SecretName, SecretPurpose, StoredSecret,
};
pub use registry::{AuthLimits, AuthRegistry};

/// Milliseconds since the Unix epoch: the registry's clock.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
        })
}
