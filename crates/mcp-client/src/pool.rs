//! Connections pooled per server key: reuse, credential changes, idle close, LRU
//! eviction, restart of dead stdio servers with backoff.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use lru::LruCache;
use serde_json::{Map, Value};
use tokio::task::JoinHandle;

use crate::call::{self, CallOptions, CallOutput};
use crate::connection::{self, ConnectSettings, Connection};
use crate::error::{ErrorKind, McpError};
use crate::tools::{self, ListLimits, ToolInfo};
use crate::transport::{Credential, Transport};

/// Longest server key, in bytes.
pub const SERVER_KEY_BYTES_MAX: usize = 512;

/// Pool knobs. Every field has a default (see [`PoolConfig::default`]).
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// A connection without calls for this long is closed (a stdio child is
    /// killed). Default 300,000 (5 minutes).
    pub idle_ms: u64,
    /// Connections held at most; the least recently used is closed to make room.
    /// Default 256.
    pub connections_max: usize,
    /// Spawn or HTTP connect plus the MCP `initialize` handshake. Default 30,000.
    pub connect_timeout_ms: u64,
    /// How often idle and dead connections are looked for. Default 5,000.
    pub reap_interval_ms: u64,
    /// Delay before restarting a stdio server that died again right after a
    /// restart (the first restart is immediate); doubles per consecutive failure.
    /// Default 500.
    pub restart_backoff_initial_ms: u64,
    /// Cap of that delay. Default 30,000.
    pub restart_backoff_max_ms: u64,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            idle_ms: 300_000,
            connections_max: 256,
            connect_timeout_ms: 30_000,
            reap_interval_ms: 5_000,
            restart_backoff_initial_ms: 500,
            restart_backoff_max_ms: 30_000,
        }
    }
}

/// What the pool holds, for tests, debugging and metrics.
#[derive(Debug, Clone, Default)]
pub struct PoolStats {
    /// Connections opened since the pool was made (first connects and reconnects).
    pub connects_total: u64,
    /// One per key, most recently used first.
    pub entries: Vec<EntryStats>,
}

/// One pooled server.
#[derive(Debug, Clone)]
pub struct EntryStats {
    pub key: String,
    /// The entry is busy connecting (its details are not shown).
    pub connecting: bool,
    /// `"stdio"` or `"streamable_http"`, when connected.
    pub transport: Option<&'static str>,
    /// The session is open (a dead child or closed HTTP session shows `false` until
    /// the next call reconnects).
    pub alive: bool,
    /// The stdio child's pid (also its process group id).
    pub pid: Option<u32>,
    /// Requests (calls and listings) on the current connection.
    pub calls: u64,
    pub in_flight: usize,
    pub idle_ms: u64,
    /// Age of the current connection.
    pub age_ms: u64,
    /// Connections this entry has opened.
    pub connects: u64,
    /// Consecutive deaths and failed connects; reset by a healthy reuse.
    pub failures: u32,
    /// Stderr lines the stdio child wrote.
    pub stderr_lines: u64,
}

/// MCP connections pooled per server key (e.g. `universe/server@revision`).
///
/// Cheap to clone (one shared pool). Dropping the last clone closes every
/// connection and kills every stdio child. Must be used inside a tokio runtime.
#[derive(Clone)]
pub struct McpPool {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for McpPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpPool")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

struct Inner {
    config: PoolConfig,
    settings: ConnectSettings,
    entries: Mutex<LruCache<String, Arc<tokio::sync::Mutex<Slot>>>>,
    connects_total: AtomicU64,
    reaper: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(reaper) = lock(&self.reaper).take() {
            reaper.abort();
        }
    }
}

#[derive(Default)]
struct Slot {
    connection: Option<Arc<Connection>>,
    failures: u32,
    retry_at: Option<Instant>,
    connects: u64,
    touched: Option<Instant>,
}

impl McpPool {
    /// Fails only if the HTTP client cannot be built (no TLS backend).
    pub fn new(config: PoolConfig) -> Result<Self, McpError> {
        let connect_timeout = Duration::from_millis(config.connect_timeout_ms);
        let http = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            // A redirect would carry a custom credential header to wherever the
            // server points; MCP endpoints have no reason to redirect.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|_| McpError::new(ErrorKind::Invalid, "building the HTTP client failed"))?;
        let capacity = NonZeroUsize::new(config.connections_max).unwrap_or(NonZeroUsize::MIN);
        Ok(Self {
            inner: Arc::new(Inner {
                settings: ConnectSettings {
                    connect_timeout,
                    http,
                },
                config,
                entries: Mutex::new(LruCache::new(capacity)),
                connects_total: AtomicU64::new(0),
                reaper: Mutex::new(None),
            }),
        })
    }

