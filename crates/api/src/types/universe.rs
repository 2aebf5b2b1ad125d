use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `universe/usage` takes no params.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UniverseUsageParams {}

/// What the caller's universe holds and has spent, as its store counts them while
/// it writes (the counts the quotas check).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UniverseUsageView {
    /// Sessions started (closed ones included).
    pub sessions: u64,
    /// Runs requested and not yet finished, queued or active, over every session.
    pub runs_in_flight: u64,
    /// Bytes of every blob in the universe's store.
    pub stored_bytes: u64,
    /// What every generation of every session (forks included) cost, in USD, as
    /// each turn recorded it. Generations of unpriced models count 0 (sessions'
    /// `usage.costComplete` says which).
    pub cost_usd: f64,
}
