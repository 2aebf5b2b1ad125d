//! [`CountingStores`]: a store provider that counts every call its stores serve, to
//! measure what a code path costs the store (each call is at least one query or
//! file operation). Commit signals are the wrapped provider's own and cost nothing
//! here: what is measured is the store work readers do, not how commits reach them.

use schedule_registry::{
    Claim, FiringOutcome, Schedule, ScheduleCatalog, ScheduleError, ScheduleId, SchedulePatch,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use auth_registry::records::{Flow, FlowId, Grant, GrantId, SecretMeta, SecretName, StoredSecret};
use auth_registry::{AuthCatalog, CatalogError};
use engine::log::{LogEntry, Seq};
use engine::store::{
    AppendOutcome, BlobStore, Checkpoint, CheckpointStore, SessionLog, StoreError,
};
use engine::{BlobRef, SessionId};
use env_registry::{
    Attachment, EnvCatalog, EnvCatalogError, EnvJob, Environment, EnvironmentName, JobSubmit,
    MountName, Presence,
};
use mcp_registry::{
    McpCatalog, McpCatalogError, McpServer, McpServerSpec, PutCondition, ServerName, SessionLink,
};
use memory_registry::{
    ArchivalQuery, Block, BlockDelete, BlockLabel, BlockPatch, MemoryCatalog, MemoryError,
    NewPassage, Passage,
};
use session_stores::{
    DispatchCatalog, PriorDelivery, Removed, Retention, SessionActivity, SessionIndex,
    StoreProvider, StoredBlob, UniverseUsage,
};
use tokio::sync::watch;
use vfs::{Mount, SessionPath, VfsCatalog, VfsError, Workspace, WorkspaceId};

/// `P` with every call of its stores counted (all universes together).
pub struct CountingStores<P> {
    inner: P,
    calls: Arc<AtomicU64>,
}

impl<P> CountingStores<P> {
    pub fn new(inner: P) -> Self {
        Self {
            inner,
            calls: Arc::default(),
        }
    }

    /// Store calls since this provider was made.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    pub fn inner(&self) -> &P {
        &self.inner
    }
}

impl<P: StoreProvider> StoreProvider for CountingStores<P> {
    type Store = CountingStore<P::Store>;

    async fn store(&self, universe_id: &str) -> Result<Arc<Self::Store>, StoreError> {
        Ok(Arc::new(CountingStore {
            inner: self.inner.store(universe_id).await?,
            calls: self.calls.clone(),
        }))
    }

    fn commits(&self, universe_id: &str, session: &SessionId) -> watch::Receiver<Seq> {
        self.inner.commits(universe_id, session)
    }

    async fn universe_ids(&self) -> Result<Vec<String>, StoreError> {
        self.inner.universe_ids().await
    }
}

/// One universe's store of a [`CountingStores`].
pub struct CountingStore<S> {
    inner: Arc<S>,
    calls: Arc<AtomicU64>,
}

impl<S> CountingStore<S> {
    fn count(&self) -> &S {
        self.calls.fetch_add(1, Ordering::SeqCst);
        &self.inner
    }
}

impl<S: SessionLog> SessionLog for CountingStore<S> {
    async fn append(
        &self,
        session: &SessionId,
        expected_head: Seq,
        entries: &[LogEntry],
    ) -> Result<AppendOutcome, StoreError> {
        self.count().append(session, expected_head, entries).await
    }

    async fn read(
        &self,
        session: &SessionId,
        from_seq: Seq,
        limit_entries: usize,
    ) -> Result<Vec<LogEntry>, StoreError> {
        self.count().read(session, from_seq, limit_entries).await
    }

    async fn head(&self, session: &SessionId) -> Result<Seq, StoreError> {
        self.count().head(session).await
    }
}

impl<S: BlobStore> BlobStore for CountingStore<S> {
    async fn put(&self, bytes: Vec<u8>) -> Result<BlobRef, StoreError> {
        self.count().put(bytes).await
    }

    async fn get(&self, blob: &BlobRef) -> Result<Vec<u8>, StoreError> {
        self.count().get(blob).await
    }

    async fn has(&self, blob: &BlobRef) -> Result<bool, StoreError> {
        self.count().has(blob).await
    }

    async fn blob_len(&self, blob: &BlobRef) -> Result<Option<u64>, StoreError> {
        self.count().blob_len(blob).await
    }

