//! `lightspeed env serve` end to end: the real binary (so the real Landlock
//! launcher, `env sandbox-exec`) against the stand-in gateway of
//! `envd::testing`, with each sandbox. When the kernel cannot enforce a sandbox,
//! the test checks the daemon refuses to start instead, and says so; under
//! `CI=true` a missing `bwrap` fails.

use std::collections::BTreeMap;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use api::env_protocol::{CallResult, Command, Op, ProcessOutcome};
use envd::testing::{Answer, GatewayConnection, TestGateway};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpListener;
use tokio::process::Child;

const TOKEN: &str = "env-token-must-never-show-7f3a";
const SECRET_VARIABLE: (&str, &str) = ("SOME_API_KEY", "sk-must-not-leak-91c2");
const WITHIN: Duration = Duration::from_secs(60);

struct Served {
    child: Child,
    stderr: Arc<Mutex<String>>,
    /// Kept listening: the daemon may dial again.
    _gateway: TestGateway,
    dir: tempfile::TempDir,
}

enum Started {
    Connected(Box<Served>, Box<GatewayConnection>),
    Refused { stderr: String, code: Option<i32> },
}

impl Served {
    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// SIGTERM, then the exit code.
    async fn terminate(mut self: Box<Self>) -> (Option<i32>, String) {
        let pid = self.child.id().unwrap().to_string();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(status.success());
        let exit = tokio::time::timeout(WITHIN, self.child.wait())
            .await
            .expect("the daemon stops on SIGTERM")
            .unwrap();
        // Let the stderr reader see the last line.
        tokio::time::sleep(Duration::from_millis(100)).await;
        (exit.code(), self.stderr())
    }
}

/// Starts `lightspeed env serve --sandbox SANDBOX EXTRA...` on a fresh directory.
async fn serve(sandbox: &str, extra: &[&str], path_env: Option<&str>) -> Started {
    let gateway = TestGateway::bind(TOKEN).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_lightspeed"));
    command
        .args([
            "env",
            "serve",
            "--name",
            "test-env",
            "--sandbox",
            sandbox,
            "--dir",
        ])
        .arg(dir.path())
        .args(["--api-url", &gateway.url().unwrap()])
        .args(extra)
        .env_remove("LIGHTSPEED_API_URL")
        .env_remove("LIGHTSPEED_API_KEY")
        .env("LIGHTSPEED_ENV_TOKEN", TOKEN)
        .env(SECRET_VARIABLE.0, SECRET_VARIABLE.1)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(path) = path_env {
        command.env("PATH", path);
    }
    let mut child = command.spawn().unwrap();
    let stderr = Arc::new(Mutex::new(String::new()));
    let lines = Arc::clone(&stderr);
    let pipe = child.stderr.take().unwrap();
    tokio::spawn(async move {
        let mut reader = BufReader::new(pipe).lines();
        while let Ok(Some(line)) = reader.next_line().await {
            let mut text = lines.lock().unwrap();
            text.push_str(&line);
            text.push('\n');
        }
    });
    tokio::select! {
        connection = gateway.accept(WITHIN) => {
            let served = Served { child, stderr, _gateway: gateway, dir };
            Started::Connected(Box::new(served), Box::new(connection.unwrap()))
        }
        status = child.wait() => {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let stderr = stderr.lock().unwrap().clone();
            Started::Refused { stderr, code: status.unwrap().code() }
        }
    }
}

fn shell(script: &str) -> Op {
    Op::Exec {
        command: Command::Argv(vec!["bash".into(), "-c".into(), script.into()]),
        workdir: None,
        env: BTreeMap::new(),
        stdin: None,
        timeout_ms: 30_000,
        yield_ms: None,
    }
}

fn outcome(answer: &Answer) -> ProcessOutcome {
    match &answer.result {
        CallResult::Process(outcome) => outcome.clone(),
        other => panic!("not a process result: {other:?}"),
    }
}

