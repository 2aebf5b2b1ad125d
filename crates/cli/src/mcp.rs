//! `lightspeed mcp add|list|remove|link|unlink|tools`: the universe's MCP servers and
//! their links to sessions, through `mcp/servers/*` and `session/mcp/*`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use api::types::mcp::*;

use crate::args::{McpAddArgs, McpArgs, McpCommand};
use crate::client::Client;
use crate::error::{CliError, Outcome};
use crate::sessions::show;

pub async fn run(client: &Client, args: McpArgs) -> Result<Outcome, CliError> {
    let json = args.json;
    match args.command {
        McpCommand::Add(add) => {
            let params = put_params(*add)?;
            let server: McpServerView = client.call("mcp/servers/put", &params).await?;
            show(json, &server, || {
                format!("{} at revision {}\n", server.name, server.revision)
            })
        }
        McpCommand::List => {
            let listed: McpServerListResult = client
                .call("mcp/servers/list", &McpServerListParams {})
                .await?;
            show(json, &listed, || server_table(&listed.servers))
        }
        McpCommand::Remove { name } => {
            let deleted: McpServerDeleteResult = client
                .call("mcp/servers/delete", &McpServerRef { name: name.clone() })
                .await?;
            show(json, &deleted, || match deleted.deleted {
                true => format!("removed {name}\n"),
                false => format!("no server {name}\n"),
            })
        }
        McpCommand::Link {
            session_id,
            name,
            hosted,
        } => {
            let params = SessionMcpLinkParams {
                session_id,
                server: name,
                mode: if hosted {
                    McpLinkMode::Hosted
                } else {
                    McpLinkMode::Client
                },
            };
            let link: SessionMcpLinkView = client.call("session/mcp/link", &params).await?;
            show(json, &link, || link_text(&link))
        }
        McpCommand::Unlink { session_id, name } => {
            let params = SessionMcpUnlinkParams {
                session_id,
                server: name.clone(),
            };
            let unlinked: SessionMcpUnlinkResult =
                client.call("session/mcp/unlink", &params).await?;
            show(json, &unlinked, || match unlinked.unlinked {
                true => format!("unlinked {name}\n"),
                false => format!("{name} was not linked\n"),
            })
        }
        McpCommand::Tools { session_id } => {
            let listed: SessionMcpListResult = client
                .call("session/mcp/list", &SessionMcpListParams { session_id })
                .await?;
            show(json, &listed, || links_text(&listed.links))
        }
    }
}

/// The put a command line asks for; `NAME=VALUE` pairs checked here, everything else
/// by the gateway.
pub fn put_params(add: McpAddArgs) -> Result<McpServerPutParams, CliError> {
    let transport = match (add.url, add.command) {
        (Some(url), None) => McpTransportInput::StreamableHttp {
            url,
            headers: pairs("--header", &add.headers)?,
        },
        (None, Some(command)) => McpTransportInput::Stdio {
            command,
            args: add.args,
            env: pairs("--env", &add.env)?,
        },
        _ => return Err(CliError::Usage("give --url or --command".into())),
    };
    let stdio = matches!(transport, McpTransportInput::Stdio { .. });
    let auth = match (add.secret, add.secret_env, add.grant) {
        (Some(secret), Some(var), None) => McpAuthInput::SecretEnv { secret, var },
        (Some(secret), None, None) if stdio => {
            return Err(CliError::Usage(format!(
                "a stdio server gets --secret {secret} in an environment variable: add --secret-env VAR"
            )));
        }
        (Some(secret), None, None) => McpAuthInput::SecretHeader {
            secret,
            header: None,
            prefix: None,
        },
        (None, None, Some(grant_id)) => McpAuthInput::Grant { grant_id },
        (None, None, None) => McpAuthInput::None,
        _ => return Err(CliError::Usage("give --secret or --grant, not both".into())),
    };
    Ok(McpServerPutParams {
        name: add.name,
        transport,
        auth,
        tools: McpToolFilterInput {
            allow: add.allow,
            deny: add.deny,
        },
        timeouts: McpTimeoutsInput {
            connect_ms: None,
            call_ms: add.call_timeout_ms,
        },
        expected_revision: None,
    })
}

