//! API conformance cases, quotas and ceilings: a universe at its quota of runs in
//! flight or of stored bytes is refused new work with -32010 `quotaExceeded` naming
//! the quota, keeps what it has (resubmissions, re-uploads), and frees a place when a
//! run ends; another universe never notices. Run budgets and provider params above a
//! deployment's ceilings are refused like the engine's own ceilings.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};

use super::client::{Conn, Harness, RUN_FINISHED};
use super::fixtures::{finished_status, session_config, text_input};
use super::{Case, ConfigCeilings, PUT_BLOB_ROUTE, Quotas, case};

pub(super) const CASES: [Case; 3] = [
    case!(
        runs_in_flight_quota_refuses_new_runs_until_one_ends,
        [
            "session/start",
            "run/start",
            "run/cancel",
            "session/events/read"
        ]
    ),
    case!(
        stored_bytes_quota_refuses_new_content_only,
        [
            "blob/put",
            "blob/has_many",
            PUT_BLOB_ROUTE,
            "session/start",
            "run/start"
        ]
    ),
    case!(
        server_ceilings_refuse_budgets_and_params_above_them,
        ["session/start", "session/update", "run/start"]
    ),
];

/// `method` must be refused with -32010 `quotaExceeded` for `quota`.
async fn over_quota(conn: &Conn, method: &str, args: Value, quota: &str) {
    let data = conn.refused(method, args, -32010, "quotaExceeded").await;
    assert_eq!(data["quota"], quota, "{method}: {data}");
}

fn run_args(session: &str, submission: &str, text: &str) -> Value {
    json!({"sessionId": session, "submissionId": submission, "input": text_input(text)})
}

pub(super) async fn runs_in_flight_quota_refuses_new_runs_until_one_ends(
    h: Harness,
) -> anyhow::Result<()> {
    // Runs whose input names a slow turn generate for that long; every other
    // generation is answered at once (the fake provider echoes). A host may hold
    // commands to a session while it generates (the in-process one does), so the
    // case waits on a session only where it means to, and the delays are long
    // enough that no run ends before the case has looked at it.
    let slow = |name: &str, delay_ms: u64| json!({"text": name, "delay_ms": delay_ms, "match": {"last_user_contains": name}});
    let script = json!({"turns": [
        slow("slow-one", 30_000),
        slow("slow-two", 3_000),
        slow("slow-four", 60_000),
    ]});
    let quotas = Quotas {
        runs_in_flight_per_universe_max: 2,
        ..Quotas::default()
    };
    let ctx = h.start_with_quotas(script, quotas).await?;
    let (a, b) = (ctx.a(), ctx.b());
    for session in ["s-1", "s-2", "s-3"] {
        a.start_session(session).await;
    }
    let one = a.start_run("s-1", "sub-1", "slow-one").await;
    a.wait_generating("s-1", &one).await;
    let two = a.start_run("s-2", "sub-2", "slow-two").await;

    // At two runs in flight, a new run in any session of the universe is refused...
    over_quota(
        &a,
        "run/start",
        run_args("s-3", "sub-3", "three"),
        "runsInFlight",
    )
    .await;
    // ...while another universe has its own quota...
    b.start_session("s-b").await;
    b.start_run("s-b", "sub-b", "hello").await;
    // ...and asking again for a run the universe has is answered with that run.
    let again = a
        .call("run/start", run_args("s-2", "sub-2", "slow-two"))
        .await;
    assert_eq!(again["runId"], two.as_str());
    assert_eq!(again["duplicate"], true);

    // A finished run frees its place: with run one still generating, a third fits.
    let (events, _) = a.read_until("s-2", 0, ended(&two)).await;
    assert_eq!(finished_status(&events, &two), "completed");
    let three = a.start_run("s-3", "sub-3", "three").await;
    a.read_until("s-3", 0, ended(&three)).await;

    // So does a cancelled one: the universe is full again (runs one and four)...
    a.start_run("s-3", "sub-4", "slow-four").await;
    over_quota(
        &a,
        "run/start",
        run_args("s-2", "sub-5", "five"),
        "runsInFlight",
    )
    .await;
    // ...until run one is cancelled, while run four still generates.
    a.call("run/cancel", json!({"sessionId": "s-1", "runId": one}))
        .await;
    let (events, _) = a.read_until("s-1", 0, ended(&one)).await;
    assert_eq!(finished_status(&events, &one), "cancelled");
    a.start_run("s-2", "sub-5", "five").await;
    Ok(())
}

/// Whether an event ends `run_id`.
fn ended(run_id: &str) -> impl Fn(&Value) -> bool + '_ {
    move |event| event["kind"] == RUN_FINISHED && event["runId"] == run_id
}

