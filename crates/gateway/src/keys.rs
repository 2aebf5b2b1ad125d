//! API keys: minting, hashing and the stores that hold their hashes.
//!
//! A key is shown once, when minted; stores keep only its SHA-256. A key names its
//! universe, so the gateway never needs a universe from the request itself.

use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex as StdMutex;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Prefix of every plaintext key; lets scanners and humans recognise one.
pub const KEY_PREFIX: &str = "lsk_";
/// Random bytes in a key: 256 bits.
const KEY_RANDOM_BYTES: usize = 32;
/// Version of the key file's layout.
const KEY_FILE_VERSION: u32 = 1;

/// What a store knows about a key. Never the key itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyRecord {
    /// Public id of the key, safe to log (e.g. `key_3f2a...`).
    pub key_id: String,
    /// The universe (tenant) every request with this key acts in.
    pub universe_id: String,
    /// Lowercase hex SHA-256 of the plaintext key.
    pub key_hash: String,
    pub created_at_ms: u64,
    /// A label for people.
    #[serde(default)]
    pub name: String,
    /// An operator key: belongs to no universe (`universe_id` is empty) and calls the
    /// `operator/` methods only.
    #[serde(default)]
    pub operator: bool,
    /// When it was revoked; a revoked key is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at_ms: Option<u64>,
}

/// One operator call, as the audit log keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    /// Assigned by the store when appended (ignored there).
    pub seq: u64,
    pub at_ms: u64,
    pub key_id: String,
    pub method: String,
    pub target: String,
    /// 0: succeeded; else the JSON-RPC error code answered.
    pub code: i32,
}

/// A universe the operator created or deleted (`operator/universes/*`); universes
/// known only from their keys have none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UniverseRecord {
    pub universe_id: String,
    #[serde(default)]
    pub name: String,
    /// When the operator created it (absent for one only deleted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at_ms: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyStoreError {
    #[error("key store I/O on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("key file {path} is not valid: {source}")]
    Corrupt {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("a key with this hash or id already exists")]
    Duplicate,
    /// A store other than the file (a database) failed; its error says why.
    #[error("key store backend failed: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Where the gateway looks keys up by hash.
pub trait KeyStore: Send + Sync + 'static {
    /// The record whose `key_hash` equals `key_hash`, if any.
    fn find(
        &self,
        key_hash: &str,
    ) -> impl Future<Output = Result<Option<KeyRecord>, KeyStoreError>> + Send;
    /// Adds a record; a second record with the same hash or id is `Duplicate`.
    fn insert(&self, record: KeyRecord) -> impl Future<Output = Result<(), KeyStoreError>> + Send;
    /// Records newest first: `universe_id`'s, or all (operator keys included), the
    /// revoked ones only when asked.
    fn list(
        &self,
        universe_id: Option<&str>,
        include_revoked: bool,
    ) -> impl Future<Output = Result<Vec<KeyRecord>, KeyStoreError>> + Send;
    /// Marks key `key_id` revoked at `at_ms` (a revoked key keeps its first time);
    /// the record as it is now, `None` when no key has that id.
    fn revoke(
        &self,
        key_id: &str,
        at_ms: u64,
    ) -> impl Future<Output = Result<Option<KeyRecord>, KeyStoreError>> + Send;
    /// Appends to the operators' audit log; the entry's sequence number.
    fn append_audit(
        &self,
        entry: AuditEntry,
    ) -> impl Future<Output = Result<u64, KeyStoreError>> + Send;
    /// Audit entries older than `before` (all when `None`), newest first, at most
    /// `limit`.
    fn list_audit(
        &self,
        before: Option<u64>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<AuditEntry>, KeyStoreError>> + Send;
    /// Creates a universe (again, when it was deleted); `Duplicate` when it exists.
    fn create_universe(
        &self,
        record: UniverseRecord,
    ) -> impl Future<Output = Result<(), KeyStoreError>> + Send;
    /// The universes created or deleted, in id order.
    fn list_universes(
        &self,
    ) -> impl Future<Output = Result<Vec<UniverseRecord>, KeyStoreError>> + Send;
    /// Marks a universe deleted at `at_ms` (the first time stays).
    fn delete_universe(
        &self,
        universe_id: &str,
        at_ms: u64,
    ) -> impl Future<Output = Result<(), KeyStoreError>> + Send;
}

