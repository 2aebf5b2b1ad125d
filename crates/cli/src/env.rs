//! `lightspeed env ...`: environments, machines lent to agents.
//!
//! `create|list|read|delete` manage the universe's environments
//! (`environments/*`; `create` prints the token, once, and the command that lends
//! this machine with it); `attach|detach|attached` put them on sessions
//! (`session/environments/*`).
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

use api::types::env::*;

use crate::args::{Cli, Command, ConnectionArgs};
use crate::client::Client;
use crate::error::{CliError, Outcome};
use crate::sessions::show;

#[derive(Debug, Subcommand)]
pub enum EnvCommand {
    /// Create an environment; prints its token (shown once) and how to serve it
    Create {
        name: String,
        #[arg(long, default_value = "")]
        description: String,
        /// Print the token alone (for `export LIGHTSPEED_ENV_TOKEN=$(...)`)
        #[arg(long, conflicts_with = "json")]
        print_token: bool,
        #[arg(long)]
        json: bool,
    },
    /// List the universe's environments: online or not, where, sandboxed how
    List {
        #[arg(long)]
        json: bool,
    },
    /// Read one environment
    Read {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Delete an environment: its token stops working
    Delete {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Attach an environment to a session: shell tools, and its directory at /env/NAME
    Attach {
        session_id: String,
        environment: String,
        /// The name in the session (default: the environment's)
        #[arg(long = "as", value_name = "NAME")]
        name: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Detach an environment from a session
    Detach {
        session_id: String,
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// A session's attached environments
    Attached {
        session_id: String,
        #[arg(long)]
        json: bool,
    },
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
        admin => {
            let client = Client::new(connection.api_url(), connection.api_key())?;
            manage(&client, admin).await
        }
    }
}

/// The commands that call the API.
async fn manage(client: &Client, command: EnvCommand) -> Result<Outcome, CliError> {
    match command {
        EnvCommand::Create {
            name,
            description,
            print_token,
            json,
        } => {
            let params = EnvironmentCreateParams { name, description };
            let created: EnvironmentCreated = client.call("environments/create", &params).await?;
            if print_token {
                return crate::sessions::print_text(&format!("{}\n", created.token));
            }
            show(json, &created, || {
                let name = &created.environment.name;
                format!(
                    "created environment {name}; its token (shown once):\n{}\n\nlend a machine with:\n  \
                     LIGHTSPEED_ENV_TOKEN=<token> lightspeed env serve --name {name} --dir DIR --sandbox landlock\n",
                    created.token
                )
            })
        }
        EnvCommand::List { json } => {
            let listed: EnvironmentListResult = client
                .call("environments/list", &EnvironmentListParams {})
                .await?;
            show(json, &listed, || environments_table(&listed.environments))
        }
        EnvCommand::Read { name, json } => {
            let read: EnvironmentView = client
                .call("environments/read", &EnvironmentRef { name })
                .await?;
            show(json, &read, || {
                environments_table(std::slice::from_ref(&read))
            })
        }
        EnvCommand::Delete { name, json } => {
            let deleted: EnvironmentDeleteResult = client
                .call(
                    "environments/delete",
                    &EnvironmentRef { name: name.clone() },
                )
                .await?;
            show(json, &deleted, || match deleted.deleted {
                true => format!("deleted {name}\n"),
                false => format!("no environment {name}\n"),
            })
        }
        EnvCommand::Attach {
            session_id,
            environment,
            name,
            json,
        } => {
            let params = SessionEnvironmentAttachParams {
                session_id,
                environment,
                name,
            };
            let attached: SessionEnvironmentView =
                client.call("session/environments/attach", &params).await?;
            show(json, &attached, || {
                attached_text(std::slice::from_ref(&attached))
            })
        }
        EnvCommand::Detach {
            session_id,
            name,
            json,
        } => {
            let params = SessionEnvironmentDetachParams {
                session_id,
                name: name.clone(),
            };
            let detached: SessionEnvironmentDetachResult =
                client.call("session/environments/detach", &params).await?;
            show(json, &detached, || match detached.detached {
                true => format!("detached {name}\n"),
                false => format!("{name} was not attached\n"),
            })
        }
        EnvCommand::Attached { session_id, json } => {
            let listed: SessionEnvironmentListResult = client
                .call(
                    "session/environments/list",
                    &SessionEnvironmentListParams { session_id },
                )
                .await?;
            show(json, &listed, || attached_text(&listed.environments))
        }
        EnvCommand::Serve(_) | EnvCommand::SandboxExec(_) => {
            Err(CliError::Usage("not an API command".into()))
        }
    }
}

fn status_word(status: EnvironmentStatus) -> &'static str {
    match status {
        EnvironmentStatus::Online => "online",
        EnvironmentStatus::Offline => "offline",
        EnvironmentStatus::Never => "never connected",
    }
}

/// One line per environment: name, status, host, directory, sandbox.
pub fn environments_table(environments: &[EnvironmentView]) -> String {
    if environments.is_empty() {
        return "no environments (lightspeed env create NAME)\n".into();
    }
    environments
        .iter()
        .map(|environment| {
            let host = environment.host.as_ref().map_or(String::new(), |host| {
                format!(
                    "  {}@{} {} sandbox={} network={}",
                    host.hostname,
                    host.os,
                    host.dir,
                    host.sandbox,
                    if host.network { "on" } else { "off" }
                )
            });
            format!(
                "{}  {}{host}\n",
                environment.name,
                status_word(environment.status)
            )
        })
        .collect()
}

/// A session's attachments, one per line.
pub fn attached_text(attached: &[SessionEnvironmentView]) -> String {
    if attached.is_empty() {
        return "no environment attached\n".into();
    }
    attached
        .iter()
        .map(|view| {
            format!(
                "{} -> {} ({}) at {}, tools {}\n",
                view.name,
                view.environment.name,
                status_word(view.environment.status),
                view.path,
                view.tools.join(", ")
            )
        })
        .collect()
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
