//! `lightspeed env ...`: environments, machines lent to agents.
//!
//! `env serve` runs the environment daemon ([`envd`]) in the foreground: it dials
//! the gateway, prints a line when connected and one per failed or lost
//! connection (never the token), and on SIGTERM or SIGINT kills every process
//! group it started and exits 0. `env sandbox-exec` is the hidden Landlock
//! launcher the daemon runs every command through (`--sandbox landlock`); the
//! binary dispatches it before starting its async runtime, since Landlock must
//! be applied while the process has one thread.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use secrecy::SecretString;

use crate::args::{Cli, Command, ConnectionArgs};
use crate::error::{CliError, Outcome};

#[derive(Debug, Subcommand)]
pub enum EnvCommand {
    /// Lend this machine to agents: connect to the gateway and run their commands
    /// and file operations confined to DIR, sandboxed
    Serve(ServeArgs),
    /// The Landlock launcher `serve --sandbox landlock` runs commands through
    #[command(hide = true, disable_help_flag = true)]
    SandboxExec(SandboxExecArgs),
}

/// How commands are sandboxed; there is no default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SandboxArg {
    /// Landlock (Linux 6.2+; 6.7+ with --no-network), through this binary
    Landlock,
    /// bubblewrap (`bwrap` on PATH, user namespaces allowed)
    Bwrap,
    /// No sandbox: commands see the machine as the daemon's user does
    None,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// The environment's name (as created on the gateway)
    #[arg(long, env = "LIGHTSPEED_ENV_NAME", value_name = "NAME")]
    pub name: String,
    /// The directory commands and file operations are confined to (must exist)
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// How commands are sandboxed: landlock, bwrap, or none (only when meant)
    #[arg(long, value_enum, value_name = "SANDBOX")]
    pub sandbox: SandboxArg,
    /// Commands may not use the network (landlock: TCP only; bwrap: everything)
    #[arg(long)]
    pub no_network: bool,
    /// Let commands read (and execute) PATH too (repeat)
    #[arg(long = "allow-read", value_name = "PATH")]
    pub allow_read: Vec<PathBuf>,
    /// The environment token; prefer the variable, which `ps` does not show
    #[arg(
        long,
        env = "LIGHTSPEED_ENV_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN",
        value_parser = parse_token
    )]
    pub token: SecretString,
    /// Processes running at once
    #[arg(long, default_value_t = 64, value_name = "N")]
    pub processes_max: usize,
    /// Output one call keeps in memory (head and tail beyond it)
    #[arg(
        long,
        alias = "output-max-bytes",
        default_value_t = 32 * 1024 * 1024,
        value_name = "BYTES"
    )]
    pub output_bytes_max: usize,
}

/// Everything after `sandbox-exec`, parsed by the launcher itself.
#[derive(Debug, Clone, Args)]
pub struct SandboxExecArgs {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    pub args: Vec<OsString>,
}

/// Never fails, so clap never quotes the value in an error.
fn parse_token(value: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(value.to_owned()))
}

/// The launcher's exit code when the command line is `env sandbox-exec`; it
/// must run before any thread starts.
pub fn launcher(cli: &Cli) -> Option<ExitCode> {
    match &cli.command {
        Command::Env(EnvCommand::SandboxExec(exec)) => {
            Some(envd::sandbox::exec_main(exec.args.clone()))
        }
        _ => None,
    }
}

pub async fn run(connection: &ConnectionArgs, command: EnvCommand) -> Result<Outcome, CliError> {
    match command {
        EnvCommand::Serve(args) => serve(connection, args).await,
        EnvCommand::SandboxExec(_) => Err(CliError::Usage(
            "env sandbox-exec runs before the runtime starts".into(),
        )),
    }
}

async fn serve(connection: &ConnectionArgs, args: ServeArgs) -> Result<Outcome, CliError> {
    let dir = args
        .dir
        .canonicalize()
        .map_err(|err| CliError::local(&args.dir, err))?;
    if !dir.is_dir() {
        return Err(CliError::local(&args.dir, "not a directory"));
    }
    let kind = match args.sandbox {
        SandboxArg::Landlock => envd::SandboxKind::Landlock {
            launcher: envd::Launcher {
                program: std::env::current_exe()
                    .map_err(|err| CliError::Usage(format!("finding this binary: {err}")))?,
                args: vec!["env".into(), "sandbox-exec".into()],
            },
        },
        SandboxArg::Bwrap => envd::SandboxKind::Bwrap,
        SandboxArg::None => envd::SandboxKind::None,
    };
    let config = envd::ServeConfig {
        name: args.name,
        dir,
        gateway_url: connection.api_url().to_owned(),
        token: args.token,
        sandbox: envd::Sandbox {
            kind,
            network: !args.no_network,
            allow_read: args.allow_read,
        },
        limits: envd::Limits {
            processes_max: args.processes_max,
            output_bytes_max: args.output_bytes_max,
            ..envd::Limits::default()
        },
    };
    let server = envd::Server::start(config).await?;
    let host = server.host();
    eprintln!(
        "lightspeed env: serving {} (sandbox {}, network {}) to {}",
        host.dir,
        host.sandbox.kind,
        if host.sandbox.network { "on" } else { "off" },
        server.url()
    );
    server
        .run(|event| eprintln!("lightspeed env: {event}"), stop_signal())
        .await;
    eprintln!("lightspeed env: stopped");
    Ok(Outcome::Success)
}

/// SIGTERM or SIGINT.
async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;
    use crate::args::parse_from;

    #[test]
    fn sandbox_exec_keeps_every_argument_raw() {
        let cli = parse_from([
            "lightspeed",
            "env",
            "sandbox-exec",
            "--dir",
            "/a",
            "--tmp",
            "/b",
            "--no-network",
            "--",
            "sh",
            "-c",
            "echo --help",
            "--api-url",
            "x",
        ])
        .unwrap();
        let Command::Env(EnvCommand::SandboxExec(exec)) = cli.command else {
            panic!("not sandbox-exec");
        };
        let args: Vec<&str> = exec.args.iter().map(|arg| arg.to_str().unwrap()).collect();
        assert_eq!(
            args,
            [
                "--dir",
                "/a",
                "--tmp",
                "/b",
                "--no-network",
                "--",
                "sh",
                "-c",
                "echo --help",
                "--api-url",
                "x"
            ]
        );
    }

    #[test]
    fn serve_needs_an_explicit_sandbox_and_hides_the_token() {
        let base = ["lightspeed", "env", "serve", "--name", "n", "--dir", "/tmp"];
        assert!(parse_from(base.iter().chain(&["--token", "t"])).is_err());
        let cli = parse_from(
            base.iter()
                .chain(&["--token", "tok-123", "--sandbox", "none"]),
        )
        .unwrap();
        let Command::Env(EnvCommand::Serve(serve)) = cli.command else {
            panic!("not serve");
        };
        assert_eq!(serve.sandbox, SandboxArg::None);
        assert_eq!(serve.token.expose_secret(), "tok-123");
        assert_eq!(serve.processes_max, 64);
        assert!(!format!("{serve:?}").contains("tok-123"));
    }
}