/// A secret outside the directory and outside the sandbox's temp, as `~/.ssh`.
struct FakeHome {
    _dir: tempfile::TempDir,
    root: std::path::PathBuf,
    key: std::path::PathBuf,
}

const KEY_MATERIAL: &str = "PRIVATE-KEY-MATERIAL-3b9e";

fn fake_home() -> FakeHome {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    std::fs::create_dir_all(root.join("home/.ssh")).unwrap();
    let key = root.join("home/.ssh/id_ed25519");
    std::fs::write(&key, KEY_MATERIAL).unwrap();
    FakeHome {
        _dir: dir,
        root,
        key,
    }
}

/// Whether anything connects to `listener` within a moment.
async fn connected(listener: &TcpListener) -> bool {
    tokio::time::timeout(Duration::from_millis(500), listener.accept())
        .await
        .is_ok()
}

/// Everything a sandbox must refuse, and what it must still allow.
async fn check_confinement(sandbox: &str) {
    let home = fake_home();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (served, mut gateway) = match serve(sandbox, &["--no-network"], None).await {
        Started::Connected(served, gateway) => (served, gateway),
        Started::Refused { stderr, code } => {
            refused_instead(sandbox, &stderr, code);
            return;
        }
    };
    assert_eq!(gateway.hello.host.sandbox.kind, sandbox);
    assert!(!gateway.hello.host.sandbox.network);
    symlink(&home.key, served.dir.path().join("key-link")).unwrap();

    // Allowed: the directory, the private temp, the system.
    let allowed = gateway
        .call(
            "allowed",
            shell(
                "echo in > inside.txt && cat inside.txt && echo t > \"$TMPDIR/t\" \
                 && cat \"$TMPDIR/t\" && head -c 5 /etc/passwd && echo && ls /usr > /dev/null",
            ),
            WITHIN,
        )
        .await
        .unwrap();
    assert_eq!(outcome(&allowed).exit_code, Some(0), "{}", allowed.output);
    assert_eq!(allowed.output, "in\nt\nroot:\n");

    // Refused: writing outside the directory.
    let written = home.root.join("written.txt");
    let answer = gateway
        .call(
            "write-out",
            shell(&format!("echo pwned > {}", written.display())),
            WITHIN,
        )
        .await
        .unwrap();
    assert_ne!(outcome(&answer).exit_code, Some(0), "{}", answer.output);
    assert!(!written.exists(), "{sandbox} let a command write outside");

    // Refused: reading `~/.ssh` outside the directory, directly or through a
    // symlink inside it.
    for (id, script) in [
        ("read-key", format!("cat {}", home.key.display())),
        ("read-link", "cat key-link".to_owned()),
        (
            "list-home",
            format!("ls -a {}/home/.ssh", home.root.display()),
        ),
    ] {
        let answer = gateway.call(id, shell(&script), WITHIN).await.unwrap();
        assert_ne!(
            outcome(&answer).exit_code,
            Some(0),
            "{id}: {}",
            answer.output
        );
        assert!(
            !answer.output.contains(KEY_MATERIAL),
            "{id}: {}",
            answer.output
        );
        assert!(
            !answer.output.contains("id_ed25519\n"),
            "{id}: {}",
            answer.output
        );
    }

    // Refused: the network.
    let answer = gateway
        .call(
            "net",
            shell(&format!(
                "exec 3<>/dev/tcp/127.0.0.1/{port} && echo connected"
            )),
            WITHIN,
        )
        .await
        .unwrap();
    assert_ne!(outcome(&answer).exit_code, Some(0), "{}", answer.output);
    assert!(
        !connected(&listener).await,
        "{sandbox} let a command connect"
    );

    // No secrets in the environment, nor through the daemon's (the command's
    // parent's) `/proc/PID/environ`, even as root.
    let answer = gateway.call("env", shell("env"), WITHIN).await.unwrap();
    assert!(answer.output.contains("TMPDIR="), "{}", answer.output);
    assert!(!answer.output.contains(TOKEN));
    assert!(!answer.output.contains("LIGHTSPEED_ENV_TOKEN"));
    assert!(!answer.output.contains(SECRET_VARIABLE.1));
    let answer = gateway
        .call(
            "daemon-env",
            shell("tr '\\0' '\\n' < /proc/$PPID/environ; grep CapEff /proc/self/status"),
            WITHIN,
        )
        .await
        .unwrap();
    assert!(!answer.output.contains(TOKEN), "{}", answer.output);
    assert!(
        answer.output.contains("CapEff:\t0000000000000000"),
        "{}",
        answer.output
    );

    // The daemon cannot be signalled from inside: Landlock's signal scoping
    // (Linux 6.12+); under bwrap it is outside the pid namespace.
    if sandbox == "landlock" && kernel_at_least(6, 12) {
        let answer = gateway
            .call("signal", shell("kill -0 $PPID && echo signalled"), WITHIN)
            .await
            .unwrap();
        assert_ne!(outcome(&answer).exit_code, Some(0), "{}", answer.output);
    }

    let (code, stderr) = served.terminate().await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains(TOKEN), "{stderr}");
    println!("{sandbox}: enforced (writes, ~/.ssh reads, symlinks out and the network refused)");

    // The same command connects when the network is allowed: the refusal above
    // was the sandbox's.
    let Started::Connected(served, mut gateway) = serve(sandbox, &[], None).await else {
        panic!("{sandbox} started once, then refused");
    };
    assert!(gateway.hello.host.sandbox.network);
    let answer = gateway
        .call(
            "net",
            shell(&format!(
                "exec 3<>/dev/tcp/127.0.0.1/{port} && echo connected"
            )),
            WITHIN,
        )
        .await
        .unwrap();
    assert_eq!(answer.output, "connected\n");
    assert!(connected(&listener).await);
    served.terminate().await;
}