/// [`KeyStore::create_universe`] over records in memory.
fn created(
    universes: &mut Vec<UniverseRecord>,
    record: UniverseRecord,
) -> Result<(), KeyStoreError> {
    match universes
        .iter_mut()
        .find(|held| held.universe_id == record.universe_id)
    {
        Some(held) if held.created_at_ms.is_some() && held.deleted_at_ms.is_none() => {
            Err(KeyStoreError::Duplicate)
        }
        Some(held) => {
            *held = record;
            Ok(())
        }
        None => {
            universes.push(record);
            universes.sort_by(|a, b| a.universe_id.cmp(&b.universe_id));
            Ok(())
        }
    }
}

/// [`KeyStore::delete_universe`] over records in memory.
fn deleted(universes: &mut Vec<UniverseRecord>, universe_id: &str, at_ms: u64) {
    match universes
        .iter_mut()
        .find(|held| held.universe_id == universe_id)
    {
        Some(held) => {
            held.deleted_at_ms.get_or_insert(at_ms);
        }
        None => {
            universes.push(UniverseRecord {
                universe_id: universe_id.to_owned(),
                name: String::new(),
                created_at_ms: None,
                deleted_at_ms: Some(at_ms),
            });
            universes.sort_by(|a, b| a.universe_id.cmp(&b.universe_id));
        }
    }
}

/// [`KeyStore::list`]'s filter and order over records in memory.
fn listed(
    records: &[KeyRecord],
    universe_id: Option<&str>,
    include_revoked: bool,
) -> Vec<KeyRecord> {
    let mut listed: Vec<KeyRecord> = records
        .iter()
        .filter(|record| universe_id.is_none_or(|universe| record.universe_id == universe))
        .filter(|record| include_revoked || record.revoked_at_ms.is_none())
        .cloned()
        .collect();
    listed.sort_by(|a, b| {
        b.created_at_ms
            .cmp(&a.created_at_ms)
            .then_with(|| a.key_id.cmp(&b.key_id))
    });
    listed
}

/// [`KeyStore::revoke`] over records in memory; whether a record changed.
fn revoked(records: &mut [KeyRecord], key_id: &str, at_ms: u64) -> (Option<KeyRecord>, bool) {
    let Some(record) = records.iter_mut().find(|record| record.key_id == key_id) else {
        return (None, false);
    };
    let changed = record.revoked_at_ms.is_none();
    record.revoked_at_ms.get_or_insert(at_ms);
    (Some(record.clone()), changed)
}

/// [`KeyStore::list_audit`] over entries in memory (oldest first).
fn audit_page(entries: &[AuditEntry], before: Option<u64>, limit: u32) -> Vec<AuditEntry> {
    entries
        .iter()
        .rev()
        .filter(|entry| before.is_none_or(|before| entry.seq < before))
        .take(limit as usize)
        .cloned()
        .collect()
}

/// Lowercase hex SHA-256 of a plaintext key: what stores hold and look up.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Mints a key for `universe_id`: the plaintext (`lsk_` + 43 URL-safe base64 chars of
/// 32 random bytes), to show once, and the record to store.
pub fn mint_key(universe_id: &str, now_ms: u64) -> (String, KeyRecord) {
    let mut secret = [0u8; KEY_RANDOM_BYTES];
    rand::fill(&mut secret);
    let key = format!(
        "{KEY_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
    );
    let record = KeyRecord {
        key_id: format!("key_{}", uuid::Uuid::new_v4().simple()),
        universe_id: universe_id.to_owned(),
        key_hash: hash_key(&key),
        created_at_ms: now_ms,
        name: String::new(),
        operator: false,
        revoked_at_ms: None,
    };
    (key, record)
}

/// Mints an operator key (no universe; `operator/` methods only).
pub fn mint_operator_key(now_ms: u64) -> (String, KeyRecord) {
    let (key, mut record) = mint_key("", now_ms);
    record.operator = true;
    (key, record)
}

fn check_unique(records: &[KeyRecord], record: &KeyRecord) -> Result<(), KeyStoreError> {
    let clash = records
        .iter()
        .any(|held| held.key_hash == record.key_hash || held.key_id == record.key_id);
    if clash {
        Err(KeyStoreError::Duplicate)
    } else {
        Ok(())
    }
}

/// Keys in memory: tests and embedded setups.
#[derive(Debug, Default)]
pub struct MemoryKeyStore {
    records: StdMutex<Vec<KeyRecord>>,
    audit: StdMutex<Vec<AuditEntry>>,
    universes: StdMutex<Vec<UniverseRecord>>,
}

