//! The client's followed session: live deltas over WebSocket, resuming from the
//! last cursor after the gateway goes away and comes back, long polls, refusals.

use std::time::Duration;

use api::types::events::{DeltaKind, SessionNotification};
use api::types::run::{InputItem, RunStartParams, RunStatus};
use api::types::session::{ModelRouteInput, SessionConfigInput, SessionStartParams};
use cli::client::{Client, Connection, Follow, FollowLimits, FollowUpdate, Transport};
use serde_json::json;

use super::stack::stack;

const WAIT: Duration = Duration::from_secs(20);

async fn start(client: &Client, text: &str) -> (String, String, u64) {
    let session = client
        .session_start(&SessionStartParams {
            session_id: None,
            config: SessionConfigInput {
                model: ModelRouteInput {
                    provider_id: "fake".into(),
                    api_kind: "openai:responses".into(),
                    model: "fake-model".into(),
                },
                instructions: None,
                generation: Default::default(),
                context: Default::default(),
                run_defaults: Default::default(),
                tools: Default::default(),
                tool_policy: Default::default(),
                budget: Default::default(),
            },
        })
        .await
        .unwrap();
    let run = client
        .run_start(&RunStartParams {
            session_id: session.session_id.clone(),
            submission_id: "sub-1".into(),
            input: vec![InputItem::Text { text: text.into() }],
            overrides: None,
        })
        .await
        .unwrap();
    (session.session_id, run.run_id, session.event_cursor)
}

async fn next(follow: &mut Follow) -> FollowUpdate {
    tokio::time::timeout(WAIT, follow.next())
        .await
        .expect("an update in time")
        .expect("the follow is open")
}

fn fast_limits() -> FollowLimits {
    FollowLimits {
        reconnect_backoff_ms_min: 50,
        reconnect_backoff_ms_max: 400,
        reconnect_attempts_max: 40,
        poll_wait_ms: 1_000,
        ..FollowLimits::default()
    }
}

/// Event cursors seen until `run_id` finished, and whether any text delta came.
async fn until_finished(follow: &mut Follow, run_id: &str) -> (Vec<u64>, bool, RunStatus) {
    let (mut cursors, mut deltas) = (Vec::new(), false);
    loop {
        match next(follow).await {
            FollowUpdate::Notification(notification) => match *notification {
                SessionNotification::Event { event, .. } => {
                    cursors.push(event.cursor);
                    if event.kind == cli::client::kinds::RUN_FINISHED
                        && event.run_id.as_deref() == Some(run_id)
                    {
                        return (cursors, deltas, event.run.unwrap().status);
                    }
                }
                SessionNotification::Delta { delta, .. } => {
                    deltas |= delta.kind == DeltaKind::Text;
                }
            },
            FollowUpdate::Connection(Connection::Lost { error }) => panic!("lost: {error}"),
            FollowUpdate::Connection(_) => {}
        }
    }
}

fn assert_contiguous(cursors: &[u64], after: u64) {
    let expected: Vec<u64> = (after + 1..=after + cursors.len() as u64).collect();
    assert_eq!(cursors, expected, "every event once, in order");
}

#[tokio::test(flavor = "multi_thread")]
async fn resumes_from_the_last_cursor_after_the_gateway_restarts() {
    let mut stack = stack(json!({"turns": [
        {"text": "a long answer that streams in many small pieces over time", "delay_ms": 1_500}
    ]}))
    .await;
    let client = stack.client();
    let (session_id, run_id, cursor) = start(&client, "go").await;
    let mut follow = client.follow(&session_id, cursor, Transport::WebSocket, fast_limits());
    let mut cursors = Vec::new();
    // Wait for live text, then take the gateway away mid-stream.
    loop {
        match next(&mut follow).await {
            FollowUpdate::Notification(notification) => match *notification {
                SessionNotification::Event { event, .. } => cursors.push(event.cursor),
                SessionNotification::Delta { .. } => break,
            },
            FollowUpdate::Connection(update) => {
                assert_eq!(
                    update,
                    Connection::Live {
                        transport: Transport::WebSocket
                    }
                );
            }
        }
    }
    let addr = stack.stop_gateway().await;
    loop {
        match next(&mut follow).await {
            FollowUpdate::Connection(Connection::Reconnecting { .. }) => break,
            FollowUpdate::Notification(notification) => {
                if let SessionNotification::Event { event, .. } = *notification {
                    cursors.push(event.cursor);
                }
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stack.restart_gateway(addr).await;
    let (rest, _, status) = until_finished(&mut follow, &run_id).await;
    cursors.extend(rest);
    assert_eq!(status, RunStatus::Completed);
    assert_contiguous(&cursors, cursor);
}

#[tokio::test(flavor = "multi_thread")]
async fn long_polls_deliver_the_same_events() {
    let stack = stack(json!({"turns": [{"text": "polled answer", "delay_ms": 300}]})).await;
    let client = stack.client();
    let (session_id, run_id, cursor) = start(&client, "go").await;
    let mut follow = client.follow(&session_id, cursor, Transport::LongPoll, fast_limits());
    assert_eq!(
        next(&mut follow).await,
        FollowUpdate::Connection(Connection::Live {
            transport: Transport::LongPoll
        })
    );
    let (cursors, deltas, status) = until_finished(&mut follow, &run_id).await;
    assert_eq!(status, RunStatus::Completed);
    assert!(!deltas, "long polls carry committed events only");
    assert_contiguous(&cursors, cursor);

    let (_, run_id, _) = start(&client, "go").await;
    let mut ws = client.follow(&session_id, 0, Transport::WebSocket, fast_limits());
    let (cursors, _, _) = until_finished(&mut ws, &run_id).await;
    assert_contiguous(&cursors, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_follow_is_lost_at_once() {
    let stack = stack(json!({"turns": []})).await;
    for transport in [Transport::WebSocket, Transport::LongPoll] {
        let mut follow = stack
            .client()
            .follow("no-such-session", 0, transport, fast_limits());
        match next(&mut follow).await {
            FollowUpdate::Connection(Connection::Lost { error }) => {
                assert!(error.contains("sessionNotFound"), "{error}");
            }
            other => panic!("{transport:?}: {other:?}"),
        }
        assert!(follow.next().await.is_none());
    }
}