    /// Lists the server's tools, following pagination, within `limits`.
    ///
    /// `credential` applies to Streamable HTTP only; a stdio server gets its
    /// configuration through `env`.
    pub async fn list_tools(
        &self,
        key: &str,
        transport: &Transport,
        credential: Option<&Credential>,
        limits: &ListLimits,
    ) -> Result<Vec<ToolInfo>, McpError> {
        let result = async {
            let connection = self.acquire(key, transport, credential).await?;
            tools::list(&connection, limits).await
        }
        .await;
        redact(result, credential)
    }

    /// Calls one tool. A tool's own failure is `Ok` with `is_error: true`.
    pub async fn call_tool(
        &self,
        key: &str,
        transport: &Transport,
        credential: Option<&Credential>,
        name: &str,
        arguments: Map<String, Value>,
        options: CallOptions,
    ) -> Result<CallOutput, McpError> {
        let result = async {
            let connection = self.acquire(key, transport, credential).await?;
            call::call(&connection, name, arguments, options).await
        }
        .await;
        redact(result, credential)
    }

    /// Closes the entry of `key` (a revoked grant, a removed server); true if there
    /// was one. Calls in flight on it finish first.
    pub fn close(&self, key: &str) -> bool {
        let removed = lock(&self.inner.entries).pop(key);
        removed.is_some()
    }

    /// A snapshot of the pool; entries busy connecting are shown as such.
    pub fn stats(&self) -> PoolStats {
        let entries = lock(&self.inner.entries);
        let entries = entries
            .iter()
            .map(|(key, slot)| match slot.try_lock() {
                Ok(slot) => entry_stats(key, &slot),
                Err(_) => EntryStats {
                    key: key.clone(),
                    connecting: true,
                    transport: None,
                    alive: false,
                    pid: None,
                    calls: 0,
                    in_flight: 0,
                    idle_ms: 0,
                    age_ms: 0,
                    connects: 0,
                    failures: 0,
                    stderr_lines: 0,
                },
            })
            .collect();
        PoolStats {
            connects_total: self.inner.connects_total.load(Ordering::Relaxed),
            entries,
        }
    }

    /// The live connection for `key`, made or remade when there is none, it died,
    /// or the transport or credential changed.
    async fn acquire(
        &self,
        key: &str,
        transport: &Transport,
        credential: Option<&Credential>,
    ) -> Result<Arc<Connection>, McpError> {
        if key.is_empty() || key.len() > SERVER_KEY_BYTES_MAX {
            return Err(McpError::new(
                ErrorKind::Invalid,
                format!("server key must have 1 to {SERVER_KEY_BYTES_MAX} bytes"),
            ));
        }
        transport.validate()?;
        self.ensure_reaper();
        let credential = match transport {
            Transport::StreamableHttp { .. } => credential,
            Transport::Stdio { .. } => None,
        };
        let fingerprint = credential.map(Credential::fingerprint);
        let (slot, evicted) = {
            let mut entries = lock(&self.inner.entries);
            match entries.get(key) {
                Some(slot) => (Arc::clone(slot), None),
                None => {
                    let slot = Arc::new(tokio::sync::Mutex::new(Slot::default()));
                    let evicted = entries.push(key.to_owned(), Arc::clone(&slot));
                    (slot, evicted)
                }
            }
        };
        // Closed outside the pool lock: dropping a connection kills a child.
        drop(evicted);
        let mut slot = slot.lock().await;
        let now = Instant::now();
        slot.touched = Some(now);
        if let Some(connection) = slot.connection.take() {
            let alive = connection.is_alive();
            if alive && connection.transport == *transport && connection.fingerprint == fingerprint
            {
                slot.failures = 0;
                slot.retry_at = None;
                slot.connection = Some(Arc::clone(&connection));
                return Ok(connection);
            }
            if !alive && matches!(transport, Transport::Stdio { .. }) {
                slot.failures += 1;
                slot.retry_at = Some(now + self.backoff(slot.failures));
                tracing::info!(
                    key,
                    failures = slot.failures,
                    "mcp stdio server exited; restarting"
                );
            }
            // The replaced connection drops here (its child, if any, is killed).
        }
        if let Some(retry_at) = slot.retry_at
            && retry_at > now
        {
            return Err(McpError::new(
                ErrorKind::Transport,
                format!(
                    "the server failed {} times in a row; next restart in {} ms",
                    slot.failures,
                    (retry_at - now).as_millis()
                ),
            ));
        }
        slot.connects += 1;
        self.inner.connects_total.fetch_add(1, Ordering::Relaxed);
        match connection::connect(transport, credential, &self.inner.settings).await {
            Ok(connection) => {
                let connection = Arc::new(connection);
                slot.connection = Some(Arc::clone(&connection));
                Ok(connection)
            }
            Err(error) => {
                if matches!(transport, Transport::Stdio { .. }) {
                    slot.failures += 1;
                    slot.retry_at = Some(Instant::now() + self.backoff(slot.failures));
                }
                Err(error)
            }
        }
    }

