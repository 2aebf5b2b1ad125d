//! Private instances of the services the fault tests stop and restart: a Postgres
//! cluster, an S3-compatible server (s3s-fs) and a Temporal dev server with a
//! persisted database, each in its own temporary directory on free ports. The shared
//! local stack keeps serving every other test meanwhile; nothing here touches it.
//!
//! Binaries are the ones `local/up.sh` uses: Debian's Postgres (found like
//! `local/lib.sh`'s `ls_pg_bin_dir`; as root the cluster runs as `local/up.sh`'s
//! system user, since Postgres refuses to run as root), s3s-fs and `temporal` from
//! `$PATH` or the `local/` cache. A missing one skips the test with a note, and fails
//! it under `CI=true`.

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use temporal_server::devserver::{self, DevServer, DevServerConfig};
use tokio::process::{Child, Command};

/// Postgres refuses to run as root; root runs it as this user (`local/lib.sh`).
const PG_OS_USER: &str = "lightspeed-pg";
const PG_USER: &str = "lightspeed";
/// How long a service has to come up.
const START_WAIT: Duration = Duration::from_secs(60);

/// `None` (skip, with a note) when something a test needs is missing, unless
/// `CI=true`, where that is a failure.
pub(crate) fn missing<T>(what: &str) -> Option<T> {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true but {what}"
    );
    eprintln!("SKIPPED: {what} (set CI=true to make this a failure)");
    None
}

/// `$PATH`'s `name`, else `$LIGHTSPEED_CACHE_DIR/bin/name` (default
/// `~/.cache/lightspeed/bin`), where `local/up.sh` installs it.
fn find_binary(name: &str) -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    });
    on_path.or_else(|| {
        let cache = match std::env::var_os("LIGHTSPEED_CACHE_DIR") {
            Some(cache) => PathBuf::from(cache),
            None => PathBuf::from(std::env::var_os("HOME")?).join(".cache/lightspeed"),
        };
        let cached = cache.join("bin").join(name);
        cached.is_file().then_some(cached)
    })
}