    async fn has_many(&self, blobs: &[BlobRef]) -> Result<Vec<bool>, StoreError> {
        self.count().has_many(blobs).await
    }
}

impl<S: CheckpointStore> CheckpointStore for CountingStore<S> {
    async fn put_checkpoint(
        &self,
        session: &SessionId,
        checkpoint: &Checkpoint,
    ) -> Result<(), StoreError> {
        self.count().put_checkpoint(session, checkpoint).await
    }

    async fn checkpoint_at_or_before(
        &self,
        session: &SessionId,
        through: Seq,
    ) -> Result<Option<Checkpoint>, StoreError> {
        self.count().checkpoint_at_or_before(session, through).await
    }
}

impl<S: VfsCatalog> VfsCatalog for CountingStore<S> {
    async fn workspace_create(
        &self,
        id: &WorkspaceId,
        snapshot: &BlobRef,
    ) -> Result<Workspace, VfsError> {
        self.count().workspace_create(id, snapshot).await
    }

    async fn workspace_read(&self, id: &WorkspaceId) -> Result<Option<Workspace>, VfsError> {
        self.count().workspace_read(id).await
    }

    async fn workspace_set_head(
        &self,
        id: &WorkspaceId,
        expected_revision: u64,
        snapshot: &BlobRef,
    ) -> Result<Workspace, VfsError> {
        self.count()
            .workspace_set_head(id, expected_revision, snapshot)
            .await
    }

    async fn workspace_delete(
        &self,
        id: &WorkspaceId,
        expected_revision: Option<u64>,
    ) -> Result<(), VfsError> {
        self.count().workspace_delete(id, expected_revision).await
    }

    async fn mount_put(
        &self,
        session: &SessionId,
        mount: &Mount,
        mounts_max: usize,
    ) -> Result<(), VfsError> {
        self.count().mount_put(session, mount, mounts_max).await
    }

    async fn mount_delete(
        &self,
        session: &SessionId,
        path: &SessionPath,
    ) -> Result<bool, VfsError> {
        self.count().mount_delete(session, path).await
    }

    async fn mount_list(&self, session: &SessionId) -> Result<Vec<Mount>, VfsError> {
        self.count().mount_list(session).await
    }
}

impl<S: McpCatalog> McpCatalog for CountingStore<S> {
    async fn mcp_server_put(
        &self,
        name: &ServerName,
        spec: &McpServerSpec,
        condition: PutCondition,
        now_ms: u64,
        servers_max: usize,
    ) -> Result<McpServer, McpCatalogError> {
        self.count()
            .mcp_server_put(name, spec, condition, now_ms, servers_max)
            .await
    }

    async fn mcp_server_read(
        &self,
        name: &ServerName,
    ) -> Result<Option<McpServer>, McpCatalogError> {
        self.count().mcp_server_read(name).await
    }

    async fn mcp_server_list(&self) -> Result<Vec<McpServer>, McpCatalogError> {
        self.count().mcp_server_list().await
    }

    async fn mcp_server_delete(&self, name: &ServerName) -> Result<bool, McpCatalogError> {
        self.count().mcp_server_delete(name).await
    }

    async fn mcp_link_put(
        &self,
        session: &SessionId,
        link: &SessionLink,
        links_max: usize,
    ) -> Result<(), McpCatalogError> {
        self.count().mcp_link_put(session, link, links_max).await
    }

    async fn mcp_link_list(
        &self,
        session: &SessionId,
    ) -> Result<Vec<SessionLink>, McpCatalogError> {
        self.count().mcp_link_list(session).await
    }

    async fn mcp_link_delete(
        &self,
        session: &SessionId,
        server: &ServerName,
    ) -> Result<bool, McpCatalogError> {
        self.count().mcp_link_delete(session, server).await
    }
}

impl<S: MemoryCatalog> MemoryCatalog for CountingStore<S> {
    async fn memory_block_create(
        &self,
        block: &Block,
        blocks_max: usize,
    ) -> Result<(), MemoryError> {
        self.count().memory_block_create(block, blocks_max).await
    }

    async fn memory_block_read(&self, label: &BlockLabel) -> Result<Option<Block>, MemoryError> {
        self.count().memory_block_read(label).await
    }

    async fn memory_block_list(&self) -> Result<Vec<Block>, MemoryError> {
        self.count().memory_block_list().await
    }