    /// No delay for the first failure (a server that ran fine and then exited is
    /// restarted at once), then initial × 2^(n-2), capped.
    fn backoff(&self, failures: u32) -> Duration {
        if failures <= 1 {
            return Duration::ZERO;
        }
        let exponent = (failures - 2).min(20);
        let delay_ms = self
            .inner
            .config
            .restart_backoff_initial_ms
            .saturating_mul(1u64 << exponent)
            .min(self.inner.config.restart_backoff_max_ms);
        Duration::from_millis(delay_ms)
    }

    fn ensure_reaper(&self) {
        let mut reaper = lock(&self.inner.reaper);
        if reaper.is_some() {
            return;
        }
        let weak = Arc::downgrade(&self.inner);
        let interval = Duration::from_millis(self.inner.config.reap_interval_ms.max(10));
        *reaper = Some(tokio::spawn(reap(weak, interval)));
    }
}

/// Closes idle connections, drops dead ones and forgets entries unused for the
/// idle time; holds only a weak reference so the pool's drop ends it.
async fn reap(pool: Weak<Inner>, interval: Duration) {
    loop {
        tokio::time::sleep(interval).await;
        let Some(inner) = pool.upgrade() else {
            return;
        };
        let idle = Duration::from_millis(inner.config.idle_ms);
        let mut closed = Vec::new();
        {
            let mut entries = lock(&inner.entries);
            let mut forget = Vec::new();
            for (key, slot) in entries.iter() {
                // A slot busy connecting or being used is not idle.
                let Ok(mut slot) = slot.try_lock() else {
                    continue;
                };
                match &slot.connection {
                    Some(connection) if connection.in_flight() == 0 => {
                        if connection.idle_for() >= idle {
                            forget.push(key.clone());
                        } else if !connection.is_alive() {
                            // Keep the entry (and its failure count) for the restart
                            // backoff; the dead session itself can go.
                            closed.extend(slot.connection.take());
                        }
                    }
                    Some(_) => {}
                    None => {
                        if slot.touched.is_none_or(|touched| touched.elapsed() >= idle) {
                            forget.push(key.clone());
                        }
                    }
                }
            }
            for key in forget {
                if let Some(slot) = entries.pop(&key)
                    && let Ok(mut slot) = slot.try_lock()
                {
                    tracing::debug!(key, "closing idle mcp connection");
                    closed.extend(slot.connection.take());
                }
            }
        }
        drop(closed);
        drop(inner);
    }
}

fn entry_stats(key: &str, slot: &Slot) -> EntryStats {
    let connection = slot.connection.as_ref();
    EntryStats {
        key: key.to_owned(),
        connecting: false,
        transport: connection.map(|connection| match connection.transport {
            Transport::Stdio { .. } => "stdio",
            Transport::StreamableHttp { .. } => "streamable_http",
        }),
        alive: connection.is_some_and(|connection| connection.is_alive()),
        pid: connection.and_then(|connection| connection.pid),
        calls: connection.map_or(0, |connection| connection.calls.load(Ordering::Relaxed)),
        in_flight: connection.map_or(0, |connection| connection.in_flight()),
        idle_ms: connection.map_or(0, |connection| {
            u64::try_from(connection.idle_for().as_millis()).unwrap_or(u64::MAX)
        }),
        age_ms: connection.map_or(0, |connection| {
            u64::try_from(connection.created_at.elapsed().as_millis()).unwrap_or(u64::MAX)
        }),
        connects: slot.connects,
        failures: slot.failures,
        stderr_lines: connection
            .and_then(|connection| connection.stderr_lines.as_ref())
            .map_or(0, |lines| lines.load(Ordering::Relaxed)),
    }
}

fn redact<T>(result: Result<T, McpError>, credential: Option<&Credential>) -> Result<T, McpError> {
    match (result, credential) {
        (Err(error), Some(credential)) => Err(error.redact(&credential.redaction_needles())),
        (result, _) => result,
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The guarded data stays consistent across a panic (single assignments), so a
    // poisoned lock is used as is rather than failing every later call.
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}
