//! How commands are confined: wrapped by the sandbox (Landlock through the
//! launcher, bubblewrap, or nothing when `none` was asked for), given a private
//! temp directory, and an environment without the daemon's secrets.
//!
//! A sandbox is probed when the daemon starts, by running `true` inside it
//! exactly as commands will run: a sandbox that cannot be enforced (no
//! Landlock, an ABI too old, no `bwrap`, no namespaces) refuses the start with
//! the launcher's or bwrap's own reason.

mod bwrap;
#[cfg(target_os = "linux")]
mod landlock;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::Duration;

use env_protocol::SandboxInfo;

use crate::config::{Sandbox, SandboxKind};
use crate::error::ServeError;
use bwrap::BwrapView;

/// How long the startup probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(20);

/// Bytes of the probe's output quoted in a refusal.
const PROBE_OUTPUT_BYTES_MAX: usize = 2000;

/// Name fragments of environment variables commands never inherit.
const SECRET_NAME_PARTS: &[&str] = &["TOKEN", "KEY", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL"];

/// The daemon's own token variable (also caught by `TOKEN`; named to be sure).
pub const TOKEN_VARIABLE: &str = "LIGHTSPEED_ENV_TOKEN";

/// The hidden launcher subcommand's body: applies Landlock to this process and
/// executes the command after `--`. Call it before starting any thread (the
/// `lightspeed` binary does, before its async runtime).
pub fn exec_main(args: Vec<OsString>) -> ExitCode {
    #[cfg(target_os = "linux")]
    {
        landlock::exec_main(args)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = args;
        eprintln!("sandbox-exec: Landlock exists only on Linux");
        ExitCode::from(125)
    }
}

/// A prepared sandbox: every command of the daemon goes through it.
#[derive(Debug)]
pub(crate) struct Confinement {
    kind: Prepared,
    network: bool,
    /// The private temp directory (removed when the daemon stops).
    tmp: tempfile::TempDir,
    shell: PathBuf,
    /// The daemon's environment without secrets, plus the temp directory.
    base_env: BTreeMap<OsString, OsString>,
}

#[derive(Debug)]
enum Prepared {
    None,
    #[cfg(target_os = "linux")]
    Landlock {
        program: PathBuf,
        prefix: Vec<OsString>,
        dir: PathBuf,
        allow_read: Vec<PathBuf>,
    },
    Bwrap {
        program: PathBuf,
        view: BwrapView,
    },
}

impl Confinement {
    /// Prepares and probes the sandbox for commands confined to `dir`
    /// (canonical).
    pub(crate) async fn prepare(sandbox: &Sandbox, dir: &Path) -> Result<Self, ServeError> {
        let tmp = tempfile::Builder::new()
            .prefix("lightspeed-env-")
            .tempdir()
            .map_err(|err| {
                ServeError::Setup(format!("creating the private temp directory: {err}"))
            })?;
        let tmp_path = tmp
            .path()
            .canonicalize()
            .map_err(|err| ServeError::Setup(format!("temp directory: {err}")))?;
        let allow_read = sandbox
            .allow_read
            .iter()
            .map(|path| {
                path.canonicalize().map_err(|err| {
                    ServeError::Setup(format!("--allow-read {}: {err}", path.display()))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let kind = match &sandbox.kind {
            SandboxKind::None => Prepared::None,
            #[cfg(target_os = "linux")]
            SandboxKind::Landlock { launcher } => Prepared::Landlock {
                program: launcher.program.clone(),
                prefix: launcher.args.clone(),
                dir: dir.to_owned(),
                allow_read,
            },
            #[cfg(not(target_os = "linux"))]
            SandboxKind::Landlock { .. } => {
                return Err(ServeError::Sandbox {
                    kind: "landlock",
                    reason: "Landlock exists only on Linux".into(),
                });
            }
            SandboxKind::Bwrap => Prepared::Bwrap {
                program: bwrap::find_bwrap().ok_or_else(|| ServeError::Sandbox {
                    kind: "bwrap",
                    reason: "`bwrap` is not on PATH (install bubblewrap)".into(),
                })?,
                view: BwrapView {
                    dir: dir.to_owned(),
                    tmp: tmp_path.clone(),
                    network: sandbox.network,
                    allow_read,
                },
            },
        };
        let mut base_env: BTreeMap<OsString, OsString> = std::env::vars_os()
            .filter(|(name, _)| !is_secret_name(&name.to_string_lossy()))
            .collect();
        for name in ["TMPDIR", "TMP", "TEMP"] {
            base_env.insert(name.into(), tmp_path.clone().into());
        }
        let shell = ["/bin/bash", "/usr/bin/bash"]
            .into_iter()
            .map(PathBuf::from)
            .find(|path| path.is_file())
            .unwrap_or_else(|| PathBuf::from("/bin/sh"));
        let confinement = Self {
            kind,
            network: sandbox.network || matches!(sandbox.kind, SandboxKind::None),
            tmp,
            shell,
            base_env,
        };
        confinement.probe(dir).await?;
        Ok(confinement)
    }

    fn kind_name(&self) -> &'static str {
        match &self.kind {
            Prepared::None => "none",
            #[cfg(target_os = "linux")]
            Prepared::Landlock { .. } => "landlock",
            Prepared::Bwrap { .. } => "bwrap",
        }
    }

    /// What `Hello.host.sandbox` says.
    pub(crate) fn info(&self) -> SandboxInfo {
        SandboxInfo {
            kind: self.kind_name().into(),
            network: self.network,
        }
    }

    /// `argv` for a shell command line.
    pub(crate) fn shell_argv(&self, script: &str) -> Vec<OsString> {
        vec![self.shell.clone().into(), "-c".into(), script.into()]
    }

    /// The program and arguments that run `argv` in `cwd` inside the sandbox.
    pub(crate) fn wrap(&self, argv: Vec<OsString>, cwd: &Path) -> (OsString, Vec<OsString>) {
        match &self.kind {
            Prepared::None => {
                let mut argv = argv.into_iter();
                let program = argv.next().unwrap_or_default();
                (program, argv.collect())
            }
            #[cfg(target_os = "linux")]
            Prepared::Landlock {
                program,
                prefix,
                dir,
                allow_read,
            } => {
                let launch = landlock::LaunchArgs {
                    dir: dir.clone(),
                    tmp: self.tmp.path().to_owned(),
                    network: self.network,
                    allow_read: allow_read.clone(),
                    argv,
                };
                let mut args = prefix.clone();
                args.extend(launch.to_args());
                (program.clone().into(), args)
            }
            Prepared::Bwrap { program, view } => (program.clone().into(), view.args(argv, cwd)),
        }
    }

    /// A command's environment: the daemon's without secrets, the private temp
    /// directory, then the call's own variables.
    pub(crate) fn env(&self, extra: &BTreeMap<String, String>) -> Vec<(OsString, OsString)> {
        let mut env = self.base_env.clone();
        for (name, value) in extra {
            env.insert(name.into(), value.into());
        }
        env.into_iter().collect()
    }

    /// Runs `true` inside the sandbox as a command would run.
    async fn probe(&self, dir: &Path) -> Result<(), ServeError> {
        let kind = self.kind_name();
        let (program, args) = self.wrap(vec!["true".into()], dir);
        let mut command = tokio::process::Command::new(&program);
        command
            .args(&args)
            .current_dir(dir)
            .env_clear()
            .envs(self.env(&BTreeMap::new()))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let refused = |reason: String| ServeError::Sandbox { kind, reason };
        let output = tokio::time::timeout(PROBE_TIMEOUT, command.output())
            .await
            .map_err(|_| refused("probing the sandbox timed out".into()))?
            .map_err(|err| refused(format!("{}: {err}", Path::new(&program).display())))?;
        if output.status.success() {
            return Ok(());
        }
        let mut text = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        if text.is_empty() {
            text = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        }
        let text = &text[..text.floor_char_boundary(PROBE_OUTPUT_BYTES_MAX)];
        Err(refused(format!(
            "running `true` inside it failed ({}): {text}",
            output.status
        )))
    }
}

/// Whether a variable's name looks like it holds a secret.
pub(crate) fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    upper == TOKEN_VARIABLE || SECRET_NAME_PARTS.iter().any(|part| upper.contains(part))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_looking_names_are_dropped() {
        for name in [
            "LIGHTSPEED_ENV_TOKEN",
            "GITHUB_TOKEN",
            "OPENAI_API_KEY",
            "aws_secret_access_key",
            "DB_PASSWORD",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
        for name in ["PATH", "HOME", "LANG", "TERM"] {
            assert!(!is_secret_name(name), "{name}");
        }
    }
}