    async fn memory_block_update(
        &self,
        label: &BlockLabel,
        expected_revision: Option<u64>,
        patch: &BlockPatch,
        now_ms: u64,
    ) -> Result<Block, MemoryError> {
        self.count()
            .memory_block_update(label, expected_revision, patch, now_ms)
            .await
    }

    async fn memory_block_delete(
        &self,
        label: &BlockLabel,
        force: bool,
    ) -> Result<BlockDelete, MemoryError> {
        self.count().memory_block_delete(label, force).await
    }

    async fn memory_link_put(
        &self,
        session: &SessionId,
        label: &BlockLabel,
        links_max: usize,
    ) -> Result<bool, MemoryError> {
        self.count()
            .memory_link_put(session, label, links_max)
            .await
    }

    async fn memory_link_delete(
        &self,
        session: &SessionId,
        label: &BlockLabel,
    ) -> Result<bool, MemoryError> {
        self.count().memory_link_delete(session, label).await
    }

    async fn memory_link_list(&self, session: &SessionId) -> Result<Vec<BlockLabel>, MemoryError> {
        self.count().memory_link_list(session).await
    }

    async fn memory_passage_insert(
        &self,
        passage: &NewPassage,
        passages_max: usize,
    ) -> Result<Passage, MemoryError> {
        self.count()
            .memory_passage_insert(passage, passages_max)
            .await
    }

    async fn memory_passage_search(
        &self,
        query: &ArchivalQuery,
    ) -> Result<Vec<Passage>, MemoryError> {
        self.count().memory_passage_search(query).await
    }

    async fn memory_passage_delete(&self, id: &str) -> Result<bool, MemoryError> {
        self.count().memory_passage_delete(id).await
    }
}

impl<S: EnvCatalog> EnvCatalog for CountingStore<S> {
    async fn env_create(
        &self,
        environment: &Environment,
        environments_max: usize,
    ) -> Result<(), EnvCatalogError> {
        self.count().env_create(environment, environments_max).await
    }

    async fn env_read(
        &self,
        name: &EnvironmentName,
    ) -> Result<Option<Environment>, EnvCatalogError> {
        self.count().env_read(name).await
    }

    async fn env_read_id(&self, id: &str) -> Result<Option<Environment>, EnvCatalogError> {
        self.count().env_read_id(id).await
    }

    async fn env_list(&self) -> Result<Vec<Environment>, EnvCatalogError> {
        self.count().env_list().await
    }

    async fn env_delete(
        &self,
        name: &EnvironmentName,
    ) -> Result<Option<Environment>, EnvCatalogError> {
        self.count().env_delete(name).await
    }

    async fn env_presence(&self, id: &str, presence: &Presence) -> Result<bool, EnvCatalogError> {
        self.count().env_presence(id, presence).await
    }

    async fn env_disconnected(
        &self,
        id: &str,
        connection: &str,
        now_ms: u64,
    ) -> Result<(), EnvCatalogError> {
        self.count().env_disconnected(id, connection, now_ms).await
    }

    async fn attachment_put(
        &self,
        session: &SessionId,
        attachment: &Attachment,
        attachments_max: usize,
    ) -> Result<(), EnvCatalogError> {
        self.count()
            .attachment_put(session, attachment, attachments_max)
            .await
    }

    async fn attachment_list(
        &self,
        session: &SessionId,
    ) -> Result<Vec<Attachment>, EnvCatalogError> {
        self.count().attachment_list(session).await
    }

    async fn attachment_delete(
        &self,
        session: &SessionId,
        name: &MountName,
    ) -> Result<bool, EnvCatalogError> {
        self.count().attachment_delete(session, name).await
    }

    async fn job_submit(
        &self,
        job: &EnvJob,
        jobs_max: usize,
    ) -> Result<JobSubmit, EnvCatalogError> {
        self.count().job_submit(job, jobs_max).await
    }

    async fn job_read(&self, id: &str) -> Result<Option<EnvJob>, EnvCatalogError> {
        self.count().job_read(id).await
    }

    async fn job_claim(
        &self,
        environment_id: &str,
        connection: &str,
        now_ms: u64,
        limit: usize,
    ) -> Result<Vec<EnvJob>, EnvCatalogError> {
        self.count()
            .job_claim(environment_id, connection, now_ms, limit)
            .await
    }

    async fn job_delivered(&self, environment_id: &str) -> Result<Vec<EnvJob>, EnvCatalogError> {
        self.count().job_delivered(environment_id).await
    }