/// The directory holding `initdb` and `pg_ctl`: next to `pg_ctl` on `$PATH` (links
/// resolved), else the newest `/usr/lib/postgresql/<version>/bin`.
fn pg_bin_dir() -> Option<PathBuf> {
    if let Some(dir) = find_binary("pg_ctl")
        .and_then(|pg_ctl| std::fs::canonicalize(pg_ctl).ok())
        .and_then(|pg_ctl| pg_ctl.parent().map(Path::to_path_buf))
        .filter(|dir| dir.join("initdb").is_file())
    {
        return Some(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            (bin.join("pg_ctl").is_file() && bin.join("initdb").is_file()).then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn running_as_root() -> bool {
    // /proc/self belongs to the process's effective user.
    std::fs::metadata("/proc/self").is_ok_and(|meta| meta.uid() == 0)
}

/// Runs `command`, panicking with its output if it fails.
async fn run(command: &mut Command, what: &str) {
    let output = command
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap_or_else(|err| panic!("{what}: {err}"));
    assert!(
        output.status.success(),
        "{what}: {}\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Polls until something accepts TCP connections on 127.0.0.1:`port`.
async fn wait_port_open(port: u16, what: &str) {
    let deadline = tokio::time::Instant::now() + START_WAIT;
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} never listened on {port}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A Postgres cluster of its own (trust authentication, loopback only), stopped on
/// drop.
pub(crate) struct PrivatePostgres {
    bin: PathBuf,
    data: PathBuf,
    log: PathBuf,
    port: u16,
    /// The OS user the cluster runs as, when this process is root.
    os_user: Option<&'static str>,
    _dir: tempfile::TempDir,
}

impl PrivatePostgres {
    /// Creates and starts the cluster; `None` when Postgres is not installed (or, as
    /// root, `local/up.sh` never created its system user).
    pub(crate) async fn start() -> Option<Self> {
        let Some(bin) = pg_bin_dir() else {
            return missing("Postgres (initdb, pg_ctl) is not installed");
        };
        let os_user = running_as_root().then_some(PG_OS_USER);
        let dir = tempfile::Builder::new()
            .prefix("lightspeed-faults-pg-")
            .tempdir()
            .unwrap();
        if let Some(user) = os_user {
            let mut chown = Command::new("chown");
            chown.arg(user).arg(dir.path());
            let output = chown.output().await.unwrap();
            if !output.status.success() {
                return missing(&format!(
                    "running Postgres as root needs the system user {user} (local/up.sh creates it)"
                ));
            }
        }
        let data = dir.path().join("data");
        let cluster = Self {
            log: dir.path().join("postgres.log"),
            port: devserver::free_port().unwrap(),
            bin,
            data,
            os_user,
            _dir: dir,
        };
        // No fsync: the tests stop Postgres, never the machine, so nothing written
        // is lost; `synchronous_commit` stays on, so a confirmed commit survives an
        // immediate shutdown.
        run(
            cluster
                .pg_command("initdb")
                .arg("-D")
                .arg(&cluster.data)
                .args(["-U", PG_USER, "--auth=trust", "-E", "UTF8", "--no-locale"])
                .arg("--no-sync"),
            "initdb",
        )
        .await;
        let conf = format!(
            "\n# lightspeed fault tests\nlisten_addresses = '127.0.0.1'\nport = {}\n\
             unix_socket_directories = ''\nfsync = off\nmax_connections = 100\n",
            cluster.port
        );
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(cluster.data.join("postgresql.conf"))
            .unwrap();
        std::io::Write::write_all(&mut file, conf.as_bytes()).unwrap();
        cluster.start_again().await;
        Some(cluster)
    }

    /// `postgres://lightspeed@127.0.0.1:PORT/postgres`.
    pub(crate) fn url(&self) -> String {
        format!("postgres://{PG_USER}@127.0.0.1:{}/postgres", self.port)
    }

    fn pg_command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        let mut command = match self.os_user {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.args(["-u", user, "--"]).arg(program);
                command
            }
            None => Command::new(program),
        };
        command.kill_on_drop(true);
        command
    }

    /// Starts the stopped cluster and waits until it accepts connections.
    pub(crate) async fn start_again(&self) {
        run(
            self.pg_command("pg_ctl")
                .args(["start", "-w", "-t", "60", "-D"])
                .arg(&self.data)
                .arg("-l")
                .arg(&self.log),
            "pg_ctl start",
        )
        .await;
        wait_port_open(self.port, "Postgres").await;
    }

    /// Immediate shutdown: every backend is killed at once, open connections break
    /// mid-query, and the next start recovers from the WAL (what a crash does).
    pub(crate) async fn stop_immediate(&self) {
        run(
            self.pg_command("pg_ctl")
                .args(["stop", "-w", "-m", "immediate", "-D"])
                .arg(&self.data),
            "pg_ctl stop",
        )
        .await;
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        // pg_ctl daemonises the server: stop it, or it outlives the test.
        let program = self.bin.join("pg_ctl");
        let mut command = match self.os_user {
            Some(user) => {
                let mut command = std::process::Command::new("runuser");
                command.args(["-u", user, "--"]).arg(program);
                command
            }
            None => std::process::Command::new(program),
        };
        let _ = command
            .args(["stop", "-m", "immediate", "-D"])
            .arg(&self.data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// An s3s-fs server of its own over a temporary directory, bucket `faults`.
pub(crate) struct PrivateS3 {
    binary: PathBuf,
    port: u16,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

const S3_BUCKET: &str = "faults";
const S3_ACCESS_KEY: &str = "faults-access";
const S3_SECRET_KEY: &str = "faults-secret-key";

impl PrivateS3 {
    /// `None` when there is no s3s-fs binary (`local/up.sh` installs it).
    pub(crate) async fn start() -> Option<Self> {
        let Some(binary) = find_binary("s3s-fs") else {
            return missing("no s3s-fs binary on PATH or in the local/ cache (local/up.sh)");
        };
        let dir = tempfile::Builder::new()
            .prefix("lightspeed-faults-s3-")
            .tempdir()
            .unwrap();
        // s3s-fs maps each bucket to a directory under its root.
        std::fs::create_dir(dir.path().join(S3_BUCKET)).unwrap();
        let mut server = Self {
            binary,
            port: devserver::free_port().unwrap(),
            child: None,
            dir,
        };
        server.start_again().await;
        Some(server)
    }

    /// The `LIGHTSPEED_OBJECT_STORE_*` variables of a server using this one.
    pub(crate) fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "LIGHTSPEED_OBJECT_STORE_ENDPOINT",
                format!("http://127.0.0.1:{}", self.port),
            ),
            ("LIGHTSPEED_OBJECT_STORE_BUCKET", S3_BUCKET.into()),
            ("LIGHTSPEED_OBJECT_STORE_ACCESS_KEY", S3_ACCESS_KEY.into()),
            ("LIGHTSPEED_OBJECT_STORE_SECRET_KEY", S3_SECRET_KEY.into()),
            ("LIGHTSPEED_OBJECT_STORE_REGION", "us-east-1".into()),
        ]
    }

    /// The same as a store-pg configuration.
    pub(crate) fn config(&self) -> store_pg::ObjectStoreConfig {
        let mut config = store_pg::ObjectStoreConfig::new(S3_BUCKET, "us-east-1");
        config.endpoint_url = Some(format!("http://127.0.0.1:{}", self.port));
        config.access_key_id = Some(S3_ACCESS_KEY.into());
        config.secret_access_key = Some(S3_SECRET_KEY.into());
        config
    }

    /// Starts the server (again, on the same port and directory) and waits until it
    /// listens.
    pub(crate) async fn start_again(&mut self) {
        assert!(self.child.is_none(), "s3s-fs is already running");
        let child = Command::new(&self.binary)
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--access-key", S3_ACCESS_KEY, "--secret-key", S3_SECRET_KEY])
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        self.child = Some(child);
        wait_port_open(self.port, "s3s-fs").await;
    }

    /// Kills the server: requests in flight break, new ones are refused.
    pub(crate) async fn stop(&mut self) {
        let mut child = self.child.take().expect("s3s-fs is running");
        child.kill().await.unwrap();
    }
}

/// A Temporal dev server of its own whose state persists in a SQLite file, so it
/// can be stopped and started again on the same ports with the same workflows.
pub(crate) struct PrivateTemporal {
    config: DevServerConfig,
    server: Option<DevServer>,
    starts: u32,
    dir: tempfile::TempDir,
}

impl PrivateTemporal {
    /// `None` when there is no `temporal` binary.
    pub(crate) async fn start() -> Option<Self> {
        let Some(binary) = devserver::find_binary() else {
            return missing(&devserver::DevServerError::BinaryNotFound.to_string());
        };
        let dir = tempfile::Builder::new()
            .prefix("lightspeed-faults-temporal-")
            .tempdir()
            .unwrap();
        let [port, http_port, metrics_port] = devserver::free_ports().unwrap();
        let mut temporal = Self {
            config: DevServerConfig {
                binary,
                port,
                http_port,
                metrics_port,
                db_file: Some(dir.path().join("temporal.db")),
                log_file: None,
                ready_wait: START_WAIT,
            },
            server: None,
            starts: 0,
            dir,
        };
        temporal.start_again().await;
        Some(temporal)
    }

    /// `127.0.0.1:PORT`, the same across restarts.
    pub(crate) fn address(&self) -> String {
        format!("127.0.0.1:{}", self.config.port)
    }

    /// Starts the server on the same ports and database file.
    pub(crate) async fn start_again(&mut self) {
        assert!(self.server.is_none(), "Temporal is already running");
        self.starts += 1;
        let mut config = self.config.clone();
        // One log per start: the file is truncated when opened.
        config.log_file = Some(
            self.dir
                .path()
                .join(format!("temporal-{}.log", self.starts)),
        );
        let server = DevServer::start(config).await.unwrap();
        self.server = Some(server);
    }

    /// Kills the server (SIGKILL): what SQLite committed stays.
    pub(crate) async fn stop(&mut self) {
        self.server
            .take()
            .expect("Temporal is running")
            .shutdown()
            .await;
    }
}
