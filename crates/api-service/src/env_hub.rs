//! Serving an environment daemon's socket: the gateway side of the environment
//! protocol (`env_protocol`).
//!
//! The daemon dialled in with its token; the gateway upgraded the socket after
//! [`Service::env_authorize`] and hands the frames here. While the socket lives, this
//! loop claims the environment's pending jobs from the universe's catalog and
//! delivers them, gathers each call's output (published as `toolOutput` deltas to
//! the session's subscribers, kept whole for the CAS), and when the daemon ends a
//! call, turns it into the tool result ([`effects::env::call_result`]), finishes the
//! job (the first finisher wins) and completes the waiting activity through the host
//! when the job has a task token.
//!
//! Nothing here is the only copy of anything: a job stays in the catalog until it is
//! finished, a daemon that reconnects lists the calls it still knows (they are
//! delivered again and answered from its memory), and a call it no longer knows (it
//! restarted) is finished as `environmentRestarted`, never run a second time.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use api::ApiError;
use api::types::env::{EnvSocket, EnvironmentGrant};
use engine::RunId;
use engine::core::effects::ToolResult;
use env_protocol::{CallResult, DaemonMessage, GatewayMessage, Op, PROTOCOL_VERSION};
use env_registry::{EnvCatalog, EnvJob, JobKind, Presence};
use futures::{SinkExt, StreamExt};
use llm_runtime::{Delta, DeltaKind};
use secrecy::SecretString;

use crate::host::{SessionHost, SessionKey};
use crate::mcp::now_ms;
use crate::service::{Service, Store};
use session_stores::StoreProvider as _;

/// How often the gateway pings a daemon (the daemon reconnects after 3× without).
pub(crate) const PING_INTERVAL_MS: u64 = 15_000;
/// How long a daemon has to say hello after the upgrade.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// Calls one daemon runs at once (its own process bound is the same by default).
const CALLS_IN_FLIGHT_MAX: usize = 64;
/// How often pending jobs are looked for while the daemon is connected, when the
/// store cannot announce new jobs (the filesystem store)...
const CLAIM_INTERVAL: Duration = Duration::from_millis(250);
/// ...and when it can (Postgres `LISTEN`): a backstop only.
const CLAIM_INTERVAL_ANNOUNCED: Duration = Duration::from_secs(2);
/// Presence (last seen) is written at most this often.
const PRESENCE_WRITE_INTERVAL: Duration = Duration::from_secs(5);
/// Output of one call kept for the CAS; the daemon bounds its own at 32 MiB by
/// default, this bounds a daemon that does not.
const OUTPUT_KEPT_BYTES_MAX: usize = 64 * 1024 * 1024;
/// Room a delivered command leaves before its job's deadline to send its result.
const RESULT_MARGIN_MS: u64 = 5_000;

impl<H: SessionHost> Service<H> {
    /// Which environment `token` serves; `-32000` for anything else, saying nothing
    /// about which part was wrong.
    pub(crate) async fn env_authorize(&self, token: String) -> Result<EnvironmentGrant, ApiError> {
        let refused = || {
            ApiError::new(api::ErrorKind::Unauthorized, "invalid environment token")
                .with_reason("invalidToken")
        };
        let token = SecretString::from(token);
        let (universe_id, environment_id) =
            env_registry::parse_token(secrecy::ExposeSecret::expose_secret(&token))
                .ok_or_else(refused)?;
        let store = self.store(&universe_id).await.map_err(|_| refused())?;
        let environment = store
            .env_read_id(&environment_id)
            .await
            .map_err(crate::env::catalog_error)?
            .ok_or_else(refused)?;
        if !env_registry::token::verify(&token, &environment.token_sha256) {
            return Err(refused());
        }
        Ok(EnvironmentGrant {
            universe_id,
            environment_id,
            name: environment.name.to_string(),
        })
    }

    /// Serves the daemon of `grant` over `socket` until either side goes away.
    pub(crate) async fn env_serve(&self, grant: EnvironmentGrant, socket: EnvSocket) {
        let store = match self.store(&grant.universe_id).await {
            Ok(store) => store,
            Err(err) => {
                tracing::warn!(environment = %grant.environment_id, error = %err.message, "environment store unavailable");
                return;
            }
        };
        let connection = connection_id();
        let mut daemon = Daemon {
            service: self,
            store,
            grant,
            connection,
            socket,
            calls: BTreeMap::new(),
            limits: effects::env::EnvLimits::default(),
        };
        if let Err(reason) = daemon.serve().await {
            tracing::info!(environment = %daemon.grant.environment_id, %reason, "environment daemon disconnected");
        }
        let _ = daemon
            .store
            .env_disconnected(&daemon.grant.environment_id, &daemon.connection, now_ms())
            .await;
    }
}