    async fn job_redeliver(
        &self,
        id: &str,
        connection: &str,
        now_ms: u64,
    ) -> Result<Option<EnvJob>, EnvCatalogError> {
        self.count().job_redeliver(id, connection, now_ms).await
    }

    async fn job_finish(
        &self,
        id: &str,
        result: &serde_json::Value,
        now_ms: u64,
    ) -> Result<Option<EnvJob>, EnvCatalogError> {
        self.count().job_finish(id, result, now_ms).await
    }

    async fn job_prune(&self, before_ms: u64) -> Result<usize, EnvCatalogError> {
        self.count().job_prune(before_ms).await
    }
}

impl<S: AuthCatalog> AuthCatalog for CountingStore<S> {
    async fn secret_put(
        &self,
        secret: &StoredSecret,
        secrets_max: usize,
    ) -> Result<StoredSecret, CatalogError> {
        self.count().secret_put(secret, secrets_max).await
    }

    async fn secret_get(&self, name: &SecretName) -> Result<Option<StoredSecret>, CatalogError> {
        self.count().secret_get(name).await
    }

    async fn secret_list(&self) -> Result<Vec<SecretMeta>, CatalogError> {
        self.count().secret_list().await
    }

    async fn secret_delete(&self, name: &SecretName) -> Result<bool, CatalogError> {
        self.count().secret_delete(name).await
    }

    async fn grant_create(&self, grant: &Grant, grants_max: usize) -> Result<(), CatalogError> {
        self.count().grant_create(grant, grants_max).await
    }

    async fn grant_get(&self, id: &GrantId) -> Result<Option<Grant>, CatalogError> {
        self.count().grant_get(id).await
    }

    async fn grant_list(&self) -> Result<Vec<Grant>, CatalogError> {
        self.count().grant_list().await
    }

    async fn grant_update(
        &self,
        grant: &Grant,
        expected_revision: u64,
    ) -> Result<Grant, CatalogError> {
        self.count().grant_update(grant, expected_revision).await
    }

    async fn grant_delete(&self, id: &GrantId) -> Result<bool, CatalogError> {
        self.count().grant_delete(id).await
    }

    async fn flow_create(&self, flow: &Flow, flows_max: usize) -> Result<(), CatalogError> {
        self.count().flow_create(flow, flows_max).await
    }

    async fn flow_get(&self, id: &FlowId) -> Result<Option<Flow>, CatalogError> {
        self.count().flow_get(id).await
    }

    async fn flow_update(&self, flow: &Flow, expected_revision: u64) -> Result<Flow, CatalogError> {
        self.count().flow_update(flow, expected_revision).await
    }

    async fn flow_prune(&self, expired_before_ms: u64) -> Result<usize, CatalogError> {
        self.count().flow_prune(expired_before_ms).await
    }
}

impl<S: SessionIndex + Send> SessionIndex for CountingStore<S> {
    async fn session_ids(&self) -> Result<Vec<SessionId>, StoreError> {
        self.count().session_ids().await
    }

    async fn session_count(&self) -> Result<u64, StoreError> {
        self.count().session_count().await
    }

    async fn sessions_by_activity(
        &self,
        after: Option<&SessionActivity>,
        limit: usize,
    ) -> Result<Vec<SessionActivity>, StoreError> {
        self.count().sessions_by_activity(after, limit).await
    }
}

impl<S: UniverseUsage + Send> UniverseUsage for CountingStore<S> {
    async fn runs_in_flight(&self) -> Result<u64, StoreError> {
        self.count().runs_in_flight().await
    }

    async fn stored_bytes(&self) -> Result<u64, StoreError> {
        self.count().stored_bytes().await
    }

    async fn mark_child(&self, session: &SessionId, parent: &SessionId) -> Result<(), StoreError> {
        self.count().mark_child(session, parent).await
    }

    async fn children_in_flight(&self) -> Result<u64, StoreError> {
        self.count().children_in_flight().await
    }

    async fn cost_nanos(&self) -> Result<u64, StoreError> {
        self.count().cost_nanos().await
    }
}

impl<S: DispatchCatalog + Send> DispatchCatalog for CountingStore<S> {
    async fn sessions_in_flight(&self, limit: usize) -> Result<Vec<SessionId>, StoreError> {
        self.count().sessions_in_flight(limit).await
    }

    async fn sessions_to_hold(&self, limit: usize) -> Result<Vec<SessionId>, StoreError> {
        self.count().sessions_to_hold(limit).await
    }

