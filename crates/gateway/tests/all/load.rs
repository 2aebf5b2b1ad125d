//! A bounded loopback load test: while one universe floods the gateway (idle
//! sockets beyond its cap, a socket that never reads large answers, and heavy work:
//! HTTP batches of large `blob/put`s and WebSockets of near-limit `blob/put`s, whose
//! JSON parsing, base64 decoding and SHA-256 hashing run on the same two runtime
//! threads as everything else), another universe's `session/read` calls stay fast.
//! Bounded in count (300 sockets, 200 calls, 5 heavy clients) and time (everything
//! ends within 30 s).
//!
//! The backend is the gateway tests' mock: its `blob/put` decodes and hashes the
//! bytes in the calling task, as a real backend's store does, so it is the
//! CPU-heavy path at hand without a database or Temporal.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use jsonrpsee::core::ClientError;
use jsonrpsee::core::client::ClientT as _;
use serde_json::{Value, json};

use crate::mock::MISSING;
use crate::support::{Harness, params, start_with, test_config};
use crate::websocket::{flood_without_reading, put_blob};
use crate::wire::{masked_text_frame, read_text, upgrade};

const IDLE_SOCKETS: usize = 300;
const READS: usize = 200;
const READ_PAUSE: Duration = Duration::from_millis(10);
const P99_MAX: Duration = Duration::from_millis(200);
const TEST_MAX: Duration = Duration::from_secs(30);
/// Heavy HTTP clients of A, each posting batches back to back.
const HEAVY_HTTP_CLIENTS: usize = 3;
/// `blob/put` calls per batch: the default batch bound.
const BATCH_CALLS: usize = 16;
/// Bytes per `blob/put` of a batch: 16 of them, base64, stay under the 1 MiB body.
const BATCH_BLOB_BYTES: usize = 40 * 1024;
/// Heavy WebSocket clients of A, each sending a `blob/put` and reading its answer.
const HEAVY_WS_CLIENTS: usize = 2;
/// Bytes per WebSocket `blob/put`: base64 stays under the 1 MiB message bound.
const WS_BLOB_BYTES: usize = 700 * 1024;