impl MemoryKeyStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn records(&self) -> std::sync::MutexGuard<'_, Vec<KeyRecord>> {
        // A panic while holding this lock cannot leave a half-written Vec behind.
        self.records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl KeyStore for MemoryKeyStore {
    async fn find(&self, key_hash: &str) -> Result<Option<KeyRecord>, KeyStoreError> {
        Ok(self
            .records()
            .iter()
            .find(|record| record.key_hash == key_hash)
            .cloned())
    }

    async fn insert(&self, record: KeyRecord) -> Result<(), KeyStoreError> {
        let mut records = self.records();
        check_unique(&records, &record)?;
        records.push(record);
        Ok(())
    }

    async fn list(
        &self,
        universe_id: Option<&str>,
        include_revoked: bool,
    ) -> Result<Vec<KeyRecord>, KeyStoreError> {
        Ok(listed(&self.records(), universe_id, include_revoked))
    }

    async fn revoke(&self, key_id: &str, at_ms: u64) -> Result<Option<KeyRecord>, KeyStoreError> {
        Ok(revoked(&mut self.records(), key_id, at_ms).0)
    }

    async fn append_audit(&self, mut entry: AuditEntry) -> Result<u64, KeyStoreError> {
        let mut audit = self
            .audit
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        entry.seq = audit.last().map_or(1, |last| last.seq + 1);
        let seq = entry.seq;
        audit.push(entry);
        Ok(seq)
    }

    async fn list_audit(
        &self,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, KeyStoreError> {
        let audit = self
            .audit
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(audit_page(&audit, before, limit))
    }

    async fn create_universe(&self, record: UniverseRecord) -> Result<(), KeyStoreError> {
        created(&mut self.universes(), record)
    }

    async fn list_universes(&self) -> Result<Vec<UniverseRecord>, KeyStoreError> {
        Ok(self.universes().clone())
    }

    async fn delete_universe(&self, universe_id: &str, at_ms: u64) -> Result<(), KeyStoreError> {
        deleted(&mut self.universes(), universe_id, at_ms);
        Ok(())
    }
}

impl MemoryKeyStore {
    fn universes(&self) -> std::sync::MutexGuard<'_, Vec<UniverseRecord>> {
        self.universes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct KeyFile {
    version: u32,
    keys: Vec<KeyRecord>,
    /// Universes created or deleted (absent from files written before them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    universes: Vec<UniverseRecord>,
}

/// Keys in a JSON file (`{"version":1,"keys":[...]}`), for `server dev` and small
/// deployments. Lookups read the file each time, so keys added by
/// `server api-keys create` work without a restart. Writes go to a temp file that is
/// renamed over the old one, so readers never see half a file; a mutex orders the
/// inserts of this process (separate processes inserting at once can lose one).
#[derive(Debug)]
pub struct FileKeyStore {
    path: PathBuf,
    write_lock: tokio::sync::Mutex<()>,
}

impl FileKeyStore {
    /// A store over `path`; the file (and its directory) is created on first insert.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            write_lock: tokio::sync::Mutex::new(()),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The audit log beside the key file: `{file}.audit.jsonl`, one entry a line.
    fn audit_path(&self) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(".audit.jsonl");
        PathBuf::from(name)
    }

    async fn read_audit(&self) -> Result<Vec<AuditEntry>, KeyStoreError> {
        let path = self.audit_path();
        let bytes = match tokio::fs::read(&path).await {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(KeyStoreError::Io { path, source }),
        };
        bytes
            .split(|byte| *byte == b'\n')
            .filter(|line| !line.is_empty())
            .map(|line| {
                serde_json::from_slice(line).map_err(|source| KeyStoreError::Corrupt {
                    path: path.clone(),
                    source,
                })
            })
            .collect()
    }

    fn io_error(&self, source: io::Error) -> KeyStoreError {
        KeyStoreError::Io {
            path: self.path.clone(),
            source,
        }
    }

    async fn read(&self) -> Result<Vec<KeyRecord>, KeyStoreError> {
        Ok(self.read_file().await?.keys)
    }

    async fn read_file(&self) -> Result<KeyFile, KeyStoreError> {
        let bytes = match tokio::fs::read(&self.path).await {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                return Ok(KeyFile {
                    version: KEY_FILE_VERSION,
                    keys: Vec::new(),
                    universes: Vec::new(),
                });
            }
            Err(err) => return Err(self.io_error(err)),
        };
        let file: KeyFile =
            serde_json::from_slice(&bytes).map_err(|source| KeyStoreError::Corrupt {
                path: self.path.clone(),
                source,
            })?;
        Ok(file)
    }

    /// Replaces the keys, keeping the universes.
    async fn write(&self, keys: Vec<KeyRecord>) -> Result<(), KeyStoreError> {
        let mut file = self.read_file().await?;
        file.keys = keys;
        self.write_file(file).await
    }

    async fn write_file(&self, file: KeyFile) -> Result<(), KeyStoreError> {
        let mut bytes =
            serde_json::to_vec_pretty(&file).map_err(|source| KeyStoreError::Corrupt {
                path: self.path.clone(),
                source,
            })?;
        bytes.push(b'\n');
        let dir = match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|err| self.io_error(err))?;
        let file_name = self
            .path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_else(|| "api-keys.json".to_owned());
        let temp = dir.join(format!(
            ".{file_name}.{}.tmp",
            uuid::Uuid::new_v4().simple()
        ));
        let written = write_synced(&temp, bytes).await;
        let renamed = match written {
            Ok(()) => tokio::fs::rename(&temp, &self.path).await,
            Err(err) => Err(err),
        };
        if let Err(err) = renamed {
            // Best effort: the temp file holds only hashes, but should not linger.
            let _ = tokio::fs::remove_file(&temp).await;
            return Err(self.io_error(err));
        }
        Ok(())
    }
}

