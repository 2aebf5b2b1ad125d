//! The gateway's limits as `server` flags and `LIGHTSPEED_GATEWAY_*` variables, and
//! the API's quotas and ceilings (`LIGHTSPEED_*`). Each default is the library's
//! (`gateway::GatewayConfig::default()`, `api_service::Quotas::default()`), where
//! each is explained.

use std::net::SocketAddr;

use anyhow::Context as _;
use api_service::{ConfigCeilings, InputLimits, IntakeLimits, Quotas};
use clap::Args;
use engine::core::limits::{
    PROVIDER_PARAMS_BYTES_MAX, RUN_OUTPUT_TOKENS_MAX, RUN_TOOL_BATCHES_MAX, RUN_TURNS_MAX,
};
use gateway::GatewayConfig;
use temporal_workflow::WorkflowSettings;

#[derive(Debug, Clone, Args)]
pub(crate) struct GatewayLimitArgs {
    /// Largest JSON-RPC request (HTTP body or WebSocket message), bytes.
    #[arg(long, env = "LIGHTSPEED_GATEWAY_RPC_BODY_BYTES_MAX", default_value_t = 1024 * 1024)]
    rpc_body_bytes_max: u32,
    /// How long reading one HTTP request body may take, ms.
    #[arg(
        long,
        env = "LIGHTSPEED_GATEWAY_RPC_BODY_READ_MS",
        default_value_t = 10_000
    )]
    rpc_body_read_ms: u64,
    /// Largest JSON-RPC response, bytes.
    #[arg(long, env = "LIGHTSPEED_GATEWAY_RPC_RESPONSE_BYTES_MAX", default_value_t = 10 * 1024 * 1024)]
    rpc_response_bytes_max: u32,
    /// Calls in one JSON-RPC batch.
    #[arg(
        long,
        env = "LIGHTSPEED_GATEWAY_RPC_BATCH_CALLS_MAX",
        default_value_t = 16
    )]
    rpc_batch_calls_max: u32,
    /// Largest blob accepted by `PUT /blobs/{ref}`, bytes.
    #[arg(long, env = "LIGHTSPEED_GATEWAY_BLOB_BYTES_MAX", default_value_t = 64 * 1024 * 1024)]
    blob_bytes_max: u64,
    /// Calls in flight on one connection.
    #[arg(
        long,
        env = "LIGHTSPEED_GATEWAY_CONNECTION_IN_FLIGHT_MAX",
        default_value_t = 32
    )]
    connection_in_flight_max: u32,
    /// JSON-RPC connections at once (WebSockets plus HTTP requests on `/rpc`).
    #[arg(
        long,
        env = "LIGHTSPEED_GATEWAY_CONNECTIONS_MAX",
        default_value_t = 1024
    )]
    connections_max: u32,
    /// JSON-RPC connections at once of one universe.
    #[arg(
        long,
        env = "LIGHTSPEED_GATEWAY_UNIVERSE_CONNECTIONS_MAX",
        default_value_t = 256
    )]
    universe_connections_max: u32,
    /// Request bytes of one universe served at once (large calls queue); 0: off.
    #[arg(long, env = "LIGHTSPEED_GATEWAY_UNIVERSE_IN_FLIGHT_BYTES_MAX", default_value_t = 2 * 1024 * 1024)]
    universe_in_flight_bytes_max: u32,
    /// Subscriptions open on one WebSocket.
    #[arg(
        long,
        env = "LIGHTSPEED_GATEWAY_CONNECTION_SUBSCRIPTIONS_MAX",
        default_value_t = 1024
    )]
    connection_subscriptions_max: u32,
    /// Outbound messages buffered per WebSocket; beyond it the reader counts as slow.
    #[arg(
        long,
        env = "LIGHTSPEED_GATEWAY_WS_QUEUED_MESSAGES_MAX",
        default_value_t = 256
    )]
    ws_queued_messages_max: u32,
    /// Outbound bytes (produced, not yet written) per WebSocket; calls beyond it wait
    /// for room, then the socket is closed (slow reader).
    #[arg(long, env = "LIGHTSPEED_GATEWAY_WS_QUEUED_BYTES_MAX", default_value_t = 16 * 1024 * 1024)]
    ws_queued_bytes_max: u64,
    /// How long an answer may wait for buffer room before its socket is closed, ms.
    #[arg(
        long,
        env = "LIGHTSPEED_GATEWAY_WS_REPLY_WAIT_MS",
        default_value_t = 10_000
    )]
    ws_reply_wait_ms: u64,
    /// How long closing a WebSocket (Close frame, then the client's side) may take
    /// before the TCP connection is aborted, ms.
    #[arg(
        long,
        env = "LIGHTSPEED_GATEWAY_WS_CLOSE_WAIT_MS",
        default_value_t = 2_000
    )]
    ws_close_wait_ms: u64,
    /// How long a WebSocket opened without a key may take to send `auth/hello`, ms.
    #[arg(
        long,
        env = "LIGHTSPEED_GATEWAY_WS_AUTH_TIMEOUT_MS",
        default_value_t = 5_000
    )]
    ws_auth_timeout_ms: u64,
    /// How often an open WebSocket's key is looked up again (a revoked key's sockets
    /// close within this long), ms; at least 1,000.
    #[arg(
        long,
        env = "LIGHTSPEED_GATEWAY_KEY_RECHECK_MS",
        default_value_t = 5_000
    )]
    key_recheck_ms: u64,
    /// WebSockets opened without a key and not yet authenticated, at once (a pool
    /// apart from every universe's places); 0 refuses such upgrades with 401.
    #[arg(
        long,
        env = "LIGHTSPEED_GATEWAY_WS_PREAUTH_CONNECTIONS_MAX",
        default_value_t = 64
    )]
    ws_preauth_connections_max: u32,
    /// WebSocket ping interval, ms; no pong within twice this closes the socket.
    #[arg(
        long,
        env = "LIGHTSPEED_GATEWAY_WS_PING_INTERVAL_MS",
        default_value_t = 30_000
    )]
    ws_ping_interval_ms: u64,
    /// A WebSocket without calls or subscriptions for this long is closed, ms.
    #[arg(
        long,
        env = "LIGHTSPEED_GATEWAY_WS_IDLE_TIMEOUT_MS",
        default_value_t = 300_000
    )]
    ws_idle_timeout_ms: u64,
    /// Environment daemons' sockets held at once; beyond it an upgrade gets 429.
    #[arg(
        long,
        env = "LIGHTSPEED_GATEWAY_ENV_SOCKETS_MAX",
        default_value_t = 1_024
    )]
    env_sockets_max: usize,
    /// The webhooks file (`POST /hooks/{name}`; docs/operating/events.md): a JSON
    /// file of hooks, each naming the environment variable that holds its secret.
    /// Default none: no hooks.
    #[arg(long, env = "LIGHTSPEED_HOOKS_FILE")]
    hooks_file: Option<std::path::PathBuf>,
    /// Largest webhook delivery body, bytes; beyond it: 413.
    #[arg(
        long,
        env = "LIGHTSPEED_GATEWAY_HOOK_BODY_BYTES_MAX",
        default_value_t = 1024 * 1024
    )]
    hook_body_bytes_max: u64,
    /// A session with no work for this long completes its workflow (the next
    /// command starts a new one from the store), ms; 0 keeps workflows open.
    #[arg(
        long,
        env = "LIGHTSPEED_SESSION_IDLE_TIMEOUT_MS",
        default_value_t = 3_600_000
    )]
    session_idle_timeout_ms: u64,
    /// A tool call is stopped after this long and recorded as an error, ms; for an
    /// environment command this bounds its whole wait, delivery included (a command
    /// may run for this long less 15 s).
    #[arg(long, env = "LIGHTSPEED_TOOL_TIMEOUT_MS", default_value_t = 300_000)]
    tool_timeout_ms: u64,
    /// Sessions one universe may hold; a new one beyond it is refused
    /// (`quotaExceeded`).
    #[arg(
        long,
        env = "LIGHTSPEED_SESSIONS_PER_UNIVERSE_MAX",
        default_value_t = api_service::SESSIONS_PER_UNIVERSE_MAX_DEFAULT
    )]
    sessions_per_universe_max: u64,
    /// Runs requested and not yet finished (queued or active) over all of one
    /// universe's sessions; a new `run/start` beyond it is refused (`quotaExceeded`).
    #[arg(
        long,
        env = "LIGHTSPEED_RUNS_IN_FLIGHT_PER_UNIVERSE_MAX",
        default_value_t = api_service::RUNS_IN_FLIGHT_PER_UNIVERSE_MAX_DEFAULT
    )]
    runs_in_flight_per_universe_max: u64,
    /// Bytes one universe's blobs may take; new content beyond it is refused
    /// (`quotaExceeded`).
    #[arg(
        long,
        env = "LIGHTSPEED_STORED_BYTES_PER_UNIVERSE_MAX",
        default_value_t = api_service::STORED_BYTES_PER_UNIVERSE_MAX_DEFAULT
    )]
    stored_bytes_per_universe_max: u64,
    /// Turns one run may take (`maxTurns`), at most the engine's ceiling; beyond:
    /// `invalidConfig`.
    #[arg(
        long,
        env = "LIGHTSPEED_RUN_TURNS_MAX",
        default_value_t = RUN_TURNS_MAX,
        value_parser = clap::value_parser!(u64).range(1..=RUN_TURNS_MAX)
    )]
    run_turns_max: u64,
    /// Tool rounds one run may take (`maxToolRounds`), at most the engine's ceiling.
    #[arg(
        long,
        env = "LIGHTSPEED_RUN_TOOL_ROUNDS_MAX",
        default_value_t = RUN_TOOL_BATCHES_MAX,
        value_parser = clap::value_parser!(u64).range(1..=RUN_TOOL_BATCHES_MAX)
    )]
    run_tool_rounds_max: u64,
    /// Output tokens one run may spend (run `maxOutputTokens`), at most the engine's
    /// ceiling.
    #[arg(
        long,
        env = "LIGHTSPEED_RUN_OUTPUT_TOKENS_MAX",
        default_value_t = RUN_OUTPUT_TOKENS_MAX,
        value_parser = clap::value_parser!(u64).range(1..=RUN_OUTPUT_TOKENS_MAX)
    )]
    run_output_tokens_max: u64,
    /// `generation.providerParams` as compact JSON, bytes, at most the engine's
    /// ceiling.
    #[arg(
        long,
        env = "LIGHTSPEED_PROVIDER_PARAMS_BYTES_MAX",
        default_value_t = PROVIDER_PARAMS_BYTES_MAX as u64,
        value_parser = clap::value_parser!(u64).range(1..=PROVIDER_PARAMS_BYTES_MAX as u64)
    )]
    provider_params_bytes_max: u64,
    /// Largest text item of run or steer input (inline or by ref), bytes.
    #[arg(long, env = "LIGHTSPEED_INPUT_TEXT_BYTES_MAX", default_value_t = 256 * 1024)]
    input_text_bytes_max: u64,
    /// Largest media item (image, PDF, voice note) of run or steer input, bytes.
    #[arg(long, env = "LIGHTSPEED_INPUT_MEDIA_BYTES_MAX", default_value_t = 20 * 1024 * 1024)]
    input_media_bytes_max: u64,
    /// Longest voice note of run input, seconds (read from the audio's headers).
    #[arg(
        long,
        env = "LIGHTSPEED_INPUT_AUDIO_SECONDS_MAX",
        default_value_t = 600
    )]
    input_audio_seconds_max: u64,
    /// All the bytes one run or steer request may name, bytes.
    #[arg(long, env = "LIGHTSPEED_INPUT_REQUEST_BYTES_MAX", default_value_t = 32 * 1024 * 1024)]
    input_request_bytes_max: u64,
    /// Deliveries of one event (source and dedupe key) within this many seconds are
    /// one event (`events/ingest`, webhooks).
    #[arg(
        long,
        env = "LIGHTSPEED_EVENTS_DEDUPE_WINDOW_S",
        default_value_t = api_service::EVENTS_DEDUPE_WINDOW_S_DEFAULT,
        value_parser = clap::value_parser!(u64).range(1..=366 * 24 * 60 * 60)
    )]
    events_dedupe_window_s: u64,
    /// Largest event payload `events/ingest` takes, as JSON, bytes.
    #[arg(
        long,
        env = "LIGHTSPEED_EVENTS_PAYLOAD_BYTES_MAX",
        default_value_t = api_service::EVENTS_PAYLOAD_BYTES_MAX_DEFAULT
    )]
    events_payload_bytes_max: u64,
}

