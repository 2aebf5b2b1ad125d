//! The layering, as data. Each row mirrors a row of the "Layering" table in
//! ARCHITECTURE.md (a test checks the two agree): changing an edge means changing
//! both, and saying why in the commit (CONTRIBUTING: a new dependency is a boundary
//! change).

/// Whether a crate ships in (or is linked into) something users run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// Ships: test-support must not be reachable from it along normal edges.
    Product,
    /// Test and measurement tooling: may use test-support as a normal dependency.
    Tooling,
}

/// One workspace crate's allowed dependencies on other workspace crates.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Row {
    pub(crate) name: &'static str,
    /// Normal (and build) dependencies: what the crate is built on.
    pub(crate) deps: &'static [&'static str],
    /// Dependencies of its tests, examples and benches only.
    pub(crate) dev: &'static [&'static str],
    pub(crate) role: Role,
}

const fn product(
    name: &'static str,
    deps: &'static [&'static str],
    dev: &'static [&'static str],
) -> Row {
    Row {
        name,
        deps,
        dev,
        role: Role::Product,
    }
}

const fn tooling(
    name: &'static str,
    deps: &'static [&'static str],
    dev: &'static [&'static str],
) -> Row {
    Row {
        name,
        deps,
        dev,
        role: Role::Tooling,
    }
}