fn pairs(flag: &str, values: &[String]) -> Result<BTreeMap<String, String>, CliError> {
    values
        .iter()
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
            _ => Err(CliError::Usage(format!("{flag} takes NAME=VALUE"))),
        })
        .collect()
}

fn server_table(servers: &[McpServerView]) -> String {
    if servers.is_empty() {
        return "no MCP servers\n".to_owned();
    }
    let mut out = String::new();
    for server in servers {
        let target = match &server.transport {
            McpTransportInput::StreamableHttp { url, .. } => url.clone(),
            McpTransportInput::Stdio { command, args, .. } => std::iter::once(command.as_str())
                .chain(args.iter().map(String::as_str))
                .collect::<Vec<_>>()
                .join(" "),
        };
        let auth = match &server.auth {
            McpAuthInput::None => "none".to_owned(),
            McpAuthInput::SecretHeader { secret, .. } => format!("secret {secret}"),
            McpAuthInput::SecretEnv { secret, var } => format!("secret {secret} as ${var}"),
            McpAuthInput::Grant { grant_id } => format!("grant {grant_id}"),
        };
        let _ = writeln!(
            out,
            "{:<24} r{:<4} {:<10} {}",
            server.name, server.revision, auth, target
        );
    }
    out
}

/// A session's links, as `lightspeed mcp tools` and the TUI's `/mcp` show them.
pub fn links_text(links: &[SessionMcpLinkView]) -> String {
    if links.is_empty() {
        return "no MCP servers linked\n".to_owned();
    }
    links.iter().map(link_text).collect()
}

fn link_text(link: &SessionMcpLinkView) -> String {
    let mut out = format!(
        "{} (revision {}): {} tools\n",
        link.server,
        link.server_revision,
        link.tools.len()
    );
    for tool in &link.tools {
        let _ = writeln!(out, "  {}", tool.name);
    }
    if !link.skipped.is_empty() {
        let _ = writeln!(out, "  skipped: {}", link.skipped.join(", "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    fn add(args: &[&str]) -> Result<McpServerPutParams, CliError> {
        let cli = crate::args::Cli::try_parse_from(
            ["lightspeed", "mcp", "add"].iter().chain(args.iter()),
        )
        .map_err(|err| CliError::Usage(err.to_string()))?;
        match cli.command {
            crate::args::Command::Mcp(McpArgs {
                command: McpCommand::Add(add),
                ..
            }) => put_params(*add),
            _ => unreachable!(),
        }
    }

    #[test]
    fn http_servers_with_headers_and_a_secret() {
        let params = add(&[
            "docs",
            "--url",
            "https://h/mcp",
            "--header",
            "X-Tenant=acme",
            "--secret",
            "docs-token",
            "--deny",
            "rm",
        ])
        .unwrap();
        assert_eq!(
            params.transport,
            McpTransportInput::StreamableHttp {
                url: "https://h/mcp".into(),
                headers: BTreeMap::from([("X-Tenant".into(), "acme".into())])
            }
        );
        assert!(matches!(params.auth, McpAuthInput::SecretHeader { .. }));
        assert_eq!(params.tools.deny, ["rm"]);
    }

    #[test]
    fn stdio_servers_take_secrets_in_the_environment() {
        let params = add(&[
            "gh",
            "--command",
            "npx",
            "--arg",
            "-y",
            "--arg",
            "server-github",
            "--secret",
            "gh-token",
            "--secret-env",
            "GITHUB_TOKEN",
        ])
        .unwrap();
        assert_eq!(
            params.auth,
            McpAuthInput::SecretEnv {
                secret: "gh-token".into(),
                var: "GITHUB_TOKEN".into()
            }
        );
        assert!(add(&["gh", "--command", "npx", "--secret", "t"]).is_err());
        assert!(add(&["x", "--url", "https://h", "--header", "novalue"]).is_err());
        assert!(add(&["x"]).is_err(), "a transport is required");
    }
}
