//! API conformance cases, environments: created with a token shown once, listed,
//! read, deleted, kept apart by universe; a daemon dialling `GET /env/connect` with
//! its token (refused without one, or with another environment's after deletion);
//! attached to a session, whose model's `exec_command` reaches the daemon and
//! whose result comes back bounded, the whole output in the CAS.
//!
//! The daemon here is a scripted peer over a real WebSocket speaking
//! `env_protocol`: this suite checks the gateway and service side of the protocol.
//! The real daemon, with real processes and sandboxes, is tested in `crates/envd`
//! and end to end through the binaries (`crates/cli/tests`, `temporal-server`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use env_protocol::{
    CallResult, Command, DaemonMessage, GatewayMessage, HostInfo, Op, PROTOCOL_VERSION,
    ProcessOutcome, SandboxInfo,
};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::client::{Ctx, Harness};
use super::fixtures::{finished_status, tool_results};
use super::{Case, case};

pub(super) const CASES: [Case; 2] = [
    case!(
        environments_are_created_listed_and_kept_apart,
        [
            "environments/create",
            "environments/read",
            "environments/list",
            "environments/delete",
            "session/start",
            "session/environments/attach",
            "run/start",
            "session/events/read"
        ]
    ),
    case!(
        attached_environments_run_the_models_commands,
        [
            "environments/create",
            "environments/read",
            "session/start",
            "session/environments/attach",
            "session/environments/list",
            "session/environments/detach",
            "session/read",
            "run/start",
            "session/events/read",
            "session/subscribe",
            "session/unsubscribe",
            "blob/get"
        ]
    ),
];

pub(super) async fn environments_are_created_listed_and_kept_apart(
    h: Harness,
) -> anyhow::Result<()> {
    let ctx = h
        .start(json!({"turns": [
            {"tool_calls": [{"name": "exec_command", "arguments": {"cmd": "make"}}]},
            {"text": "It went away."},
            {"tool_calls": [{"name": "exec_command", "arguments": {"cmd": "make"}}]},
            {"text": "Still gone."}
        ]}))
        .await?;
    let (a, b) = (ctx.a(), ctx.b());
    let created = a
        .call(
            "environments/create",
            json!({"name": "ci-box", "description": "the CI machine"}),
        )
        .await;
    let token = created["token"].as_str().unwrap();
    assert!(token.starts_with("lsenv."), "{token}");
    let environment = &created["environment"];
    assert_eq!(environment["name"], "ci-box");
    assert_eq!(environment["status"], "never");
    assert!(environment.get("host").is_none());
    assert_eq!(environment["id"].as_str().unwrap().len(), 32);
    // The token is shown once: reading never shows it.
    let read = a.call("environments/read", json!({"name": "ci-box"})).await;
    assert_eq!(&read, environment);
    assert!(!read.to_string().contains(token));

    a.refused(
        "environments/create",
        json!({"name": "ci-box"}),
        -32009,
        "environmentExists",
    )
    .await;
    for bad in ["", "CI", "a/b", "-x", &"x".repeat(33)] {
        a.refused(
            "environments/create",
            json!({"name": bad}),
            -32602,
            "invalidEnvironment",
        )
        .await;
    }
    a.call("environments/create", json!({"name": "another"}))
        .await;
    let listed = a.call("environments/list", json!({})).await;
    let names: Vec<&str> = listed["environments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|environment| environment["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["another", "ci-box"]);

    // Another universe sees none of it, and may use the same name.
    assert_eq!(
        b.call("environments/list", json!({})).await["environments"],
        json!([])
    );
    b.refused(
        "environments/read",
        json!({"name": "ci-box"}),
        -32004,
        "environmentNotFound",
    )
    .await;
    assert_eq!(
        b.call("environments/delete", json!({"name": "ci-box"}))
            .await["deleted"],
        false
    );
    b.call("environments/create", json!({"name": "ci-box"}))
        .await;

    assert_eq!(
        a.call("environments/delete", json!({"name": "ci-box"}))
            .await["deleted"],
        true
    );
    a.refused(
        "environments/read",
        json!({"name": "ci-box"}),
        -32004,
        "environmentNotFound",
    )
    .await;
    // A deleted environment's token no longer opens a socket.
    assert_eq!(connect(&ctx, Some(token)).await.err(), Some(401));

    // A call waiting for an environment that is deleted fails at once, and so does
    // any later call through the attachment that outlived it.
    a.call("environments/create", json!({"name": "ghost"}))
        .await;
    a.start_session("s-ghost").await;
    a.call(
        "session/environments/attach",
        json!({"sessionId": "s-ghost", "environment": "ghost"}),
    )
    .await;
    let run_id = a.start_run("s-ghost", "sub-1", "build it").await;
    let waiting = |event: &serde_json::Value| {
        event["kind"] == "lightspeed.core.turn.completed" && event["runId"] == run_id.as_str()
    };
    a.read_until("s-ghost", 0, waiting).await;
    a.call("environments/delete", json!({"name": "ghost"}))
        .await;
    let events = a.follow("s-ghost", &run_id).await;
    assert_eq!(finished_status(&events, &run_id), "completed");
    let results = tool_results(&events);
    assert!(results[0].2.contains("environmentNotFound"), "{results:?}");
    let again = a.start_run("s-ghost", "sub-2", "build it again").await;
    let events = a.follow("s-ghost", &again).await;
    let results = tool_results(&events);
    assert!(
        results.last().unwrap().2.contains("environmentNotFound"),
        "{results:?}"
    );
    Ok(())
}