/// Every crate of the workspace, leaves first. The edges must match the
/// manifests exactly: a missing edge fails, and so does a listed edge no manifest
/// has any more, so this table (and ARCHITECTURE.md) never overstates the graph.
pub(crate) const CRATES: &[Row] = &[
    product("engine", &[], &[]),
    // Process metrics and traces: every layer may record into it, so it depends on
    // none.
    product("telemetry", &[], &[]),
    product("api", &["env-protocol"], &[]),
    // Telemetry only to pass the current trace context on (`traceparent`).
    product("llm-clients", &["telemetry"], &[]),
    // The MCP client over rmcp: a leaf like llm-clients, so the worker and the API
    // service's MCP routes can share it without pulling each other in; telemetry for
    // the span of a tool call and its trace context.
    product("mcp-client", &["telemetry"], &[]),
    // The environment daemon: the environment protocol's types and nothing else of
    // ours (no engine, no store, no gateway code). Its tests depend on itself with
    // the `testing` feature (the stand-in gateway).
    product("envd", &["env-protocol"], &["envd"]),
    product("vfs", &["engine"], &[]),
    product("mcp-registry", &["engine"], &[]),
    product("env-registry", &["engine"], &[]),
    // Engine only for `SessionId` and `StoreError`.
    product("memory-registry", &["engine"], &[]),
    // Engine only for `SessionId` (checking a target) and `StoreError`.
    product("schedule-registry", &["engine"], &[]),
    product("env-protocol", &[], &[]),
    // Engine only for `StoreError`, the storage failure its catalogs report.
    product("auth-registry", &["engine"], &[]),
    product("tools", &["engine", "vfs"], &[]),
    product("llm-runtime", &["engine", "llm-clients"], &[]),
    // auth-registry, mcp-registry, env-registry and memory-registry: the catalogs
    // each store implements.
    product(
        "store-fs",
        &[
            "engine",
            "vfs",
            "mcp-registry",
            "env-registry",
            "memory-registry",
            "schedule-registry",
            "auth-registry",
        ],
        &["test-support"],
    ),
    product(
        "store-pg",
        &[
            "engine",
            "vfs",
            "mcp-registry",
            "env-registry",
            "memory-registry",
            "schedule-registry",
            "auth-registry",
        ],
        &["test-support"],
    ),
    product("temporal-workflow", &["engine"], &[]),
    // mcp-registry and mcp-client: linked MCP tools are listed and called here.
    product(
        "effects",
        &[
            "engine",
            "vfs",
            "tools",
            "llm-runtime",
            "mcp-registry",
            "mcp-client",
            // Shell and file calls on environments become jobs of the universe's
            // environment catalog, in the daemon's protocol.
            "env-registry",
            "env-protocol",
            // The memory tools and the source pinning memory blocks in the context.
            "memory-registry",
            // The agent's schedule tools, through the registry's ops and a host's
            // scheduler.
            "schedule-registry",
        ],
        &["test-support", "llm-clients"],
    ),
    // Engine only for `BlobRef` (parse and hash a ref on the raw blob routes);
    // telemetry for its `/metrics` and the counters it records.
    product("gateway", &["api", "engine", "telemetry"], &[]),
    // llm-runtime: the neutral reading of stored provider items, provider-params
    // validation at admission and the typed reasoning effort.
    product(
        "api-projection",
        &[
            "engine",
            "api",
            "llm-runtime",
            "vfs",
            "tools",
            "mcp-registry",
        ],
        &[],
    ),
    // A client like any other: the contract alone; and the environment daemon
    // it runs (`lightspeed env serve`).
    product("cli", &["api", "envd"], &["test-support"]),
    // `StoreProvider`, `SessionStore`, `SessionIndex`, `FsStores`, `PgStores`:
    // universe -> store for every host (worker, API service, test host).
    product(
        "session-stores",
        &[
            "engine",
            "vfs",
            "store-fs",
            "store-pg",
            "mcp-registry",
            // `SessionStore` requires the environment, memory and schedule catalogs too.
            "env-registry",
            "memory-registry",
            "schedule-registry",
            "auth-registry",
        ],
        &[],
    ),
    // Every API method's body, once, generic over a narrow host interface.
    product(
        "api-service",
        &[
            "engine",
            "api",
            "api-projection",
            "llm-runtime",
            "session-stores",
            // `session/mcp/link` lists a server's tools with effects' MCP client;
            // `auth/*` and MCP credentials go through each universe's auth registry.
            "effects",
            "mcp-registry",
            "mcp-client",
            "auth-registry",
            // `environments/*`, attachments, and the daemon's socket (the hub).
            "env-registry",
            "env-protocol",
            // `memory/*` and `session/memory/*`.
            "memory-registry",
            // `schedule/*` and the firing path.
            "schedule-registry",
        ],
        &[],
    ),
    // The Temporal host: wiring, the worker and the API service's Temporal host.
    product(
        "temporal-server",
        &[
            "engine",
            "api",
            "api-service",
            "gateway",
            "llm-clients",
            "llm-runtime",
            "session-stores",
            "store-pg",
            "temporal-workflow",
            "effects",
            "mcp-registry",
            "mcp-client",
            "auth-registry",
            // The worker watches the environment jobs its activities handed off.
            "env-registry",
            // `TemporalScheduler` keeps a Temporal Schedule per schedule record.
            "schedule-registry",
            // The worker's counters and its metrics endpoint.
            "telemetry",
        ],
        // Tests mount workspaces and register file tools directly; the memory
        // end-to-end test sets up blocks in the test's store. Its tests depend on
        // itself with the `upgrade-drill` feature (the drill's workflow variants).
        &[
            "test-support",
            "store-fs",
            "vfs",
            "tools",
            "memory-registry",
            "temporal-server",
        ],
    ),
    tooling(
        "test-support",
        &[
            "engine",
            "effects",
            "llm-clients",
            "llm-runtime",
            "api",
            "api-projection",
            "api-service",
            "session-stores",
            "store-fs",
            "vfs",
            "tools",
            "mcp-registry",
            "mcp-client",
            // The environment catalog conformance suite; CountingStore delegates it.
            "env-registry",
            // The same for the memory and schedule catalogs.
            "memory-registry",
            "schedule-registry",
            // The API conformance cases play an environment daemon.
            "env-protocol",
            "auth-registry",
            // The API conformance suite's in-process stack serves LocalApi through it.
            "gateway",
        ],
        &[],
    ),
    tooling(
        "bench",
        &[
            "engine",
            "effects",
            "llm-clients",
            "llm-runtime",
            "session-stores",
            "store-fs",
            "store-pg",
            "temporal-server",
            "temporal-workflow",
            "test-support",
        ],
        &[],
    ),
    tooling("architecture", &[], &[]),
    // The eval runner is an API client over HTTP, untyped JSON: it needs no crate.
    tooling("eval", &[], &[]),
];

