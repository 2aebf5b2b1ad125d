//! Starting a daemon on a temp directory against a fresh stand-in gateway.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use env_protocol::{CallResult, Command, Op, ProcessOutcome};
use envd::testing::{GatewayConnection, TestGateway};
use envd::{Event, Limits, Sandbox, SandboxKind, ServeConfig, Server};
use tokio::sync::oneshot;

pub(crate) const TOKEN: &str = "test-token-0123456789";

/// Generous: the machine may be busy building.
pub(crate) const WITHIN: Duration = Duration::from_secs(30);

pub(crate) struct Running {
    pub(crate) gateway: TestGateway,
    pub(crate) dir: tempfile::TempDir,
    pub(crate) events: Arc<Mutex<Vec<Event>>>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Running {
    pub(crate) fn path(&self, rel: &str) -> std::path::PathBuf {
        self.dir.path().join(rel)
    }

    pub(crate) fn events(&self) -> Vec<Event> {
        self.events.lock().unwrap().clone()
    }

    /// Stops the daemon (as SIGTERM would) and waits for it.
    pub(crate) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
    }
}

pub(crate) async fn start() -> anyhow::Result<(Running, GatewayConnection)> {
    start_with(TOKEN, Limits::default(), 30_000).await
}

/// A daemon with `limits`, dialling with `token`, the gateway announcing
/// `ping_interval_ms`; returns the first connection unless the token is wrong.
pub(crate) async fn start_with(
    token: &str,
    limits: Limits,
    ping_interval_ms: u64,
) -> anyhow::Result<(Running, GatewayConnection)> {
    let (running, connection) = spawn(token, limits, ping_interval_ms).await?;
    Ok((running, connection.expect("connected")))
}

pub(crate) async fn spawn(
    token: &str,
    limits: Limits,
    ping_interval_ms: u64,
) -> anyhow::Result<(Running, Option<GatewayConnection>)> {
    let gateway = TestGateway::bind(TOKEN)
        .await?
        .with_ping_interval_ms(ping_interval_ms);
    let dir = tempfile::tempdir()?;
    let config = ServeConfig {
        name: "test-env".into(),
        dir: dir.path().to_owned(),
        gateway_url: gateway.url()?,
        token: token.to_owned().into(),
        sandbox: Sandbox {
            kind: SandboxKind::None,
            network: true,
            allow_read: Vec::new(),
        },
        limits,
    };
    let server = Server::start(config).await?;
    let events = Arc::new(Mutex::new(Vec::new()));
    let (stop, stopped) = oneshot::channel::<()>();
    let sink = Arc::clone(&events);
    let task = tokio::spawn(server.run(
        move |event| sink.lock().unwrap().push(event),
        async move {
            let _ = stopped.await;
        },
    ));
    let connection = if token == TOKEN {
        Some(gateway.accept(WITHIN).await?)
    } else {
        None
    };
    Ok((
        Running {
            gateway,
            dir,
            events,
            stop: Some(stop),
            task: Some(task),
        },
        connection,
    ))
}

pub(crate) fn shell(script: &str) -> Op {
    Op::Exec {
        command: Command::Shell(script.into()),
        workdir: None,
        env: BTreeMap::new(),
        stdin: None,
        timeout_ms: 30_000,
        yield_ms: None,
    }
}

pub(crate) fn shell_yield(script: &str, yield_ms: u64) -> Op {
    Op::Exec {
        command: Command::Shell(script.into()),
        workdir: None,
        env: BTreeMap::new(),
        stdin: None,
        timeout_ms: 30_000,
        yield_ms: Some(yield_ms),
    }
}

pub(crate) fn outcome(result: &CallResult) -> ProcessOutcome {
    match result {
        CallResult::Process(outcome) => outcome.clone(),
        other => panic!("not a process result: {other:?}"),
    }
}