/// Universe A's heavy work, until `stop`; counts the answers it got.
struct HeavyWork {
    stop: Arc<AtomicBool>,
    answers: Arc<AtomicU64>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

fn blob_put(id: usize, bytes: usize) -> Value {
    // Every call its own content, so no store can answer from what it holds.
    let data: Vec<u8> = (0..bytes).map(|at| (at * 31 + id) as u8).collect();
    let data = base64::engine::general_purpose::STANDARD.encode(data);
    json!({"jsonrpc": "2.0", "id": id, "method": "blob/put", "params": {"dataBase64": data}})
}

/// A WebSocket of A once a place is free again (closed idle sockets give theirs
/// back asynchronously).
async fn upgrade_when_free(harness: &Harness) -> tokio::net::TcpStream {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match upgrade(harness.gateway.local_addr(), &harness.key).await {
            (101, Some(socket)) => return socket,
            (429, _) => assert!(Instant::now() < deadline, "no place came back"),
            (status, _) => panic!("unexpected upgrade status {status}"),
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

impl HeavyWork {
    /// Starts A's heavy clients. Request bodies are built once here, so the clients
    /// cost the shared runtime little beyond sending and reading.
    async fn start(harness: &Harness) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let answers = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::new();
        let batch: Vec<Value> = (0..BATCH_CALLS)
            .map(|id| blob_put(id, BATCH_BLOB_BYTES))
            .collect();
        let batch = serde_json::to_vec(&batch).unwrap();
        for _ in 0..HEAVY_HTTP_CLIENTS {
            let (stop, answers, batch) = (stop.clone(), answers.clone(), batch.clone());
            let (url, key) = (harness.rpc_url(), harness.key.clone());
            tasks.push(tokio::spawn(async move {
                let client = reqwest::Client::new();
                while !stop.load(Ordering::Acquire) {
                    let response = client
                        .post(&url)
                        .bearer_auth(&key)
                        .header("content-type", "application/json")
                        .body(batch.clone())
                        .send()
                        .await
                        .unwrap();
                    // Places of closed idle sockets come back asynchronously.
                    if response.status() == 429 {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                    assert_eq!(response.status(), 200);
                    let answer: Vec<Value> = response.json().await.unwrap();
                    assert_eq!(answer.len(), BATCH_CALLS);
                    assert!(answer.iter().all(|one| one["result"].is_object()));
                    answers.fetch_add(1, Ordering::AcqRel);
                }
            }));
        }
        let frame = masked_text_frame(blob_put(1, WS_BLOB_BYTES).to_string().as_bytes());
        for _ in 0..HEAVY_WS_CLIENTS {
            let (stop, answers, frame) = (stop.clone(), answers.clone(), frame.clone());
            let mut socket = upgrade_when_free(harness).await;
            tasks.push(tokio::spawn(async move {
                use tokio::io::AsyncWriteExt as _;
                while !stop.load(Ordering::Acquire) {
                    socket.write_all(&frame).await.unwrap();
                    let answer = read_text(&mut socket, Duration::from_secs(10))
                        .await
                        .expect("an answer to blob/put");
                    assert!(answer.contains("\"blobRef\""), "{answer}");
                    answers.fetch_add(1, Ordering::AcqRel);
                }
            }));
        }
        Self {
            stop,
            answers,
            tasks,
        }
    }

    /// Waits until every heavy client got an answer: the load is on.
    async fn running(&self) {
        let clients = (HEAVY_HTTP_CLIENTS + HEAVY_WS_CLIENTS) as u64;
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.answers.load(Ordering::Acquire) < clients {
            assert!(
                Instant::now() < deadline,
                "the heavy clients got no answers"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Stops the clients (each finishes its request); returns the answers they got.
    async fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Release);
        for task in self.tasks {
            task.await.unwrap();
        }
        self.answers.load(Ordering::Acquire)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_universe_stays_fast_while_one_floods() {
    tokio::time::timeout(TEST_MAX, flood_and_measure())
        .await
        .expect("the load test ends within its time bound");
}

async fn flood_and_measure() {
    // Default limits except a shorter reply wait, so the slow reader is found well
    // inside the test's time bound.
    let config = gateway::GatewayConfig {
        ws_reply_wait_ms: 2_000,
        ..test_config()
    };
    let universe_max = config.universe_connections_max as usize;
    let harness = start_with(config).await;
    let addr = harness.gateway.local_addr();

    // Universe A: a socket that sends `blob/get` of 256 KiB and never reads.
    let blob_ref = put_blob(&harness, &vec![3_u8; 256 * 1024]).await;
    let (status, flooder) = upgrade(addr, &harness.key).await;
    assert_eq!(status, 101);
    let mut flooder = flooder.unwrap();
    let flood = tokio::spawn(async move {
        flood_without_reading(&mut flooder, &blob_ref, 3_000, Duration::from_secs(20)).await
    });

    // Universe A: idle sockets, beyond its cap.
    let mut idle = Vec::new();
    let mut refused = 0;
    for _ in 0..IDLE_SOCKETS {
        match upgrade(addr, &harness.key).await {
            (101, socket) => idle.push(socket),
            (429, _) => refused += 1,
            (status, _) => panic!("unexpected upgrade status {status}"),
        }
    }
    assert!(idle.len() < universe_max, "A held {} places", idle.len());
    assert_eq!(idle.len() + refused, IDLE_SOCKETS);

    // Universe A: heavy work on the remaining places, kept up while B measures.
    // The idle sockets above hold all but a few of A's places: free some for it.
    idle.truncate(universe_max - HEAVY_HTTP_CLIENTS - HEAVY_WS_CLIENTS - 4);
    let heavy = HeavyWork::start(&harness).await;
    heavy.running().await;
    let heavy_before = heavy.answers.load(Ordering::Acquire);

    // Universe B: sequential reads over its own WebSocket, timed.
    let other = harness.ws(Some(&harness.other_key)).await;
    let mut latencies = Vec::with_capacity(READS);
    for _ in 0..READS {
        let started = Instant::now();
        let result = other
            .request::<Value, _>("session/read", params(json!({"sessionId": MISSING})))
            .await;
        latencies.push(started.elapsed());
        match result {
            Err(ClientError::Call(err)) => assert_eq!(err.code(), -32004),
            other => panic!("expected sessionNotFound, got {other:?}"),
        }
        // A client's pace, so the measurement spans seconds of A's heavy work.
        tokio::time::sleep(READ_PAUSE).await;
    }
    let heavy_during = heavy.answers.load(Ordering::Acquire) - heavy_before;
    let heavy_total = heavy.stop().await;
    latencies.sort();
    let p99 = latencies[READS * 99 / 100 - 1];
    assert!(
        p99 < P99_MAX,
        "universe B's p99 was {p99:?} ({heavy_during} heavy answers meanwhile)"
    );
    // The heavy work went on all along, not just at the start.
    assert!(
        heavy_during >= (HEAVY_HTTP_CLIENTS + HEAVY_WS_CLIENTS) as u64,
        "only {heavy_during} heavy answers while B measured"
    );

    // The flooder was closed (its answers freed), the gateway is healthy, and B
    // still gets in over HTTP.
    let (sent, closed) = flood.await.unwrap();
    assert!(
        closed,
        "the unread socket was never closed ({sent} calls sent)"
    );
    eprintln!(
        "load: universe B p99 {p99:?} (max {:?}); A held {} idle sockets, {refused} refused; \
         the unread socket was closed after {sent} calls; {heavy_total} heavy answers \
         ({heavy_during} while B measured)",
        latencies[READS - 1],
        idle.len()
    );
    let health = reqwest::get(format!("{}/health", harness.base_url()))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let _: Value = harness
        .http(Some(&harness.other_key))
        .request("initialize", params(json!({})))
        .await
        .unwrap();
    drop(idle);
    harness.gateway.shutdown().await;
}