/// External (and workspace) crates a crate must never reach along normal edges,
/// directly or transitively.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ban {
    pub(crate) name: &'static str,
    /// A family matches the name itself and `name-*`, `name_*` (tokio-util,
    /// sqlx-core, rand_core, temporalio-sdk, ...).
    pub(crate) families: &'static [&'static str],
    /// Families the walk records but does not descend into.
    pub(crate) opaque: &'static [&'static str],
    /// Reached along normal edges: shows the walk is not vacuous.
    pub(crate) reaches: &'static [&'static str],
    pub(crate) why: &'static str,
}

/// No async runtime, network or database stack, workflow SDK or randomness.
const PURE: &[&str] = &["tokio", "reqwest", "hyper", "sqlx", "temporalio", "rand"];

pub(crate) const BANS: &[Ban] = &[
    Ban {
        name: "engine",
        families: PURE,
        opaque: &[],
        reaches: &["serde_json", "sha2", "digest"],
        why: "the engine is deterministic: no I/O, async runtime, clock or randomness",
    },
    Ban {
        name: "vfs",
        families: PURE,
        opaque: &[],
        reaches: &["engine"],
        why: "the VFS has no host filesystem, network or async runtime",
    },
    Ban {
        name: "memory-registry",
        families: PURE,
        opaque: &[],
        reaches: &["engine"],
        why: "memory records and their decisions have no I/O, clock or async runtime",
    },
    Ban {
        name: "schedule-registry",
        families: PURE,
        // croner turns on chrono's default features, whose `clock` reaches the
        // system time zone through iana-time-zone (and its build tooling); the crate
        // never asks chrono for the clock or the local zone (zones are chrono-tz's).
        opaque: &["iana-time-zone"],
        reaches: &["engine", "croner"],
        why: "schedule records, their next times and decisions have no I/O or async runtime",
    },
    Ban {
        name: "tools",
        families: PURE,
        opaque: &[],
        reaches: &["engine", "vfs"],
        why: "the file tools have no host I/O or async runtime",
    },
    Ban {
        name: "temporal-workflow",
        families: &[
            "tokio",
            "reqwest",
            "hyper",
            "sqlx",
            "tonic",
            "temporalio-sdk",
            "temporalio-client",
            "store-fs",
            "store-pg",
            "llm-runtime",
            "llm-clients",
        ],
        // The SDK's protobuf crate links tonic and tokio for its gRPC types; workflow
        // code cannot name those without depending on them itself, which is what
        // this guards, so the walk stops at the SDK's own crates.
        opaque: &["temporalio"],
        reaches: &["engine", "temporalio-workflow"],
        why: "workflow code runs under deterministic replay: no runtime, network, \
              worker/client half of the SDK or our I/O crates",
    },
    Ban {
        name: "effects",
        families: &[
            "test-support",
            "temporal",
            "temporalio",
            "gateway",
            "api",
            "store-fs",
            "store-pg",
            "sqlx",
            "cli",
            "axum",
            "jsonrpsee",
        ],
        opaque: &[],
        reaches: &["engine", "llm-runtime", "llm-clients", "tools", "vfs"],
        why: "hosts build on effects: it never reaches a host, the client contract, a \
              storage backend or test infrastructure",
    },
    Ban {
        name: "api",
        families: &["tokio", "hyper", "axum", "jsonrpsee", "reqwest", "tower"],
        opaque: &[],
        reaches: &["serde_json", "schemars"],
        why: "the contract is plain data: no transport",
    },
    Ban {
        name: "api-service",
        families: &["temporalio", "axum", "jsonrpsee", "test-support"],
        opaque: &[],
        reaches: &["api", "api-projection", "session-stores"],
        why: "the API service knows no transport and no particular host: the gateway \
              dispatches to it, hosts (Temporal, in-process) plug into it",
    },
];