pub(super) async fn attached_environments_run_the_models_commands(
    h: Harness,
) -> anyhow::Result<()> {
    let ctx = h
        .start(json!({"turns": [
            {"tool_calls": [
                {"name": "exec_command", "arguments": {"cmd": "make test", "timeout_ms": 60_000}}
            ]},
            {"text": "Done."}
        ]}))
        .await?;
    let (a, b) = (ctx.a(), ctx.b());
    let created = a
        .call("environments/create", json!({"name": "laptop"}))
        .await;
    let token = created["token"].as_str().unwrap().to_owned();

    // No token, a malformed one, or another environment's: 401 before upgrading.
    assert_eq!(connect(&ctx, None).await.err(), Some(401));
    assert_eq!(connect(&ctx, Some("lsenv.nope")).await.err(), Some(401));
    let mut forged = token.clone();
    forged.pop();
    forged.push(if token.ends_with('A') { 'B' } else { 'A' });
    assert_eq!(connect(&ctx, Some(&forged)).await.err(), Some(401));

    let mut daemon = connect(&ctx, Some(&token))
        .await
        .expect("the daemon connects");
    daemon.hello("laptop").await;
    let welcome = daemon.next().await;
    assert!(
        matches!(welcome, GatewayMessage::Welcome { ref environment_id, .. }
            if environment_id == created["environment"]["id"].as_str().unwrap()),
        "{welcome:?}"
    );
    let online = wait_online(&a, "laptop").await;
    assert_eq!(online["host"]["sandbox"], "landlock");
    assert_eq!(online["host"]["dir"], "/srv/work");

    // Another universe's environment of the same name, with a daemon of its own.
    let theirs = b
        .call("environments/create", json!({"name": "laptop"}))
        .await;
    let mut their_daemon = connect(&ctx, theirs["token"].as_str())
        .await
        .expect("their daemon connects");
    their_daemon.hello("laptop").await;
    assert!(matches!(
        their_daemon.next().await,
        GatewayMessage::Welcome { .. }
    ));

    a.start_session("env-session").await;
    // Another universe cannot attach ours, nor see it.
    b.start_session("env-session").await;
    // By name, each universe reaches its own environment only.
    let their_attachment = b
        .call(
            "session/environments/attach",
            json!({"sessionId": "env-session", "environment": "laptop"}),
        )
        .await;
    assert_eq!(
        their_attachment["environment"]["id"],
        theirs["environment"]["id"]
    );
    assert_ne!(
        their_attachment["environment"]["id"],
        created["environment"]["id"]
    );
    b.refused(
        "session/environments/attach",
        json!({"sessionId": "env-session", "environment": "nowhere"}),
        -32004,
        "environmentNotFound",
    )
    .await;
    let attached = a
        .call(
            "session/environments/attach",
            json!({"sessionId": "env-session", "environment": "laptop", "name": "box"}),
        )
        .await;
    assert_eq!(attached["name"], "box");
    assert_eq!(attached["path"], "/env/box");
    assert_eq!(attached["tools"], json!(["exec_command", "write_stdin"]));
    let listed = a
        .call(
            "session/environments/list",
            json!({"sessionId": "env-session"}),
        )
        .await;
    assert_eq!(listed["environments"][0]["name"], "box");
    assert_eq!(listed["environments"][0]["environment"]["status"], "online");
    assert_eq!(
        listed["environments"][0]["tools"],
        json!(["exec_command", "write_stdin"])
    );
    let view = a
        .call("session/read", json!({"sessionId": "env-session"}))
        .await;
    assert_eq!(view["status"], "idle");

    // Output streams to subscribers as the daemon sends it.
    let ws = ctx.ws_a().await;
    let mut subscription = ws
        .subscribe(json!({"sessionId": "env-session", "cursor": 0}))
        .await;
    let run_id = a.start_run("env-session", "sub-1", "Run the tests.").await;
    // The call reaches the daemon; it answers with 40 KB of output and a failure.
    let (call_id, op) = loop {
        match daemon.next().await {
            // The run's start reads the environment's AGENTS.md and skills: it has none.
            GatewayMessage::Call {
                call_id,
                op: Op::Read { .. },
            } => {
                let result = CallResult::Failed {
                    code: env_protocol::FailureCode::NotFound,
                    message: "no such file".into(),
                };
                daemon.send(DaemonMessage::Result { call_id, result }).await;
            }
            GatewayMessage::Call {
                call_id,
                op: Op::Glob { .. },
            } => {
                let result = CallResult::Globbed {
                    paths: Vec::new(),
                    truncated: false,
                };
                daemon.send(DaemonMessage::Result { call_id, result }).await;
            }
            GatewayMessage::Call { call_id, op } => break (call_id, op),
            GatewayMessage::Ping { nonce } => daemon.send(DaemonMessage::Pong { nonce }).await,
            other => panic!("unexpected {other:?}"),
        }
    };
    let Op::Exec {
        command,
        timeout_ms,
        yield_ms,
        ..
    } = op
    else {
        panic!("not an exec: {op:?}");
    };
    assert_eq!(command, Command::Shell("make test".into()));
    assert!(timeout_ms <= 60_000 && timeout_ms > 1_000, "{timeout_ms}");
    assert_eq!(yield_ms, None);
    let line = "test output line that repeats\n";
    let output: String = line.repeat(40_000 / line.len());
    let mut offset = 0u64;
    for chunk in output.as_bytes().chunks(16 * 1024) {
        let data = String::from_utf8(chunk.to_vec()).unwrap();
        daemon
            .send(DaemonMessage::Output {
                call_id: call_id.clone(),
                offset,
                data,
            })
            .await;
        offset += chunk.len() as u64;
    }
    daemon
        .send(DaemonMessage::Result {
            call_id: call_id.clone(),
            result: CallResult::Process(ProcessOutcome {
                process_id: 7,
                exit_code: Some(2),
                signal: None,
                running: false,
                timed_out: false,
                duration_ms: 1_234,
                output_end: offset,
                output_dropped: 0,
            }),
        })
        .await;

    let events = a.follow("env-session", &run_id).await;
    assert_eq!(finished_status(&events, &run_id), "completed");
    let seen = subscription.until_finished(&run_id).await;
    subscription.unsubscribe().await;
    let streamed: String = seen
        .iter()
        .filter(|notification| {
            notification["type"] == "delta" && notification["delta"]["kind"] == "toolOutput"
        })
        .map(|notification| {
            assert_eq!(notification["delta"]["runId"], run_id.as_str());
            assert!(
                notification["delta"]["callId"].is_string(),
                "{notification}"
            );
            notification["delta"]["text"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(
        streamed, output,
        "the toolOutput deltas add up to the output"
    );
    // The other universe's daemon never saw the call.
    let heard = tokio::time::timeout(Duration::from_millis(500), their_daemon.next()).await;
    assert!(
        !matches!(heard, Ok(GatewayMessage::Call { .. })),
        "{heard:?}"
    );
    let results = tool_results(&events);
    let (name, status, shown) = &results[0];
    assert_eq!((name.as_str(), status.as_str()), ("exec_command", "error"));
    let shown: Value = serde_json::from_str(shown).unwrap();
    assert_eq!(shown["exit_code"], 2);
    assert_eq!(shown["duration_ms"], 1_234);
    assert_eq!(shown["output_bytes"], output.len());
    let model_output = shown["output"].as_str().unwrap();
    assert!(
        model_output.len() < 17_000,
        "bounded: {}",
        model_output.len()
    );
    assert!(
        model_output.contains("bytes of output omitted"),
        "{model_output}"
    );
    // The whole output is in the CAS under the ref the result names.
    let whole_ref = shown["output_ref"].as_str().unwrap();
    let whole = a.call("blob/get", json!({"blobRef": whole_ref})).await;
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(whole["dataBase64"].as_str().unwrap())
        .unwrap();
    assert_eq!(bytes, output.as_bytes());

    let detached = a
        .call(
            "session/environments/detach",
            json!({"sessionId": "env-session", "name": "box"}),
        )
        .await;
    assert_eq!(detached["detached"], true);
    let listed = a
        .call(
            "session/environments/list",
            json!({"sessionId": "env-session"}),
        )
        .await;
    assert_eq!(listed["environments"], json!([]));
    a.refused(
        "session/environments/detach",
        json!({"sessionId": "env-session", "name": "Box!"}),
        -32602,
        "invalidEnvironment",
    )
    .await;
    let _ = a.call("environments/read", json!({"name": "laptop"})).await;
    Ok(())
}

/// Polls until the environment is online.
async fn wait_online(conn: &super::client::Conn, name: &str) -> Value {
    for _ in 0..100 {
        let read = conn.call("environments/read", json!({"name": name})).await;
        if read["status"] == "online" {
            return read;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{name} never came online");
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A scripted daemon's socket.
struct Daemon {
    socket: Socket,
}

/// Dials `GET /env/connect` with `token`; the HTTP status of a refused upgrade.
async fn connect(ctx: &Ctx, token: Option<&str>) -> Result<Daemon, u16> {
    let url = format!(
        "{}{}",
        ctx.stack().base_url.replacen("http", "ws", 1),
        env_protocol::CONNECT_PATH
    );
    let mut request = url.into_client_request().unwrap();
    if let Some(token) = token {
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(Daemon { socket }),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Err(response.status().as_u16())
        }
        Err(other) => panic!("connecting failed: {other}"),
    }
}

impl Daemon {
    async fn hello(&mut self, name: &str) {
        self.send(DaemonMessage::Hello {
            protocol: PROTOCOL_VERSION,
            name: name.to_owned(),
            host: HostInfo {
                os: "linux".into(),
                arch: "x86_64".into(),
                hostname: "test-host".into(),
                dir: "/srv/work".into(),
                sandbox: SandboxInfo {
                    kind: "landlock".into(),
                    network: false,
                },
                daemon_version: "test".into(),
            },
            known_calls: Vec::new(),
        })
        .await;
    }

    async fn send(&mut self, message: DaemonMessage) {
        let text = serde_json::to_string(&message).unwrap();
        self.socket.send(Message::Text(text.into())).await.unwrap();
    }

    async fn next(&mut self) -> GatewayMessage {
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(30), self.socket.next())
                .await
                .expect("the gateway said nothing for 30 s")
                .expect("the socket closed")
                .unwrap();
            if let Message::Text(text) = frame {
                return serde_json::from_str(&text).unwrap();
            }
        }
    }
}
