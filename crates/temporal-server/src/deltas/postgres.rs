//! Deltas across processes through Postgres `LISTEN`/`NOTIFY`.
//!
//! A publisher task drains a relayed [`DeltaHub`]'s queue and sends what has piled up
//! as a few notifications in one transaction; a listener task per gateway decodes
//! notifications and delivers them to that process's subscribers. Both are best
//! effort, like deltas themselves: a failed send or a dropped connection loses some
//! deltas and is logged; the committed events are unaffected.
//!
//! Payload (JSON, at most [`NOTIFY_PAYLOAD_BYTES_MAX`] bytes):
//! `{"universe":"…","session":"…","deltas":[{"run":"…","turn":1,"index":0,"kind":"text","text":"…"}]}`.

use std::sync::Arc;
use std::time::Duration;

use engine::RunId;
use llm_runtime::{Delta, DeltaKind};
use serde::{Deserialize, Serialize};
use store_pg::{NOTIFY_PAYLOAD_BYTES_MAX, PgDatabase, PgStoreError};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{DeltaHub, RelayedDelta};

/// The notification channel deltas travel on.
pub const DELTA_CHANNEL: &str = "lightspeed_deltas";
/// Deltas a publisher sends in one transaction at most.
const DELTAS_PER_SEND_MAX: usize = 256;
/// Pause before listening again after the connection failed.
const LISTEN_RETRY_PAUSE: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum WireKind {
    Text,
    Reasoning,
    ToolArguments,
    ToolProgress,
    ToolOutput,
    Retry,
}

#[derive(Debug, Serialize, Deserialize)]
struct WireDelta {
    run: String,
    turn: u32,
    index: u32,
    kind: WireKind,
    text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    call: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WireBatch {
    universe: String,
    session: String,
    deltas: Vec<WireDelta>,
}

fn to_wire(delta: &Delta, text: &str) -> WireDelta {
    WireDelta {
        run: delta.run_id.as_str().to_owned(),
        turn: delta.turn,
        index: delta.output_index,
        kind: match delta.kind {
            DeltaKind::Text => WireKind::Text,
            DeltaKind::Reasoning => WireKind::Reasoning,
            DeltaKind::ToolArguments => WireKind::ToolArguments,
            DeltaKind::ToolProgress => WireKind::ToolProgress,
            DeltaKind::ToolOutput => WireKind::ToolOutput,
            DeltaKind::Retry => WireKind::Retry,
        },
        text: text.to_owned(),
        call: delta.call_id.clone(),
    }
}

fn from_wire(wire: WireDelta) -> Option<Delta> {
    Some(Delta {
        run_id: RunId::new(wire.run).ok()?,
        turn: wire.turn,
        output_index: wire.index,
        kind: match wire.kind {
            WireKind::Text => DeltaKind::Text,
            WireKind::Reasoning => DeltaKind::Reasoning,
            WireKind::ToolArguments => DeltaKind::ToolArguments,
            WireKind::ToolProgress => DeltaKind::ToolProgress,
            WireKind::ToolOutput => DeltaKind::ToolOutput,
            WireKind::Retry => DeltaKind::Retry,
        },
        text: wire.text,
        call_id: wire.call,
    })
}

/// The encoded deltas of `delta`: one, or several when its text alone does not fit a
/// payload (split at character boundaries, in order).
fn encoded_pieces(header_bytes: usize, delta: &Delta) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut pending = vec![delta.text.as_str()];
    while let Some(text) = pending.pop() {
        let encoded = serde_json::to_string(&to_wire(delta, text)).unwrap_or_default();
        // The one bracket pair of the array.
        if header_bytes + encoded.len() + 2 <= NOTIFY_PAYLOAD_BYTES_MAX
            || text.chars().nth(1).is_none()
        {
            pieces.push(encoded);
            continue;
        }
        let mut middle = text.len() / 2;
        while !text.is_char_boundary(middle) {
            middle += 1;
        }
        // Stack order: the first half comes out first.
        pending.push(&text[middle..]);
        pending.push(&text[..middle]);
    }
    pieces
}

/// Packs one session's deltas into as few payloads as fit.
fn encode_session(universe_id: &str, session_id: &str, deltas: &[&Delta]) -> Vec<String> {
    let header = format!(
        "{{\"universe\":{},\"session\":{},\"deltas\":",
        serde_json::Value::from(universe_id),
        serde_json::Value::from(session_id)
    );
    let close = |body: &mut String| {
        body.push_str("]}");
        std::mem::take(body)
    };
    let mut payloads = Vec::new();
    let mut body = String::new();
    for delta in deltas {
        for piece in encoded_pieces(header.len(), delta) {
            if !body.is_empty() && body.len() + 1 + piece.len() + 2 > NOTIFY_PAYLOAD_BYTES_MAX {
                payloads.push(close(&mut body));
            }
            if body.is_empty() {
                body.push_str(&header);
                body.push('[');
            } else {
                body.push(',');
            }
            body.push_str(&piece);
        }
    }
    if !body.is_empty() {
        payloads.push(close(&mut body));
    }
    payloads
}

