//! API conformance cases, `session/events/read`: pages by cursor and limit, the head cursor, long-polls
//! that wake on a commit.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::client::{Harness, RUN_FINISHED};
use super::{Case, case};

pub(super) const CASES: [Case; 1] = [case!(
    events_read_pages_by_cursor_and_long_polls,
    [
        "session/start",
        "run/start",
        "session/events/read",
        "session/read"
    ]
)];

/// A long-poll that should wake early waits this long at most.
const LONG_POLL_MS: u64 = 25_000;

pub(super) async fn events_read_pages_by_cursor_and_long_polls(h: Harness) -> anyhow::Result<()> {
    let script = json!({"turns": [{"reasoning": "Think.", "text": "first"}, {"text": "second"}]});
    let ctx = h.start(script).await?;
    let a = ctx.a();
    a.start_session("s-events").await;
    let run_id = a.start_run("s-events", "sub-1", "one").await;
    let all = a.follow("s-events", &run_id).await;
    let head = all.last().unwrap()["cursor"].as_u64().unwrap();
    let whole = a
        .call(
            "session/events/read",
            json!({"sessionId": "s-events", "limit": 500}),
        )
        .await;
    assert_eq!(
        whole["events"].as_array().unwrap(),
        &all,
        "one page or many, the same events"
    );
    assert_eq!(whole["nextCursor"], head);
    assert_eq!(whole["headCursor"], head);
    let read = a.read_session_at("s-events", head).await;
    assert_eq!(read["eventCursor"], head);

    // One event a page, each page after the last one's cursor: no gaps, no repeats.
    let mut cursor = 0;
    let mut paged: Vec<Value> = Vec::new();
    while cursor < head {
        let args = json!({"sessionId": "s-events", "cursor": cursor, "limit": 1});
        let page = a.call("session/events/read", args).await;
        let events = page["events"].as_array().unwrap();
        assert_eq!(events.len(), 1, "{page}");
        assert_eq!(page["nextCursor"], events[0]["cursor"]);
        assert_eq!(page["headCursor"], head);
        cursor = page["nextCursor"].as_u64().unwrap();
        paged.extend(events.iter().cloned());
    }
    assert_eq!(paged, all);
    // From the middle: exactly the tail.
    let middle = all[1]["cursor"].as_u64().unwrap();
    let tail = a
        .call(
            "session/events/read",
            json!({"sessionId": "s-events", "cursor": middle}),
        )
        .await;
    assert_eq!(tail["events"].as_array().unwrap(), &all[2..]);
    // At the head, a short wait answers empty and stays put.
    let args = json!({"sessionId": "s-events", "cursor": head, "waitMs": 100});
    let idle = a.call("session/events/read", args).await;
    assert_eq!(idle["events"], json!([]));
    assert_eq!(
        (idle["nextCursor"].as_u64(), idle["headCursor"].as_u64()),
        (Some(head), Some(head))
    );

    // Any u64 is a cursor: past the head there is nothing, and no arithmetic on it
    // may overflow.
    let args = json!({"sessionId": "s-events", "cursor": u64::MAX, "waitMs": 50});
    let beyond = a.call("session/events/read", args).await;
    assert_eq!(beyond["events"], json!([]));
    assert_eq!(beyond["nextCursor"].as_u64(), Some(u64::MAX));
    assert_eq!(beyond["headCursor"].as_u64(), Some(head));

    long_poll_wakes_on_a_commit(&ctx, head).await;

    for limit in [0, 501] {
        let args = json!({"sessionId": "s-events", "limit": limit});
        a.invalid("session/events/read", args, "limit", None).await;
    }
    let missing = json!({"sessionId": "nope"});
    a.refused("session/events/read", missing, -32004, "sessionNotFound")
        .await;
    Ok(())
}

/// A read waiting at `head` returns once a new run commits, well before its wait.
async fn long_poll_wakes_on_a_commit(ctx: &super::Ctx, head: u64) {
    let waiter = ctx.a();
    let poll = tokio::spawn(async move {
        let started = Instant::now();
        let args = json!({"sessionId": "s-events", "cursor": head, "waitMs": LONG_POLL_MS});
        let page = waiter.call("session/events/read", args).await;
        (page, started.elapsed())
    });
    // Give the poll time to start waiting; if it starts late it simply finds the
    // events already there, which the assertions below accept too.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let a = ctx.a();
    let run_id = a.start_run("s-events", "sub-2", "two").await;
    let (page, waited) = poll.await.unwrap();
    let events = page["events"].as_array().unwrap();
    assert!(
        !events.is_empty(),
        "the long-poll returns the new events: {page}"
    );
    assert!(
        events.iter().all(|e| e["cursor"].as_u64().unwrap() > head),
        "{page}"
    );
    assert!(
        waited < Duration::from_millis(LONG_POLL_MS - 5_000),
        "the long-poll woke on the commit, not at its deadline ({waited:?})"
    );
    let finished = |e: &Value| e["kind"] == RUN_FINISHED && e["runId"] == run_id.as_str();
    a.read_until("s-events", head, finished).await;
}