/// A call delivered on this connection.
struct InFlight {
    job: EnvJob,
    output: Vec<u8>,
    /// Bytes the gateway never heard (a gap in offsets, or beyond its bound).
    missing: u64,
}

struct Daemon<'a, H: SessionHost> {
    service: &'a Service<H>,
    store: std::sync::Arc<Store<H>>,
    grant: EnvironmentGrant,
    connection: String,
    socket: EnvSocket,
    calls: BTreeMap<String, InFlight>,
    limits: effects::env::EnvLimits,
}

impl<H: SessionHost> Daemon<'_, H> {
    async fn serve(&mut self) -> Result<(), String> {
        let hello = tokio::time::timeout(HELLO_TIMEOUT, self.socket.incoming.next())
            .await
            .map_err(|_| "no hello in time".to_owned())?
            .ok_or("closed before hello")?;
        let DaemonMessage::Hello {
            protocol,
            name,
            host,
            known_calls,
        } = hello
        else {
            return Err("the first frame was not a hello".into());
        };
        if protocol != PROTOCOL_VERSION {
            return Err(format!("protocol {protocol}, not {PROTOCOL_VERSION}"));
        }
        if name != self.grant.name {
            return Err(format!(
                "the daemon is named {name:?}, its token is for {:?}",
                self.grant.name
            ));
        }
        let presence = Presence {
            connected: true,
            last_seen_ms: now_ms(),
            connection: self.connection.clone(),
            os: host.os,
            arch: host.arch,
            hostname: host.hostname,
            dir: host.dir,
            sandbox: host.sandbox.kind,
            network: host.sandbox.network,
            daemon_version: host.daemon_version,
        }
        .bounded();
        self.write_presence(&presence, true).await?;
        self.send(GatewayMessage::Welcome {
            environment_id: self.grant.environment_id.clone(),
            ping_interval_ms: PING_INTERVAL_MS,
        })
        .await?;
        self.reconcile(known_calls.into_iter().collect()).await?;

        let mut announced = self
            .service
            .host
            .stores()
            .env_job_wakeups(&self.grant.universe_id, &self.grant.environment_id);
        let mut claim = tokio::time::interval(match announced {
            Some(_) => CLAIM_INTERVAL_ANNOUNCED,
            None => CLAIM_INTERVAL,
        });
        let mut ping = tokio::time::interval(Duration::from_millis(PING_INTERVAL_MS));
        let mut heard = Instant::now();
        let mut presence_written = Instant::now();
        let mut nonce = 0u64;
        loop {
            tokio::select! {
                message = self.socket.incoming.next() => {
                    let Some(message) = message else { return Err("the daemon closed".into()) };
                    heard = Instant::now();
                    self.heard(message).await?;
                    if presence_written.elapsed() >= PRESENCE_WRITE_INTERVAL {
                        presence_written = Instant::now();
                        let presence = Presence { last_seen_ms: now_ms(), ..presence.clone() };
                        self.write_presence(&presence, false).await?;
                    }
                }
                _ = claim.tick() => self.claim().await?,
                () = announcement(announced.as_mut()) => self.claim().await?,
                _ = ping.tick() => {
                    if heard.elapsed() > Duration::from_millis(3 * PING_INTERVAL_MS) {
                        return Err("the daemon stopped answering".into());
                    }
                    nonce += 1;
                    self.send(GatewayMessage::Ping { nonce }).await?;
                }
            }
        }
    }

    /// Writes the daemon's presence; an error ends the connection when the
    /// environment is gone (deleted: its token no longer serves) or another
    /// connection took it over.
    async fn write_presence(&self, presence: &Presence, first: bool) -> Result<(), String> {
        let current = self
            .store
            .env_read_id(&self.grant.environment_id)
            .await
            .map_err(|err| err.to_string())?
            .ok_or("the environment was deleted")?;
        // A hello takes the environment over; later writes find out whether a newer
        // connection (the same daemon reconnecting, or a second one) did since.
        if !first
            && let Some(holder) = current.presence.as_ref()
            && holder.connected
            && holder.connection != self.connection
        {
            return Err("another connection took the environment over".into());
        }
        let stored = self
            .store
            .env_presence(&self.grant.environment_id, presence)
            .await
            .map_err(|err| err.to_string())?;
        if !stored {
            return Err("the environment was deleted".into());
        }
        Ok(())
    }

    /// After a (re)connect: calls an earlier connection delivered are delivered again
    /// if the daemon still knows them, and finished as lost if it does not.
    async fn reconcile(&mut self, known: BTreeSet<String>) -> Result<(), String> {
        let delivered = self
            .store
            .job_delivered(&self.grant.environment_id)
            .await
            .map_err(|err| err.to_string())?;
        for job in delivered {
            if known.contains(&job.id) {
                if let Some(job) = self
                    .store
                    .job_redeliver(&job.id, &self.connection, now_ms())
                    .await
                    .map_err(|err| err.to_string())?
                {
                    self.deliver(job).await?;
                }
            } else {
                let message = "the environment's daemon restarted while it ran this call, \
                               which may have run in part; check before running it again";
                self.finish_with(&job, "environmentRestarted", message)
                    .await?;
            }
        }
        Ok(())
    }

    async fn claim(&mut self) -> Result<(), String> {
        self.cancel_finished_elsewhere().await?;
        let room = CALLS_IN_FLIGHT_MAX.saturating_sub(self.calls.len());
        if room == 0 {
            return Ok(());
        }
        let jobs = self
            .store
            .job_claim(&self.grant.environment_id, &self.connection, now_ms(), room)
            .await
            .map_err(|err| err.to_string())?;
        for job in jobs {
            self.deliver(job).await?;
        }
        Ok(())
    }

    /// Calls in flight here whose jobs someone else finished (the worker, when the
    /// run was cancelled or the deadline passed): nobody waits for them, so the
    /// daemon kills their processes.
    async fn cancel_finished_elsewhere(&mut self) -> Result<(), String> {
        if self.calls.is_empty() {
            return Ok(());
        }
        let delivered: BTreeSet<String> = self
            .store
            .job_delivered(&self.grant.environment_id)
            .await
            .map_err(|err| err.to_string())?
            .into_iter()
            .map(|job| job.id)
            .collect();
        let gone: Vec<String> = self
            .calls
            .keys()
            .filter(|id| !delivered.contains(*id))
            .cloned()
            .collect();
        for call_id in gone {
            self.calls.remove(&call_id);
            self.send(GatewayMessage::Cancel { call_id }).await?;
        }
        Ok(())
    }

    /// Sends `job` to the daemon, its command's timeout cut to end before the job's
    /// deadline (it may have waited for the daemon).
    async fn deliver(&mut self, job: EnvJob) -> Result<(), String> {
        let op: Op = match serde_json::from_value(job.op.clone()) {
            Ok(op) => op,
            Err(err) => {
                let message = format!("unreadable environment call: {err}");
                return self.finish_with(&job, "invalidArguments", &message).await;
            }
        };
        let left = job
            .deadline_ms
            .saturating_sub(now_ms())
            .saturating_sub(RESULT_MARGIN_MS)
            .max(1);
        let op = match op {
            Op::Exec {
                command,
                workdir,
                env,
                stdin,
                timeout_ms,
                yield_ms,
            } => Op::Exec {
                command,
                workdir,
                env,
                stdin,
                timeout_ms: timeout_ms.min(left),
                yield_ms,
            },
            other => other,
        };
        let call_id = job.id.clone();
        self.calls.insert(
            call_id.clone(),
            InFlight {
                job,
                output: Vec::new(),
                missing: 0,
            },
        );
        self.send(GatewayMessage::Call { call_id, op }).await
    }

    async fn heard(&mut self, message: DaemonMessage) -> Result<(), String> {
        match message {
            DaemonMessage::Output {
                call_id,
                offset,
                data,
            } => {
                let Some(call) = self.calls.get_mut(&call_id) else {
                    return Ok(());
                };
                let have = call.output.len() as u64 + call.missing;
                let bytes = data.as_bytes();
                // A call delivered again replays its output from 0: skip what is here.
                let fresh = if offset < have {
                    let skip = usize::try_from(have - offset).unwrap_or(usize::MAX);
                    bytes.get(skip..).unwrap_or_default()
                } else {
                    call.missing += offset - have;
                    bytes
                };
                if fresh.is_empty() {
                    return Ok(());
                }
                let room = OUTPUT_KEPT_BYTES_MAX.saturating_sub(call.output.len());
                let kept = &fresh[..fresh.len().min(room)];
                call.output.extend_from_slice(kept);
                call.missing += (fresh.len() - kept.len()) as u64;
                if call.job.kind == JobKind::Command {
                    publish(self.service, &self.grant, &call.job, fresh);
                }
            }
            DaemonMessage::Result { call_id, result } => {
                if let Some(call) = self.calls.remove(&call_id) {
                    self.finish_call(call, &result).await?;
                }
            }
            DaemonMessage::Pong { .. } => {}
            DaemonMessage::Hello { .. } => return Err("a second hello".into()),
        }
        Ok(())
    }

    async fn finish_call(&mut self, call: InFlight, result: &CallResult) -> Result<(), String> {
        let environment = self.mount_name(&call.job).await;
        let mut result = result.clone();
        if let CallResult::Process(outcome) = &mut result {
            outcome.output_dropped += call.missing;
        }
        let tool_result = effects::env::call_result(
            &*self.store,
            &call.job,
            &result,
            &call.output,
            &environment,
            &self.limits,
        )
        .await
        .map_err(|err| err.to_string())?;
        self.complete(&call.job, tool_result).await
    }

    /// The name the job's session attached its environment at (for the handle a
    /// running command's result gives the model).
    async fn mount_name(&self, job: &EnvJob) -> String {
        let Ok(session) = engine::SessionId::new(job.session_id.clone()) else {
            return self.grant.name.clone();
        };
        self.store
            .attachment_list(&session)
            .await
            .ok()
            .and_then(|attachments| {
                attachments
                    .into_iter()
                    .find(|attachment| attachment.environment_id == job.environment_id)
            })
            .map_or_else(
                || self.grant.name.clone(),
                |attachment| attachment.name.to_string(),
            )
    }

    async fn finish_with(&mut self, job: &EnvJob, code: &str, message: &str) -> Result<(), String> {
        let result = effects::env::error_result(&*self.store, &job.call_id, code, message)
            .await
            .map_err(|err| err.to_string())?;
        self.complete(job, result).await
    }

    /// Finishes `job` with `result` and, when this finished it and an activity waits
    /// under a task token, completes the activity.
    async fn complete(&self, job: &EnvJob, result: ToolResult) -> Result<(), String> {
        let value = serde_json::to_value(&result).map_err(|err| err.to_string())?;
        let finished = self
            .store
            .job_finish(&job.id, &value, now_ms())
            .await
            .map_err(|err| err.to_string())?;
        let Some(token) = finished
            .and_then(|job| job.task_token)
            .and_then(|token| effects::env::decode_token(&token))
        else {
            return Ok(());
        };
        if let Err(reason) = self.service.host.complete_tool(token, result).await {
            // The worker's watcher completes it from the finished job instead.
            tracing::info!(job = %job.id, %reason, "completing an environment call's activity failed");
        }
        Ok(())
    }

    async fn send(&mut self, message: GatewayMessage) -> Result<(), String> {
        self.socket
            .outgoing
            .send(message)
            .await
            .map_err(|_| "the socket closed".to_owned())
    }
}

