//! Bounds on everything the control state holds, so its size is independent of how
//! long a session lives. Commands that would exceed one are rejected at admission.

/// Runs waiting behind the active one.
pub const QUEUED_RUNS_MAX: usize = 64;
/// Recent submission ids remembered for idempotent resubmission. Older ones fall out
/// of the window first-in first-out; a resubmission older than that starts a new run.
pub const SUBMISSION_WINDOW_MAX: usize = 256;
/// Input items of one run request or steer.
pub const INPUT_ITEMS_MAX: usize = 64;
/// Steers waiting for the next step boundary of the active run.
pub const PENDING_STEERS_MAX: usize = 32;
/// Replaceable (keyed) context items: instructions, catalogs, pinned notes.
pub const KEYED_ITEMS_MAX: usize = 256;
/// Tools configured on a session.
pub const TOOLS_MAX: usize = 512;
/// Tool calls one generation may request.
pub const TOOL_CALLS_PER_TURN_MAX: usize = 128;
/// Items one generation, tool result or compaction may add to the context.
pub const OUTPUT_ITEMS_MAX: usize = 256;
/// Free-text fields (model names, reasons, error messages), in bytes.
pub const TEXT_FIELD_BYTES_MAX: usize = 1_024;
/// Context item keys, in bytes.
pub const ITEM_KEY_BYTES_MAX: usize = 128;
/// Ceilings on what a session's config or a run's overrides may ask for: a budget
/// beyond them is a mistake (or an attack on a shared worker), refused at admission.
/// Turns one run may take.
pub const RUN_TURNS_MAX: u64 = 10_000;
/// Tool batches one run may request.
pub const RUN_TOOL_BATCHES_MAX: u64 = 10_000;
/// Output tokens one run may spend, over all its turns.
pub const RUN_OUTPUT_TOKENS_MAX: u64 = 100_000_000;
/// Cost budget of one run, in nano-USD: 1,000,000 USD.
pub const RUN_COST_NANOS_MAX: u64 = 1_000_000 * NANOS_PER_USD;
/// Cost budget of one session, over all its runs, in nano-USD: 1,000,000 USD.
pub const SESSION_COST_NANOS_MAX: u64 = 1_000_000 * NANOS_PER_USD;
/// Nano-USD in one USD: the unit of every cost the engine holds.
pub const NANOS_PER_USD: u64 = 1_000_000_000;
/// Output tokens one generation may be allowed.
pub const GENERATION_OUTPUT_TOKENS_MAX: u64 = 1_000_000;
/// Context size at which automatic compaction starts, in tokens.
pub const HIGH_WATERMARK_TOKENS_MAX: u64 = 100_000_000;
/// Provider params (the opaque, adapter-validated part of a generation config), as
/// compact JSON: they enter control state, workflow history and every request.
pub const PROVIDER_PARAMS_BYTES_MAX: usize = 16 * 1_024;