impl GatewayLimitArgs {
    /// The per-universe quotas the API enforces.
    pub(crate) fn quotas(&self) -> Quotas {
        Quotas {
            sessions_per_universe_max: self.sessions_per_universe_max,
            runs_in_flight_per_universe_max: self.runs_in_flight_per_universe_max,
            stored_bytes_per_universe_max: self.stored_bytes_per_universe_max,
            input: InputLimits {
                text_bytes_max: self.input_text_bytes_max,
                media_bytes_max: self.input_media_bytes_max,
                audio_seconds_max: self.input_audio_seconds_max,
                request_bytes_max: self.input_request_bytes_max,
            },
            ceilings: ConfigCeilings {
                run_turns_max: self.run_turns_max,
                run_tool_batches_max: self.run_tool_rounds_max,
                run_output_tokens_max: self.run_output_tokens_max,
                provider_params_bytes_max: self.provider_params_bytes_max,
            },
            // `ScheduleArgs` sets them (the worker reads them too).
            schedules: Default::default(),
            agents: Default::default(),
            intake: IntakeLimits {
                dedupe_window_ms: self.events_dedupe_window_s.saturating_mul(1_000),
                payload_bytes_max: self.events_payload_bytes_max,
            },
        }
    }

    /// The settings the gateway starts session workflows with.
    pub(crate) fn workflow_settings(&self) -> WorkflowSettings {
        WorkflowSettings {
            session_idle_timeout_ms: self.session_idle_timeout_ms,
            tool_timeout_ms: self.tool_timeout_ms.max(1_000),
            ..WorkflowSettings::default()
        }
    }

