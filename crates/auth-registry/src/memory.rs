//! The in-memory catalog: the reference implementation of [`AuthCatalog`].

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use crate::catalog::{AuthCatalog, CatalogError};
use crate::records::{Flow, FlowId, Grant, GrantId, SecretMeta, SecretName, StoredSecret};

#[derive(Debug, Default)]
pub struct MemoryAuthCatalog {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    secrets: BTreeMap<SecretName, StoredSecret>,
    grants: BTreeMap<GrantId, Grant>,
    flows: BTreeMap<FlowId, Flow>,
}

impl MemoryAuthCatalog {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every change is one insert or remove, so a poisoned map is still consistent.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Checks `expected_revision` against the stored record's; the shared rule of every
/// backend's compare-and-set.
pub fn check_revision(
    what: &'static str,
    id: &str,
    stored: Option<u64>,
    expected: u64,
) -> Result<(), CatalogError> {
    match stored {
        None => Err(CatalogError::NotFound {
            what,
            id: id.to_owned(),
        }),
        Some(actual) if actual != expected => Err(CatalogError::Conflict {
            what,
            id: id.to_owned(),
            expected,
            actual,
        }),
        Some(_) => Ok(()),
    }
}

/// The secret to store for a put over `existing`: a replacement keeps its creation
/// time.
pub fn merge_secret(existing: Option<&StoredSecret>, secret: &StoredSecret) -> StoredSecret {
    let mut stored = secret.clone();
    if let Some(existing) = existing {
        stored.meta.created_at_ms = existing.meta.created_at_ms;
    }
    stored
}

impl AuthCatalog for MemoryAuthCatalog {
    async fn secret_put(
        &self,
        secret: &StoredSecret,
        secrets_max: usize,
    ) -> Result<StoredSecret, CatalogError> {
        let mut inner = self.lock();
        let existing = inner.secrets.get(&secret.meta.name);
        if existing.is_none() && inner.secrets.len() >= secrets_max {
            return Err(CatalogError::TooMany {
                what: "secrets",
                max: secrets_max,
            });
        }
        let stored = merge_secret(existing, secret);
        inner
            .secrets
            .insert(stored.meta.name.clone(), stored.clone());
        Ok(stored)
    }

    async fn secret_get(&self, name: &SecretName) -> Result<Option<StoredSecret>, CatalogError> {
        Ok(self.lock().secrets.get(name).cloned())
    }

    async fn secret_list(&self) -> Result<Vec<SecretMeta>, CatalogError> {
        Ok(self
            .lock()
            .secrets
            .values()
            .map(|s| s.meta.clone())
            .collect())
    }

    async fn secret_delete(&self, name: &SecretName) -> Result<bool, CatalogError> {
        Ok(self.lock().secrets.remove(name).is_some())
    }

    async fn grant_create(&self, grant: &Grant, grants_max: usize) -> Result<(), CatalogError> {
        let mut inner = self.lock();
        if inner.grants.contains_key(&grant.id) {
            return Err(CatalogError::Exists {
                what: "grant",
                id: grant.id.to_string(),
            });
        }
        if inner.grants.len() >= grants_max {
            return Err(CatalogError::TooMany {
                what: "grants",
                max: grants_max,
            });
        }
        inner.grants.insert(grant.id.clone(), grant.clone());
        Ok(())
    }

    async fn grant_get(&self, id: &GrantId) -> Result<Option<Grant>, CatalogError> {
        Ok(self.lock().grants.get(id).cloned())
    }

    async fn grant_list(&self) -> Result<Vec<Grant>, CatalogError> {
        Ok(self.lock().grants.values().cloned().collect())
    }

    async fn grant_update(
        &self,
        grant: &Grant,
        expected_revision: u64,
    ) -> Result<Grant, CatalogError> {
        let mut inner = self.lock();
        let stored = inner.grants.get(&grant.id).map(|g| g.revision);
        check_revision("grant", grant.id.as_str(), stored, expected_revision)?;
        let mut next = grant.clone();
        next.revision = expected_revision + 1;
        inner.grants.insert(next.id.clone(), next.clone());
        Ok(next)
    }

    async fn grant_delete(&self, id: &GrantId) -> Result<bool, CatalogError> {
        Ok(self.lock().grants.remove(id).is_some())
    }

    async fn flow_create(&self, flow: &Flow, flows_max: usize) -> Result<(), CatalogError> {
        let mut inner = self.lock();
        if inner.flows.contains_key(&flow.id) {
            return Err(CatalogError::Exists {
                what: "flow",
                id: flow.id.to_string(),
            });
        }
        if inner.flows.len() >= flows_max {
            return Err(CatalogError::TooMany {
                what: "flows",
                max: flows_max,
            });
        }
        inner.flows.insert(flow.id.clone(), flow.clone());
        Ok(())
    }

    async fn flow_get(&self, id: &FlowId) -> Result<Option<Flow>, CatalogError> {
        Ok(self.lock().flows.get(id).cloned())
    }

    async fn flow_update(&self, flow: &Flow, expected_revision: u64) -> Result<Flow, CatalogError> {
        let mut inner = self.lock();
        let stored = inner.flows.get(&flow.id).map(|f| f.revision);
        check_revision("flow", flow.id.as_str(), stored, expected_revision)?;
        let mut next = flow.clone();
        next.revision = expected_revision + 1;
        inner.flows.insert(next.id.clone(), next.clone());
        Ok(next)
    }

    async fn flow_prune(&self, expired_before_ms: u64) -> Result<usize, CatalogError> {
        let mut inner = self.lock();
        let before = inner.flows.len();
        inner
            .flows
            .retain(|_, flow| flow.expires_at_ms >= expired_before_ms);
        Ok(before - inner.flows.len())
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn memory_catalog_conforms() {
        let catalog = super::MemoryAuthCatalog::new();
        crate::conformance::auth_catalog_suite(&catalog)
            .await
            .unwrap();
        // Twice on one catalog: the suite uses fresh names and ids.
        crate::conformance::auth_catalog_suite(&catalog)
            .await
            .unwrap();
    }
}
