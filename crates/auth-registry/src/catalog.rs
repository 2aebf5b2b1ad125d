//! The catalog: where one universe's auth records live. Implemented in memory
//! ([`crate::memory::MemoryAuthCatalog`]), by store-fs and by store-pg, and checked by
//! one conformance suite (`conformance` feature).
//!
//! One instance serves exactly one universe. The catalog stores what it is given
//! (sealed values, validated names); it enforces only what needs atomicity: unique
//! ids, the per-universe counts and compare-and-set revisions.

use std::future::Future;

use engine::store::StoreError;

use crate::records::{Flow, FlowId, Grant, GrantId, SecretMeta, SecretName, StoredSecret};

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("a universe holds at most {max} {what}")]
    TooMany { what: &'static str, max: usize },
    #[error("{what} {id} already exists")]
    Exists { what: &'static str, id: String },
    #[error("{what} {id} not found")]
    NotFound { what: &'static str, id: String },
    /// Another writer moved the record first. Re-read and decide again.
    #[error("{what} {id} is at revision {actual}, not {expected}")]
    Conflict {
        what: &'static str,
        id: String,
        expected: u64,
        actual: u64,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl CatalogError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooMany { .. } => "auth.tooMany",
            Self::Exists { .. } => "auth.exists",
            Self::NotFound { .. } => "auth.notFound",
            Self::Conflict { .. } => "auth.conflict",
            Self::Store(_) => "auth.store",
        }
    }
}

pub trait AuthCatalog: Send + Sync {
    /// Inserts or replaces the secret named `secret.meta.name`; a replacement keeps
    /// the stored `created_at_ms`. [`CatalogError::TooMany`] if a new name would make
    /// more than `secrets_max`. Returns what is stored.
    fn secret_put(
        &self,
        secret: &StoredSecret,
        secrets_max: usize,
    ) -> impl Future<Output = Result<StoredSecret, CatalogError>> + Send;

    fn secret_get(
        &self,
        name: &SecretName,
    ) -> impl Future<Output = Result<Option<StoredSecret>, CatalogError>> + Send;

    /// Every secret's metadata, ordered by name.
    fn secret_list(&self) -> impl Future<Output = Result<Vec<SecretMeta>, CatalogError>> + Send;

    /// Whether there was such a secret.
    fn secret_delete(
        &self,
        name: &SecretName,
    ) -> impl Future<Output = Result<bool, CatalogError>> + Send;

    /// Stores a new grant as given; [`CatalogError::Exists`] if the id is taken,
    /// [`CatalogError::TooMany`] beyond `grants_max`.
    fn grant_create(
        &self,
        grant: &Grant,
        grants_max: usize,
    ) -> impl Future<Output = Result<(), CatalogError>> + Send;

    fn grant_get(
        &self,
        id: &GrantId,
    ) -> impl Future<Output = Result<Option<Grant>, CatalogError>> + Send;

    /// Every grant, ordered by id.
    fn grant_list(&self) -> impl Future<Output = Result<Vec<Grant>, CatalogError>> + Send;

    /// Replaces the grant with `grant` at revision `expected_revision + 1`, if and
    /// only if it is stored at `expected_revision`; else [`CatalogError::Conflict`]
    /// (or [`CatalogError::NotFound`]). Returns what is stored.
    fn grant_update(
        &self,
        grant: &Grant,
        expected_revision: u64,
    ) -> impl Future<Output = Result<Grant, CatalogError>> + Send;

    fn grant_delete(&self, id: &GrantId)
    -> impl Future<Output = Result<bool, CatalogError>> + Send;

    /// Stores a new flow; [`CatalogError::Exists`] if the id is taken,
    /// [`CatalogError::TooMany`] beyond `flows_max` stored flows.
    fn flow_create(
        &self,
        flow: &Flow,
        flows_max: usize,
    ) -> impl Future<Output = Result<(), CatalogError>> + Send;

    fn flow_get(
        &self,
        id: &FlowId,
    ) -> impl Future<Output = Result<Option<Flow>, CatalogError>> + Send;

    /// Compare-and-set like [`AuthCatalog::grant_update`].
    fn flow_update(
        &self,
        flow: &Flow,
        expected_revision: u64,
    ) -> impl Future<Output = Result<Flow, CatalogError>> + Send;

    /// Deletes flows that expired before `expired_before_ms`; how many.
    fn flow_prune(
        &self,
        expired_before_ms: u64,
    ) -> impl Future<Output = Result<usize, CatalogError>> + Send;
}