fn publish<H: SessionHost>(
    service: &Service<H>,
    grant: &EnvironmentGrant,
    job: &EnvJob,
    fresh: &[u8],
) {
    let (Ok(run_id), Ok(session)) = (
        RunId::new(job.run_id.clone()),
        engine::SessionId::new(job.session_id.clone()),
    ) else {
        return;
    };
    service.host.publish_delta(
        &SessionKey::new(&grant.universe_id, &session),
        Delta {
            run_id,
            turn: job.batch,
            output_index: 0,
            kind: DeltaKind::ToolOutput,
            text: String::from_utf8_lossy(fresh).into_owned(),
            call_id: Some(job.call_id.clone()),
        },
    );
}

/// Resolves when a job for the environment was announced; never without
/// announcements (or once the announcer is gone: polling goes on).
async fn announcement(wakeups: Option<&mut tokio::sync::watch::Receiver<u64>>) {
    let heard = match wakeups {
        Some(wakeups) => wakeups.changed().await.is_ok(),
        None => false,
    };
    if !heard {
        std::future::pending::<()>().await;
    }
}

/// A random id for one socket: which connection holds an environment.
fn connection_id() -> String {
    let mut random = [0u8; 12];
    if getrandom::fill(&mut random).is_err() {
        // Uniqueness only matters between live connections of one environment.
        return format!("conn-{}", now_ms());
    }
    random.iter().map(|byte| format!("{byte:02x}")).collect()
}