/// The kernel (or machine) cannot enforce `sandbox`: the daemon must have
/// refused to start, saying why.
fn refused_instead(sandbox: &str, stderr: &str, code: Option<i32>) {
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("the {sandbox} sandbox cannot be enforced here")),
        "{stderr}"
    );
    assert!(!stderr.contains(TOKEN), "{stderr}");
    println!(
        "NOTE: the {sandbox} sandbox cannot be enforced on this machine; checked that the \
         daemon refuses to start instead: {}",
        stderr.trim()
    );
}

/// Whether the running kernel is at least `major.minor`.
fn kernel_at_least(major: u32, minor: u32) -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut parts = release
        .trim()
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|part| part.parse::<u32>().ok());
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0)) >= (major, minor)
}

fn bwrap_installed() -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join("bwrap").is_file()))
}

#[tokio::test]
async fn landlock_confines_commands() {
    check_confinement("landlock").await;
}

#[tokio::test]
async fn bwrap_confines_commands() {
    if !bwrap_installed() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "bwrap is not installed (apt-get install bubblewrap): under CI this fails"
        );
        println!("NOTE: bwrap is not installed: checking the refusal only");
    }
    check_confinement("bwrap").await;
}

#[tokio::test]
async fn a_sandbox_that_cannot_be_enforced_refuses_to_start() {
    // No bwrap on PATH.
    match serve("bwrap", &[], Some("/nonexistent")).await {
        Started::Refused { stderr, code } => {
            assert_eq!(code, Some(2), "{stderr}");
            assert!(
                stderr.contains("the bwrap sandbox cannot be enforced here"),
                "{stderr}"
            );
            assert!(stderr.contains("not on PATH"), "{stderr}");
        }
        Started::Connected(..) => panic!("started without bwrap"),
    }
}