/// Writes `bytes` to a new file readable only by its owner and syncs it to disk.
async fn write_synced(path: &Path, bytes: Vec<u8>) -> io::Result<()> {
    use tokio::io::AsyncWriteExt as _;
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(path).await?;
    file.write_all(&bytes).await?;
    file.sync_all().await
}

impl KeyStore for FileKeyStore {
    async fn find(&self, key_hash: &str) -> Result<Option<KeyRecord>, KeyStoreError> {
        Ok(self
            .read()
            .await?
            .into_iter()
            .find(|record| record.key_hash == key_hash))
    }

    async fn insert(&self, record: KeyRecord) -> Result<(), KeyStoreError> {
        let _guard = self.write_lock.lock().await;
        let mut records = self.read().await?;
        check_unique(&records, &record)?;
        records.push(record);
        self.write(records).await
    }

    async fn list(
        &self,
        universe_id: Option<&str>,
        include_revoked: bool,
    ) -> Result<Vec<KeyRecord>, KeyStoreError> {
        Ok(listed(&self.read().await?, universe_id, include_revoked))
    }

    async fn revoke(&self, key_id: &str, at_ms: u64) -> Result<Option<KeyRecord>, KeyStoreError> {
        let _guard = self.write_lock.lock().await;
        let mut records = self.read().await?;
        let (record, changed) = revoked(&mut records, key_id, at_ms);
        if changed {
            self.write(records).await?;
        }
        Ok(record)
    }

    async fn append_audit(&self, mut entry: AuditEntry) -> Result<u64, KeyStoreError> {
        let _guard = self.write_lock.lock().await;
        let path = self.audit_path();
        let existing = self.read_audit().await?;
        entry.seq = existing.last().map_or(1, |last| last.seq + 1);
        let mut line = serde_json::to_vec(&entry).map_err(|source| KeyStoreError::Corrupt {
            path: path.clone(),
            source,
        })?;
        line.push(b'\n');
        append_synced(&path, &line)
            .await
            .map_err(|source| KeyStoreError::Io { path, source })?;
        Ok(entry.seq)
    }

    async fn list_audit(
        &self,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, KeyStoreError> {
        Ok(audit_page(&self.read_audit().await?, before, limit))
    }

    async fn create_universe(&self, record: UniverseRecord) -> Result<(), KeyStoreError> {
        let _guard = self.write_lock.lock().await;
        let mut file = self.read_file().await?;
        created(&mut file.universes, record)?;
        self.write_file(file).await
    }

    async fn list_universes(&self) -> Result<Vec<UniverseRecord>, KeyStoreError> {
        Ok(self.read_file().await?.universes)
    }

    async fn delete_universe(&self, universe_id: &str, at_ms: u64) -> Result<(), KeyStoreError> {
        let _guard = self.write_lock.lock().await;
        let mut file = self.read_file().await?;
        deleted(&mut file.universes, universe_id, at_ms);
        self.write_file(file).await
    }
}

/// Appends `bytes` to `path` (created readable only by its owner) and syncs it.
async fn append_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use tokio::io::AsyncWriteExt as _;
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(dir).await?;
    }
    let mut options = tokio::fs::OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(path).await?;
    file.write_all(bytes).await?;
    file.sync_all().await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn minted_keys_have_the_documented_shape_and_hash() {
        let (key, record) = mint_key("u1", 7);
        assert!(key.starts_with(KEY_PREFIX));
        assert_eq!(key.len(), KEY_PREFIX.len() + 43);
        assert_eq!(record.key_hash, hash_key(&key));
        assert_eq!(record.key_hash.len(), 64);
        assert_eq!(record.universe_id, "u1");
        assert_eq!(record.created_at_ms, 7);
        let (other, _) = mint_key("u1", 7);
        assert_ne!(key, other);
    }
}
