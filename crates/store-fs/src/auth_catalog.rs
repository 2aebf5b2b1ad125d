//! The auth catalog on disk (one store-fs root is one universe):
//!
//! ```text
//! auth/secrets/<name>.json    {"meta":{…},"value":"<base64 sealed>"}
//! auth/grants/<grant_id>.json a Grant, sealed parts as base64
//! auth/flows/<flow_id>.json   a Flow
//! auth/<kind>/<…>.lock        the record's lock
//! auth/<kind>/_create.lock    held by creates while they count the kind's records
//! ```
//!
//! Each record changes under its own lock ([`crate::record`]), as the VFS catalog's
//! do. Creating a record also holds its kind's `_create.lock` while counting, so two
//! creates cannot both pass the bound; deletes only lower the count and need no more
//! than the record's lock. Names and ids are validated by auth-registry's types
//! (`[A-Za-z0-9_.-]`, starting with a letter or digit), so they are safe file names
//! and never collide with `_create.lock`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use auth_registry::memory::{check_revision, merge_secret};
use auth_registry::{
    AuthCatalog, CatalogError, Flow, FlowId, Grant, GrantId, SecretMeta, SecretName, StoredSecret,
};
use engine::store::StoreError;

use crate::FsStore;
use crate::fsio::{self, io_err};
use crate::record::{Record, run};

const SECRETS_DIR: &str = "auth/secrets";
const GRANTS_DIR: &str = "auth/grants";
const FLOWS_DIR: &str = "auth/flows";
const CREATE_LOCK: &str = "_create";

fn dir(root: &Path, kind: &str) -> PathBuf {
    root.join(kind)
}

/// The stems of a kind's record files, ordered: every `*.json` whose stem starts with
/// a letter or digit (not temporary files of atomic writes, nor `_create`).
fn record_stems(dir: &Path) -> Result<Vec<String>, StoreError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(io_err("list", dir)(err)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let file = entry.map_err(io_err("list", dir))?.file_name();
        if let Some(stem) = file.to_str().and_then(|f| f.strip_suffix(".json"))
            && stem.starts_with(|c: char| c.is_ascii_alphanumeric())
        {
            names.push(stem.to_owned());
        }
    }
    names.sort();
    Ok(names)
}

/// The records of one kind, ordered by name.
fn read_all<T: serde::de::DeserializeOwned>(dir: &Path) -> Result<Vec<T>, StoreError> {
    let mut records = Vec::new();
    for name in record_stems(dir)? {
        // A record deleted since the listing is simply not there any more.
        if let Some(record) = Record::at(dir.to_owned(), &name).read()? {
            records.push(record);
        }
    }
    Ok(records)
}

/// How many records of a kind exist.
fn count(dir: &Path) -> Result<usize, StoreError> {
    Ok(record_stems(dir)?.len())
}

/// Runs `work` holding the kind's create lock and, inside it, the record's lock;
/// `work` learns how many records the kind holds.
fn create_locked<T>(
    dir: &Path,
    record: &Record,
    work: impl FnOnce(usize) -> Result<T, CatalogError>,
) -> Result<T, CatalogError> {
    fsio::ensure_dir(dir)?;
    Record::at(dir.to_owned(), CREATE_LOCK).locked(|| {
        record.locked(|| {
            let present = count(dir)?;
            work(present)
        })
    })
}

fn too_many(what: &'static str, max: usize) -> CatalogError {
    CatalogError::TooMany { what, max }
}

fn exists(what: &'static str, id: &str) -> CatalogError {
    CatalogError::Exists {
        what,
        id: id.to_owned(),
    }
}

impl AuthCatalog for FsStore {
    async fn secret_put(
        &self,
        secret: &StoredSecret,
        secrets_max: usize,
    ) -> Result<StoredSecret, CatalogError> {
        let dir = dir(self.root(), SECRETS_DIR);
        let record = Record::at(dir.clone(), secret.meta.name.as_str());
        let secret = secret.clone();
        run(move || {
            create_locked(&dir, &record, |present| {
                let existing: Option<StoredSecret> = record.read()?;
                if existing.is_none() && present >= secrets_max {
                    return Err(too_many("secrets", secrets_max));
                }
                let stored = merge_secret(existing.as_ref(), &secret);
                record.write(&stored)?;
                Ok(stored)
            })
        })
        .await
    }

    async fn secret_get(&self, name: &SecretName) -> Result<Option<StoredSecret>, CatalogError> {
        let record = Record::at(dir(self.root(), SECRETS_DIR), name.as_str());
        run(move || Ok(record.read()?)).await
    }

    async fn secret_list(&self) -> Result<Vec<SecretMeta>, CatalogError> {
        let dir = dir(self.root(), SECRETS_DIR);
        run(move || {
            let secrets: Vec<StoredSecret> = read_all(&dir)?;
            Ok(secrets.into_iter().map(|s| s.meta).collect())
        })
        .await
    }