    async fn dispatch_paused_since(&self) -> Result<Option<u64>, StoreError> {
        self.count().dispatch_paused_since().await
    }

    async fn set_dispatch_paused(&self, paused_at_ms: Option<u64>) -> Result<(), StoreError> {
        self.count().set_dispatch_paused(paused_at_ms).await
    }

    async fn claim_delivery(
        &self,
        source: &str,
        dedupe_key: &str,
        at_ms: u64,
        window_ms: u64,
    ) -> Result<Option<PriorDelivery>, StoreError> {
        self.count()
            .claim_delivery(source, dedupe_key, at_ms, window_ms)
            .await
    }

    async fn settle_delivery(
        &self,
        source: &str,
        dedupe_key: &str,
        session_id: &str,
        run_id: Option<&str>,
    ) -> Result<(), StoreError> {
        self.count()
            .settle_delivery(source, dedupe_key, session_id, run_id)
            .await
    }

    async fn release_delivery(&self, source: &str, dedupe_key: &str) -> Result<(), StoreError> {
        self.count().release_delivery(source, dedupe_key).await
    }

    async fn prune_deliveries(&self, before_ms: u64) -> Result<u64, StoreError> {
        self.count().prune_deliveries(before_ms).await
    }
}

impl<S: Retention + Send> Retention for CountingStore<S> {
    async fn delete_session(&self, session: &SessionId) -> Result<u64, StoreError> {
        self.count().delete_session(session).await
    }

    async fn blob_roots(&self) -> Result<std::collections::HashSet<BlobRef>, StoreError> {
        self.count().blob_roots().await
    }

    async fn blob_page(
        &self,
        after: Option<&BlobRef>,
        limit: usize,
    ) -> Result<Vec<StoredBlob>, StoreError> {
        self.count().blob_page(after, limit).await
    }

    async fn delete_blobs(
        &self,
        blobs: &[BlobRef],
        touched_before_ms: u64,
    ) -> Result<Removed, StoreError> {
        self.count().delete_blobs(blobs, touched_before_ms).await
    }

    async fn pin_blob(
        &self,
        blob: &BlobRef,
        at_ms: u64,
        pins_max: u64,
    ) -> Result<Option<bool>, StoreError> {
        self.count().pin_blob(blob, at_ms, pins_max).await
    }

    async fn unpin_blob(&self, blob: &BlobRef) -> Result<bool, StoreError> {
        self.count().unpin_blob(blob).await
    }

    async fn pinned_blobs(&self) -> Result<Vec<(BlobRef, u64)>, StoreError> {
        self.count().pinned_blobs().await
    }
}

impl<S: ScheduleCatalog> ScheduleCatalog for CountingStore<S> {
    async fn schedule_create(
        &self,
        schedule: &Schedule,
        schedules_max: usize,
    ) -> Result<(), ScheduleError> {
        self.count().schedule_create(schedule, schedules_max).await
    }

    async fn schedule_read(&self, id: &ScheduleId) -> Result<Option<Schedule>, ScheduleError> {
        self.count().schedule_read(id).await
    }

    async fn schedule_list(&self) -> Result<Vec<Schedule>, ScheduleError> {
        self.count().schedule_list().await
    }

    async fn schedule_update(
        &self,
        id: &ScheduleId,
        expected_revision: Option<u64>,
        patch: &SchedulePatch,
        now_ms: u64,
        interval_seconds_min: u64,
    ) -> Result<Schedule, ScheduleError> {
        self.count()
            .schedule_update(id, expected_revision, patch, now_ms, interval_seconds_min)
            .await
    }

    async fn schedule_delete(&self, id: &ScheduleId) -> Result<bool, ScheduleError> {
        self.count().schedule_delete(id).await
    }

    async fn schedule_claim(
        &self,
        id: &ScheduleId,
        scheduled_at_ms: u64,
        now_ms: u64,
    ) -> Result<Claim, ScheduleError> {
        self.count()
            .schedule_claim(id, scheduled_at_ms, now_ms)
            .await
    }

    async fn schedule_record_outcome(
        &self,
        id: &ScheduleId,
        scheduled_at_ms: u64,
        outcome: &FiringOutcome,
    ) -> Result<(), ScheduleError> {
        self.count()
            .schedule_record_outcome(id, scheduled_at_ms, outcome)
            .await
    }
}
