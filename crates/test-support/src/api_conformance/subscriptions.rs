//! API conformance cases, `session/subscribe` over WebSocket: committed events from a cursor, then live,
//! with the running turn's deltas; resubscribing from the last cursor seen gives
//! every later event once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};

use super::client::{Harness, RUN_FINISHED};
use super::fixtures::final_assistant_text;
use super::{Case, case};

pub(super) const CASES: [Case; 2] = [
    case!(
        subscribe_streams_events_and_deltas,
        [
            "session/start",
            "session/subscribe",
            "session/unsubscribe",
            "run/start",
            "session/events/read"
        ]
    ),
    case!(
        resubscribe_from_the_last_cursor_has_no_gaps_or_duplicates,
        [
            "session/start",
            "session/subscribe",
            "session/unsubscribe",
            "run/start",
            "session/events/read"
        ]
    ),
];

const ANSWER: &str = "A streamed answer in several words.";

/// The events of `notifications`, in order.
fn events_of(notifications: &[Value]) -> Vec<Value> {
    notifications
        .iter()
        .filter(|n| n["type"] == "event")
        .map(|n| n["event"].clone())
        .collect()
}

fn cursors(events: &[Value]) -> Vec<u64> {
    events
        .iter()
        .map(|e| e["cursor"].as_u64().unwrap())
        .collect()
}

pub(super) async fn subscribe_streams_events_and_deltas(h: Harness) -> anyhow::Result<()> {
    // Slow enough that the stream is seen in progress.
    let ctx = h
        .start(json!({"turns": [
            {"text": ANSWER, "delay_ms": 600},
            {"text": "Half of an answer that", "error": {"type": "server_error", "mid_stream": true}},
            {"text": "The whole answer."}
        ]}))
        .await?;
    let ws = ctx.ws_a().await;
    // Sessions, runs and reads work over the WebSocket too.
    ws.start_session("s-sub").await;
    let mut sub = ws
        .subscribe(json!({"sessionId": "s-sub", "cursor": 0}))
        .await;
    let run_id = ws.start_run("s-sub", "sub-1", "stream please").await;
    let seen = sub.until_finished(&run_id).await;
    sub.unsubscribe().await;

    let (mut text, mut deltas_before_answer, mut answered) = (String::new(), 0, false);
    for notification in &seen {
        assert_eq!(notification["sessionId"], "s-sub");
        match notification["type"].as_str().unwrap() {
            "delta" => {
                assert_eq!(notification["delta"]["runId"], run_id.as_str());
                if notification["delta"]["kind"] == "text" {
                    text.push_str(notification["delta"]["text"].as_str().unwrap());
                    deltas_before_answer += usize::from(!answered);
                }
            }
            _ => {
                let items = notification["event"]["items"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                answered |= items.iter().any(|i| i["type"] == "assistantMessage");
            }
        }
    }
    assert_eq!(text, ANSWER, "the text deltas add up to the answer");
    assert!(
        deltas_before_answer > 1,
        "live deltas come before the committed answer"
    );
    // The events are exactly the committed log, from the start.
    let events = events_of(&seen);
    let log = ws.follow("s-sub", &run_id).await;
    assert_eq!(events, log);
    assert_eq!(final_assistant_text(&events), ANSWER);

    // A generation that fails midway and is retried voids what it streamed: a
    // `retry` delta for its turn, then the retried attempt's text.
    let mut sub = ws
        .subscribe(json!({"sessionId": "s-sub", "cursor": log.last().unwrap()["cursor"]}))
        .await;
    let retried = ws.start_run("s-sub", "sub-2", "again").await;
    let seen = sub.until_finished(&retried).await;
    sub.unsubscribe().await;
    let deltas: Vec<&serde_json::Value> = seen
        .iter()
        .filter(|n| n["type"] == "delta" && n["delta"]["runId"] == retried.as_str())
        .map(|n| &n["delta"])
        .collect();
    let reset = deltas
        .iter()
        .position(|delta| delta["kind"] == "retry")
        .unwrap_or_else(|| panic!("no retry delta: {deltas:#?}"));
    assert_eq!(deltas[reset]["text"], "");
    let after: String = deltas[reset..]
        .iter()
        .filter(|delta| delta["kind"] == "text")
        .map(|delta| delta["text"].as_str().unwrap())
        .collect();
    // Deltas are best effort (a relayed one may trail the committed turn): what
    // streamed after the reset is the retried attempt's, never the void one's.
    assert!("The whole answer.".starts_with(&after), "{after:?}");
    let events = events_of(&seen);
    assert_eq!(final_assistant_text(&events), "The whole answer.");

    ws.subscribe_refused(json!({"sessionId": "nope"}), -32004, "sessionNotFound")
        .await;
    Ok(())
}

pub(super) async fn resubscribe_from_the_last_cursor_has_no_gaps_or_duplicates(
    h: Harness,
) -> anyhow::Result<()> {
    let script =
        json!({"turns": [{"reasoning": "Plan.", "text": "first answer", "delay_ms": 300}]});
    let ctx = h.start(script).await?;
    let ws = ctx.ws_a().await;
    let started = ws.start_session("s-resub").await;
    let from = started["eventCursor"].as_u64().unwrap();
    let args = |cursor: u64| json!({"sessionId": "s-resub", "cursor": cursor, "deltas": false});
    let mut first = ws.subscribe(args(from)).await;
    let run_id = ws.start_run("s-resub", "sub-1", "go").await;
    let mut seen = Vec::new();
    for _ in 0..3 {
        let notification = first.next().await;
        assert_eq!(
            notification["type"], "event",
            "deltas: false sends no deltas"
        );
        seen.push(notification);
    }
    first.unsubscribe().await;
    let last = *cursors(&events_of(&seen)).last().unwrap();
    let mut second = ws.subscribe(args(last)).await;
    let rest = second.until_finished(&run_id).await;
    second.unsubscribe().await;
    assert!(rest.iter().all(|n| n["type"] == "event"), "{rest:#?}");
    let mut got = events_of(&seen);
    got.extend(events_of(&rest));

    let finished = |e: &Value| e["kind"] == RUN_FINISHED && e["runId"] == run_id.as_str();
    let (log, _) = ws.read_until("s-resub", from, finished).await;
    assert_eq!(got, log, "no gaps, no duplicates");
    let got_cursors = cursors(&got);
    assert!(
        got_cursors.windows(2).all(|w| w[0] < w[1]),
        "{got_cursors:?}"
    );
    assert!(got_cursors[0] > from);

    // From a cursor in the middle of a finished run: exactly what follows it.
    let mut third = ws.subscribe(args(got_cursors[1])).await;
    assert_eq!(third.next().await["event"], log[2]);
    third.unsubscribe().await;
    Ok(())
}