    async fn secret_delete(&self, name: &SecretName) -> Result<bool, CatalogError> {
        let record = Record::at(dir(self.root(), SECRETS_DIR), name.as_str());
        run(move || {
            record.locked(|| {
                let existed = record.read::<StoredSecret>()?.is_some();
                record.remove()?;
                Ok(existed)
            })
        })
        .await
    }

    async fn grant_create(&self, grant: &Grant, grants_max: usize) -> Result<(), CatalogError> {
        let dir = dir(self.root(), GRANTS_DIR);
        let record = Record::at(dir.clone(), grant.id.as_str());
        let grant = grant.clone();
        run(move || {
            create_locked(&dir, &record, |present| {
                if record.read::<Grant>()?.is_some() {
                    return Err(exists("grant", grant.id.as_str()));
                }
                if present >= grants_max {
                    return Err(too_many("grants", grants_max));
                }
                Ok(record.write(&grant)?)
            })
        })
        .await
    }

    async fn grant_get(&self, id: &GrantId) -> Result<Option<Grant>, CatalogError> {
        let record = Record::at(dir(self.root(), GRANTS_DIR), id.as_str());
        run(move || Ok(record.read()?)).await
    }

    async fn grant_list(&self) -> Result<Vec<Grant>, CatalogError> {
        let dir = dir(self.root(), GRANTS_DIR);
        run(move || Ok(read_all(&dir)?)).await
    }

    async fn grant_update(
        &self,
        grant: &Grant,
        expected_revision: u64,
    ) -> Result<Grant, CatalogError> {
        let record = Record::at(dir(self.root(), GRANTS_DIR), grant.id.as_str());
        let mut next = grant.clone();
        run(move || {
            record.locked(|| {
                let stored: Option<Grant> = record.read()?;
                check_revision(
                    "grant",
                    next.id.as_str(),
                    stored.map(|g| g.revision),
                    expected_revision,
                )?;
                next.revision = expected_revision + 1;
                record.write(&next)?;
                Ok(next)
            })
        })
        .await
    }

    async fn grant_delete(&self, id: &GrantId) -> Result<bool, CatalogError> {
        let record = Record::at(dir(self.root(), GRANTS_DIR), id.as_str());
        run(move || {
            record.locked(|| {
                let existed = record.read::<Grant>()?.is_some();
                record.remove()?;
                Ok(existed)
            })
        })
        .await
    }

    async fn flow_create(&self, flow: &Flow, flows_max: usize) -> Result<(), CatalogError> {
        let dir = dir(self.root(), FLOWS_DIR);
        let record = Record::at(dir.clone(), flow.id.as_str());
        let flow = flow.clone();
        run(move || {
            create_locked(&dir, &record, |present| {
                if record.read::<Flow>()?.is_some() {
                    return Err(exists("flow", flow.id.as_str()));
                }
                if present >= flows_max {
                    return Err(too_many("flows", flows_max));
                }
                Ok(record.write(&flow)?)
            })
        })
        .await
    }

    async fn flow_get(&self, id: &FlowId) -> Result<Option<Flow>, CatalogError> {
        let record = Record::at(dir(self.root(), FLOWS_DIR), id.as_str());
        run(move || Ok(record.read()?)).await
    }

    async fn flow_update(&self, flow: &Flow, expected_revision: u64) -> Result<Flow, CatalogError> {
        let record = Record::at(dir(self.root(), FLOWS_DIR), flow.id.as_str());
        let mut next = flow.clone();
        run(move || {
            record.locked(|| {
                let stored: Option<Flow> = record.read()?;
                check_revision(
                    "flow",
                    next.id.as_str(),
                    stored.map(|f| f.revision),
                    expected_revision,
                )?;
                next.revision = expected_revision + 1;
                record.write(&next)?;
                Ok(next)
            })
        })
        .await
    }

    async fn flow_prune(&self, expired_before_ms: u64) -> Result<usize, CatalogError> {
        let dir = dir(self.root(), FLOWS_DIR);
        run(move || {
            let flows: Vec<Flow> = read_all(&dir)?;
            let mut pruned = 0;
            for flow in flows.iter().filter(|f| f.expires_at_ms < expired_before_ms) {
                let record = Record::at(dir.clone(), flow.id.as_str());
                // Re-read under the lock: an update may have moved it meanwhile.
                pruned += record.locked(|| -> Result<usize, CatalogError> {
                    match record.read::<Flow>()? {
                        Some(current) if current.expires_at_ms < expired_before_ms => {
                            record.remove()?;
                            Ok(1)
                        }
                        _ => Ok(0),
                    }
                })?;
            }
            Ok(pruned)
        })
        .await
    }
}