/// Payloads for `deltas` in order: consecutive deltas of one session share payloads.
fn encode(deltas: &[RelayedDelta]) -> Vec<String> {
    let mut payloads = Vec::new();
    let mut start = 0;
    while start < deltas.len() {
        let first = &deltas[start];
        let run = deltas[start..]
            .iter()
            .take_while(|next| {
                next.universe_id == first.universe_id && next.session_id == first.session_id
            })
            .map(|next| &next.delta)
            .collect::<Vec<_>>();
        start += run.len();
        payloads.extend(encode_session(&first.universe_id, &first.session_id, &run));
    }
    payloads
}

/// Decodes one payload; `None` for a payload this version cannot read (skipped).
fn decode(payload: &str) -> Option<(String, String, Vec<Delta>)> {
    let batch: WireBatch = serde_json::from_str(payload).ok()?;
    let deltas = batch.deltas.into_iter().filter_map(from_wire).collect();
    Some((batch.universe, batch.session, deltas))
}

/// Sends what a relayed hub publishes until every sender is gone.
pub fn spawn_publisher(
    db: PgDatabase,
    mut relayed: mpsc::Receiver<RelayedDelta>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut batch = Vec::with_capacity(DELTAS_PER_SEND_MAX);
        while relayed.recv_many(&mut batch, DELTAS_PER_SEND_MAX).await > 0 {
            let payloads = encode(&batch);
            batch.clear();
            if let Err(err) = db.notify(DELTA_CHANNEL, &payloads).await {
                tracing::warn!(error = %err, dropped_notifications = payloads.len(), "relaying deltas failed");
            }
        }
    })
}

/// Listens for deltas and delivers them to `hub`'s subscribers, reconnecting after
/// failures, until the task is aborted. Fails only if the first `LISTEN` does, so a
/// misconfigured database is reported at start.
pub async fn spawn_listener(
    db: &PgDatabase,
    hub: Arc<DeltaHub>,
) -> Result<JoinHandle<()>, PgStoreError> {
    let mut notifications = db.listen(DELTA_CHANNEL).await?;
    Ok(tokio::spawn(async move {
        loop {
            match notifications.next().await {
                Ok(payload) => match decode(&payload) {
                    Some((universe_id, session_id, deltas)) => {
                        for delta in deltas {
                            hub.deliver(&universe_id, &session_id, delta);
                        }
                    }
                    None => tracing::debug!("skipping an unreadable delta notification"),
                },
                Err(err) => {
                    // The listener reconnects on the next call; deltas sent in between
                    // are lost, which subscribers tolerate.
                    tracing::warn!(error = %err, "listening for deltas failed; retrying");
                    tokio::time::sleep(LISTEN_RETRY_PAUSE).await;
                }
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relayed(session: &str, text: &str) -> RelayedDelta {
        RelayedDelta {
            universe_id: "u1".into(),
            session_id: session.into(),
            delta: Delta {
                run_id: RunId::from_ordinal(3),
                turn: 2,
                output_index: 1,
                kind: DeltaKind::Reasoning,
                text: text.into(),
                call_id: None,
            },
        }
    }

    fn decoded(payloads: &[String]) -> Vec<(String, Delta)> {
        payloads
            .iter()
            .flat_map(|payload| {
                assert!(
                    payload.len() <= NOTIFY_PAYLOAD_BYTES_MAX,
                    "{}",
                    payload.len()
                );
                let (universe, session, deltas) = decode(payload).unwrap();
                assert_eq!(universe, "u1");
                deltas
                    .into_iter()
                    .map(move |delta| (session.clone(), delta))
            })
            .collect()
    }

    #[test]
    fn deltas_round_trip_in_order_grouped_by_session() {
        let deltas = vec![
            relayed("s1", "Hel"),
            relayed("s1", "lo \"quoted\"\n"),
            relayed("s2", "other"),
            relayed("s1", "again"),
        ];
        let payloads = encode(&deltas);
        assert_eq!(
            payloads.len(),
            3,
            "consecutive deltas of a session share a payload"
        );
        let back = decoded(&payloads);
        let expected: Vec<_> = deltas
            .into_iter()
            .map(|relayed| (relayed.session_id, relayed.delta))
            .collect();
        assert_eq!(back, expected);
    }

    #[test]
    fn many_deltas_fill_several_payloads_and_large_texts_are_split() {
        let mut deltas: Vec<_> = (0..500)
            .map(|n| relayed("s1", &format!("token {n} ")))
            .collect();
        // Escapes make the encoding far longer than the text.
        let large: String = "é\u{1}\"".repeat(4_000);
        deltas.push(relayed("s1", &large));
        let payloads = encode(&deltas);
        assert!(payloads.len() > 2);
        let back = decoded(&payloads);
        let small: Vec<_> = back[..500]
            .iter()
            .map(|(_, delta)| delta.text.clone())
            .collect();
        let expected: Vec<_> = (0..500).map(|n| format!("token {n} ")).collect();
        assert_eq!(small, expected);
        let rejoined: String = back[500..]
            .iter()
            .map(|(_, delta)| delta.text.as_str())
            .collect();
        assert_eq!(rejoined, large);
    }

    #[test]
    fn unreadable_payloads_are_skipped() {
        assert!(decode("not json").is_none());
        assert!(decode(r#"{"universe":"u","session":"s"}"#).is_none());
        let (_, _, deltas) = decode(
            r#"{"universe":"u","session":"s","deltas":[{"run":"","turn":1,"index":0,"kind":"text","text":"x"}]}"#,
        )
        .unwrap();
        assert!(deltas.is_empty(), "an invalid run id drops that delta");
    }
}
