//! The thin seam (ARCHITECTURE.md, `crates/temporal-workflow`: activity payloads are
//! ids, positions and refs; docs/spec/seam.md): with a transcript over 1 MB, every
//! payload in workflow history stays within 4 KiB *without* the seam codec's help
//! (nothing spilled: ordinary turns are thin by design), and history grows by the
//! same amount per turn whatever the transcript size. `seam_shapes` covers the steps
//! that are large by nature and rely on the codec.

use engine::core::config::{CompactionMode, ContextPolicy};
use engine::core::run::RunOutcome;
use serde_json::json;

use crate::harness::{Env, fast_settings, history_payloads};

const PAYLOAD_BYTES_MAX: usize = 4 * 1024;
const RUNS: usize = 6;
const INPUT_BYTES: usize = 200 * 1024;

#[tokio::test(flavor = "multi_thread")]
async fn payloads_stay_small_with_a_large_transcript() {
    let turns: Vec<_> = (0..RUNS)
        .map(|i| json!({"text": format!("Answer {i}.")}))
        .collect();
    let Some(env) = Env::start("seam", json!({"turns": turns}), fast_settings()).await else {
        return;
    };
    let manual = ContextPolicy {
        compaction: CompactionMode::Manual,
        ..ContextPolicy::default()
    };
    let session = env.open_with("s-seam", manual).await;
    let mut history_lengths = Vec::new();
    let mut transcript_bytes = 0;
    for i in 0..RUNS {
        // Each run adds 200 KiB of user input to the transcript.
        let text = format!("run {i} ") + &"lorem ipsum ".repeat(INPUT_BYTES / 12);
        transcript_bytes += text.len();
        let run = env.request_run(&session, &format!("sub-{i}"), &text).await;
        assert_eq!(env.outcome(&session, &run).await, RunOutcome::Completed);
        env.wait_status(&session, "idle", |status| status.active_run_id.is_none())
            .await;
        history_lengths.push(env.history(&session).await.len());
    }
    assert!(transcript_bytes > 1024 * 1024, "{transcript_bytes}");

    let history = env.history(&session).await;
    let payloads = history_payloads(&history);
    assert!(
        payloads
            .iter()
            .any(|p| p.activity_type == "llm_generate_commit")
    );
    let oversized: Vec<_> = payloads
        .iter()
        .filter(|p| p.bytes > PAYLOAD_BYTES_MAX || p.spilled > 0)
        .collect();
    assert!(
        oversized.is_empty(),
        "oversized or spilled payloads: {oversized:?}"
    );
    let mut largest = std::collections::BTreeMap::new();
    for payload in &payloads {
        let entry = largest
            .entry((payload.activity_type.as_str(), payload.direction))
            .or_insert(0);
        *entry = (*entry).max(payload.bytes);
    }
    eprintln!(
        "largest activity payloads (bytes): {largest:?}; history lengths {history_lengths:?}"
    );

    // Constant growth per turn: every run after the first adds the same events.
    let growth: Vec<_> = history_lengths.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        growth.windows(2).all(|w| w[0] == w[1]),
        "history growth per run varies: {growth:?}"
    );
    env.shutdown().await;
}