    /// The gateway's config; the hooks file (when named) is read here, each hook's
    /// secret from its environment variable.
    pub(crate) fn config(&self, bind: SocketAddr) -> anyhow::Result<GatewayConfig> {
        let hooks = match &self.hooks_file {
            Some(path) => {
                let hooks = gateway::Hooks::from_file(path, |name| std::env::var(name).ok())
                    .context("LIGHTSPEED_HOOKS_FILE")?;
                tracing::info!(hooks = hooks.len(), path = %path.display(), "webhooks configured");
                hooks
            }
            None => gateway::Hooks::default(),
        };
        Ok(GatewayConfig {
            bind,
            rpc_body_bytes_max: self.rpc_body_bytes_max,
            rpc_body_read_ms: self.rpc_body_read_ms,
            rpc_response_bytes_max: self.rpc_response_bytes_max,
            rpc_batch_calls_max: self.rpc_batch_calls_max,
            blob_bytes_max: self.blob_bytes_max,
            connection_in_flight_max: self.connection_in_flight_max,
            connections_max: self.connections_max,
            universe_connections_max: self.universe_connections_max,
            universe_in_flight_bytes_max: self.universe_in_flight_bytes_max,
            connection_subscriptions_max: self.connection_subscriptions_max,
            ws_queued_messages_max: self.ws_queued_messages_max,
            ws_queued_bytes_max: self.ws_queued_bytes_max,
            ws_reply_wait_ms: self.ws_reply_wait_ms,
            ws_close_wait_ms: self.ws_close_wait_ms,
            ws_auth_timeout_ms: self.ws_auth_timeout_ms,
            key_recheck_ms: self.key_recheck_ms,
            ws_preauth_connections_max: self.ws_preauth_connections_max,
            ws_ping_interval_ms: self.ws_ping_interval_ms,
            ws_idle_timeout_ms: self.ws_idle_timeout_ms,
            env_sockets_max: self.env_sockets_max,
            hooks,
            hook_body_bytes_max: self.hook_body_bytes_max,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Probe {
        #[command(flatten)]
        limits: GatewayLimitArgs,
    }

    /// The flags' defaults are the library's: one documented set of defaults.
    #[test]
    fn flag_defaults_match_the_gateway_defaults() {
        let bind = GatewayConfig::default().bind;
        let parsed = Probe::try_parse_from(["probe"]).unwrap();
        assert_eq!(
            parsed.limits.config(bind).unwrap(),
            GatewayConfig::default()
        );
        assert_eq!(
            parsed.limits.workflow_settings(),
            WorkflowSettings::default()
        );
        assert_eq!(parsed.limits.quotas(), Quotas::default());
    }

    /// A deployment may lower a server ceiling, never raise it past the engine's.
    #[test]
    fn ceilings_are_bounded_by_the_engines() {
        let lowered = Probe::try_parse_from(["probe", "--run-turns-max", "20"]).unwrap();
        assert_eq!(lowered.limits.quotas().ceilings.run_turns_max, 20);
        for (flag, engine_max) in [
            ("--run-turns-max", RUN_TURNS_MAX),
            ("--run-tool-rounds-max", RUN_TOOL_BATCHES_MAX),
            ("--run-output-tokens-max", RUN_OUTPUT_TOKENS_MAX),
            (
                "--provider-params-bytes-max",
                PROVIDER_PARAMS_BYTES_MAX as u64,
            ),
        ] {
            let above = (engine_max + 1).to_string();
            assert!(
                Probe::try_parse_from(["probe", flag, above.as_str()]).is_err(),
                "{flag} {above} was accepted"
            );
            assert!(
                Probe::try_parse_from(["probe", flag, "0"]).is_err(),
                "{flag} 0"
            );
        }
    }
}

/// The deployment's bounds on schedules. Gateway and worker read the same ones: the
/// API checks them for `schedule/*`, the worker for the agent's schedule tools.
#[derive(Debug, Args)]
pub(crate) struct ScheduleArgs {
    /// Schedules one universe may hold (clients' and agents' together).
    #[arg(
        long,
        env = "LIGHTSPEED_SCHEDULES_PER_UNIVERSE_MAX",
        default_value_t = schedule_registry::SCHEDULES_PER_UNIVERSE_MAX_DEFAULT
    )]
    schedules_per_universe_max: usize,
    /// The shortest interval a schedule may fire at, in seconds.
    #[arg(
        long,
        env = "LIGHTSPEED_SCHEDULE_INTERVAL_SECONDS_MIN",
        default_value_t = schedule_registry::catalog::INTERVAL_SECONDS_MIN_DEFAULT
    )]
    schedule_interval_seconds_min: u64,
    /// How deep below its root a sub-agent may be (a root's child is 1).
    #[arg(long, env = "LIGHTSPEED_AGENT_DEPTH_MAX", default_value_t = 3,
        value_parser = clap::value_parser!(u32).range(1..=i64::from(engine::core::lineage::DEPTH_MAX)))]
    agent_depth_max: u32,
    /// Sub-agents one session may spawn over its life.
    #[arg(long, env = "LIGHTSPEED_AGENT_CHILDREN_PER_SESSION_MAX", default_value_t = 16,
        value_parser = clap::value_parser!(u32).range(1..=engine::core::lineage::CHILDREN_MAX as i64))]
    agent_children_per_session_max: u32,
    /// Sub-agents with runs in flight in one universe; spawns and messages beyond
    /// it are refused (`agentsInFlightExceeded`).
    #[arg(
        long,
        env = "LIGHTSPEED_AGENTS_IN_FLIGHT_PER_UNIVERSE_MAX",
        default_value_t = 64
    )]
    agents_in_flight_per_universe_max: u64,
}

impl ScheduleArgs {
    pub(crate) fn agent_limits(&self) -> api_service::AgentLimits {
        api_service::AgentLimits {
            depth_max: self.agent_depth_max,
            children_per_session_max: self.agent_children_per_session_max,
            children_in_flight_per_universe_max: self.agents_in_flight_per_universe_max,
        }
    }

    pub(crate) fn limits(&self) -> schedule_registry::catalog::ScheduleLimits {
        schedule_registry::catalog::ScheduleLimits {
            schedules_per_universe_max: self.schedules_per_universe_max,
            interval_seconds_min: self.schedule_interval_seconds_min,
        }
    }
}