pub(super) async fn stored_bytes_quota_refuses_new_content_only(h: Harness) -> anyhow::Result<()> {
    const KIB: usize = 1024;
    let quotas = Quotas {
        stored_bytes_per_universe_max: 256 * KIB as u64,
        ..Quotas::default()
    };
    let ctx = h.start_with_quotas(json!({"turns": []}), quotas).await?;
    let (a, b) = (ctx.a(), ctx.b());
    // Text, so that a ref to it is valid run input.
    let content = |seed: usize| -> Vec<u8> {
        (0..100 * KIB)
            .map(|i| b'a' + ((i + seed) % 26) as u8)
            .collect()
    };
    let data = |bytes: &[u8]| {
        use base64::Engine as _;
        json!({"dataBase64": base64::engine::general_purpose::STANDARD.encode(bytes)})
    };
    // Two blobs of 100 KiB fit a quota of 256 KiB; a third does not.
    let first = a.put_blob(&content(1)).await;
    a.put_blob(&content(2)).await;
    over_quota(&a, "blob/put", data(&content(3)), "storedBytes").await;
    let third_ref = engine::BlobRef::of_bytes(&content(3)).to_string();
    let key = ctx.stack().a.api_key.clone();
    let (status, body) = ctx.put_blob_raw(Some(&key), &third_ref, content(3)).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], -32010, "{body}");
    assert_eq!(body["error"]["data"]["reason"], "quotaExceeded", "{body}");
    assert_eq!(body["error"]["data"]["quota"], "storedBytes", "{body}");
    let has = a
        .call("blob/has_many", json!({"blobRefs": [first, third_ref]}))
        .await;
    assert_eq!(
        has["missing"],
        json!([third_ref]),
        "nothing refused was stored"
    );
    // What the universe holds is never refused: the same bytes again are no new
    // content.
    assert_eq!(a.put_blob(&content(1)).await, first);

    // Run input is content too: new text beyond the quota is refused before the run
    // is admitted; a ref to a blob the universe holds is not new.
    a.start_session("s-bytes").await;
    let new_text = json!({"sessionId": "s-bytes", "submissionId": "sub-1",
                          "input": text_input(&"t".repeat(60 * KIB))});
    over_quota(&a, "run/start", new_text, "storedBytes").await;
    let held = json!({"sessionId": "s-bytes", "submissionId": "sub-2",
                      "input": [{"type": "textRef", "blobRef": first}]});
    a.call("run/start", held).await;

    // Another universe stores what universe A was refused.
    b.put_blob(&content(3)).await;
    Ok(())
}

pub(super) async fn server_ceilings_refuse_budgets_and_params_above_them(
    h: Harness,
) -> anyhow::Result<()> {
    let quotas = Quotas {
        ceilings: ConfigCeilings {
            run_turns_max: 20,
            run_tool_batches_max: 10,
            run_output_tokens_max: 5_000,
            provider_params_bytes_max: 128,
        },
        ..Quotas::default()
    };
    let ctx = h.start_with_quotas(json!({"turns": []}), quotas).await?;
    let a = ctx.a();
    let start = |session: &str, run_defaults: Value, params: Value| {
        let mut config = session_config("none");
        config["runDefaults"] = run_defaults;
        config["generation"]["providerParams"] = params;
        json!({"sessionId": session, "config": config})
    };
    let at = json!({"maxTurns": 20, "maxToolRounds": 10, "maxOutputTokens": 5_000});
    for (defaults, field) in [
        (json!({"maxTurns": 21}), "config.runDefaults.maxTurns"),
        (
            json!({"maxToolRounds": 11}),
            "config.runDefaults.maxToolRounds",
        ),
        (
            json!({"maxOutputTokens": 5_001}),
            "config.runDefaults.maxOutputTokens",
        ),
    ] {
        let mut over = at.clone();
        over.as_object_mut()
            .unwrap()
            .extend(defaults.as_object().unwrap().clone());
        let args = start("s-over", over, json!({}));
        a.invalid("session/start", args, field, Some("invalidConfig"))
            .await;
    }
    // Provider params are bounded by their compact JSON (well under the engine's
    // 16 KiB here).
    let long = json!({"service_tier": "x".repeat(200)});
    a.invalid(
        "session/start",
        start("s-over", at.clone(), long),
        "config.generation.providerParams",
        Some("invalidConfig"),
    )
    .await;
    // At the ceilings is fine.
    let view = a
        .call(
            "session/start",
            start("s-at", at, json!({"service_tier": "auto"})),
        )
        .await;
    let revision = view["revision"].clone();

    // A patch is checked for what it changes; a run for the budgets it would get.
    let patch = json!({"sessionId": "s-at", "expectedRevision": revision,
                       "patch": {"runDefaults": {"maxToolRounds": 11}}});
    a.invalid(
        "session/update",
        patch,
        "patch.runDefaults.maxToolRounds",
        Some("invalidConfig"),
    )
    .await;
    let mut run = run_args("s-at", "sub-1", "hi");
    run["overrides"] = json!({"limits": {"maxTurns": 21}});
    a.invalid(
        "run/start",
        run.clone(),
        "overrides.limits.maxTurns",
        Some("invalidConfig"),
    )
    .await;
    run["overrides"] = json!({"limits": {"maxOutputTokens": 5_001}});
    a.invalid(
        "run/start",
        run.clone(),
        "overrides.limits.maxOutputTokens",
        Some("invalidConfig"),
    )
    .await;
    run["overrides"] = json!({"limits": {"maxTurns": 20}});
    a.call("run/start", run).await;
    Ok(())
}