#[tokio::test]
async fn sigterm_kills_every_process_group_and_exits_cleanly() {
    let Started::Connected(served, mut gateway) = serve("none", &[], None).await else {
        panic!("refused");
    };
    let op = Op::Exec {
        command: Command::Shell("sleep 100 & echo $!; sleep 100".into()),
        workdir: None,
        env: BTreeMap::new(),
        stdin: None,
        timeout_ms: 600_000,
        yield_ms: Some(300),
    };
    let answer = gateway.call("bg", op, WITHIN).await.unwrap();
    assert!(outcome(&answer).running);
    let grandchild: u32 = answer.output.trim().parse().unwrap();
    let (code, stderr) = served.terminate().await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("lightspeed env: connected to ws://"),
        "{stderr}"
    );
    assert!(stderr.contains("lightspeed env: stopped"), "{stderr}");
    assert!(!stderr.contains(TOKEN), "{stderr}");
    let proc = format!("/proc/{grandchild}/stat");
    let gone = |stat: &str| {
        !Path::new(stat).exists() || std::fs::read_to_string(stat).is_ok_and(|s| s.contains(") Z"))
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !gone(&proc) && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        gone(&proc),
        "the background sleep {grandchild} outlived the daemon"
    );
}

#[tokio::test]
async fn help_never_shows_the_token() {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_lightspeed"))
        .args(["env", "serve", "--help"])
        .env("LIGHTSPEED_ENV_TOKEN", TOKEN)
        .output()
        .await
        .unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(help.contains("--sandbox"), "{help}");
    assert!(help.contains("LIGHTSPEED_ENV_TOKEN"), "{help}");
    assert!(!help.contains(TOKEN), "{help}");
}

/// The README's three commands through the binary against the in-process stack:
/// `env create --print-token`, `env serve` with that token, `chat --env` whose model
/// runs a command on the daemon; `env list`, `env attached` and `/env` show it.
#[tokio::test(flavor = "multi_thread")]
async fn lend_a_machine_in_three_commands() {
    let stack = super::stack::stack(serde_json::json!({"turns": [
        {"tool_calls": [{"name": "exec_command",
                         "arguments": {"cmd": "echo built > artifact.txt; echo tests passed"}}]},
        {"text": "The tests pass."}
    ]}))
    .await;
    let created = stack
        .lightspeed(&["env", "create", "laptop", "--print-token"])
        .await;
    assert_eq!(created.code, Some(0), "{created:?}");
    let token = created.stdout.trim().to_owned();
    assert!(token.starts_with("lsenv."), "{created:?}");

    let dir = tempfile::tempdir().unwrap();
    let mut env = stack.env();
    env.push(("LIGHTSPEED_ENV_TOKEN", token.clone()));
    let mut daemon = tokio::process::Command::new(env!("CARGO_BIN_EXE_lightspeed"))
        .args([
            "env",
            "serve",
            "--name",
            "laptop",
            "--sandbox",
            "landlock",
            "--dir",
        ])
        .arg(dir.path())
        .envs(env)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let listed = stack.lightspeed(&["env", "list"]).await;
        if listed.stdout.contains("laptop  online") {
            assert!(listed.stdout.contains("sandbox=landlock"), "{listed:?}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{listed:?}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    let chat = stack
        .lightspeed(&["chat", "--new", "--env", "laptop", "run the tests"])
        .await;
    assert_eq!(chat.code, Some(0), "{chat:?}");
    assert!(chat.stdout.contains("The tests pass."), "{chat:?}");
    assert!(
        chat.stderr.contains("environment laptop attached"),
        "{chat:?}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("artifact.txt")).unwrap(),
        "built\n"
    );
    let session = super::stack::connected_session(&chat.stdout);
    let attached = stack.lightspeed(&["env", "attached", &session]).await;
    assert!(
        attached
            .stdout
            .contains("laptop -> laptop (online) at /env/laptop, tools exec_command, write_stdin"),
        "{attached:?}"
    );
    // The token was printed once, by create, and never since.
    for run in [&chat, &attached] {
        assert!(!run.stdout.contains(&token) && !run.stderr.contains(&token));
    }
    daemon.kill().await.unwrap();
    let output = daemon.wait_with_output().await.unwrap();
    assert!(!String::from_utf8_lossy(&output.stderr).contains(&token));
}
