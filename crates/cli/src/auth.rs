//! `lightspeed auth secret set|list|delete`, `auth login SERVER`, `auth grants`,
//! `auth revoke GRANT`, through `auth/*`. Secret values are read from stdin and
//! never printed; an OAuth login prints the authorization URL and waits, with a
//! progress line, until the approval reached the server's `/auth/callback`.

use std::fmt::Write as _;
use std::io::{IsTerminal as _, Read as _, Write as _};
use std::time::{Duration, Instant};

use api::types::auth::*;
use api::types::mcp::*;

use crate::args::{AuthArgs, AuthCommand, SecretCommand};
use crate::client::Client;
use crate::error::{CliError, Outcome};
use crate::sessions::{print_text, show};

/// Largest secret read from stdin (the server's own limit).
const SECRET_BYTES_MAX: usize = 64 * 1024;
/// How often a login asks whether the approval arrived.
const LOGIN_POLL: Duration = Duration::from_secs(1);

pub async fn run(client: &Client, args: AuthArgs) -> Result<Outcome, CliError> {
    let json = args.json;
    match args.command {
        AuthCommand::Secret(SecretCommand::Set { name }) => {
            let value = read_secret()?;
            let params = AuthSecretPutParams {
                name,
                value,
                purpose: None,
            };
            let view: AuthSecretView = client.call("auth/secrets/put", &params).await?;
            show(json, &view, || format!("stored secret {}\n", view.name))
        }
        AuthCommand::Secret(SecretCommand::List) => {
            let listed: AuthSecretListResult = client
                .call("auth/secrets/list", &AuthSecretListParams {})
                .await?;
            show(json, &listed, || {
                if listed.secrets.is_empty() {
                    return "no secrets\n".to_owned();
                }
                let mut out = String::new();
                for secret in &listed.secrets {
                    let _ = writeln!(
                        out,
                        "{:<32} {:<18} key {}",
                        secret.name, secret.purpose, secret.key_id
                    );
                }
                out
            })
        }
        AuthCommand::Secret(SecretCommand::Delete { name }) => {
            let deleted: AuthSecretDeleteResult = client
                .call(
                    "auth/secrets/delete",
                    &AuthSecretDeleteParams { name: name.clone() },
                )
                .await?;
            show(json, &deleted, || match deleted.deleted {
                true => format!("deleted {name}\n"),
                false => format!("no secret {name}\n"),
            })
        }
        AuthCommand::Login {
            server,
            scopes,
            client_id,
            wait_secs,
        } => login(client, &server, scopes, client_id, wait_secs, json).await,
        AuthCommand::Grants => {
            let listed: AuthGrantListResult = client
                .call("auth/grants/list", &AuthGrantListParams {})
                .await?;
            show(json, &listed, || {
                if listed.grants.is_empty() {
                    return "no grants\n".to_owned();
                }
                let mut out = String::new();
                for grant in &listed.grants {
                    let status = serde_json::to_value(grant.status)
                        .ok()
                        .and_then(|value| value.as_str().map(str::to_owned))
                        .unwrap_or_default();
                    let _ = writeln!(
                        out,
                        "{:<44} {:<24} {:<7} {}",
                        grant.grant_id, grant.name, grant.kind, status
                    );
                }
                out
            })
        }
        AuthCommand::Revoke { grant_id } => {
            let grant: AuthGrantView = client
                .call("auth/grants/revoke", &AuthGrantRef { grant_id })
                .await?;
            show(json, &grant, || format!("revoked {}\n", grant.grant_id))
        }
    }
}

/// The secret on stdin, without its final newline. A terminal gets a prompt (the
/// value is still echoed: use a pipe or a file to keep it off the screen).
fn read_secret() -> Result<String, CliError> {
    let mut stdin = std::io::stdin().lock();
    if stdin.is_terminal() {
        eprint!("secret value (end with Ctrl-D): ");
        let _ = std::io::stderr().flush();
    }
    let mut value = String::new();
    (&mut stdin)
        .take(SECRET_BYTES_MAX as u64 + 1)
        .read_to_string(&mut value)
        .map_err(|err| CliError::Usage(format!("reading the secret from stdin: {err}")))?;
    if value.len() > SECRET_BYTES_MAX {
        return Err(CliError::Usage(format!(
            "a secret is at most {SECRET_BYTES_MAX} bytes"
        )));
    }
    let value = value.strip_suffix('\n').unwrap_or(&value);
    let value = value.strip_suffix('\r').unwrap_or(value).to_owned();
    if value.is_empty() {
        return Err(CliError::Usage("the secret on stdin is empty".into()));
    }
    Ok(value)
}

/// Starts an authorization for `server`'s URL, prints where to approve it, waits for
/// the flow to complete, then points the server's auth at the new grant.
async fn login(
    client: &Client,
    server: &str,
    scopes: Vec<String>,
    client_id: Option<String>,
    wait_secs: u64,
    json: bool,
) -> Result<Outcome, CliError> {
    let record: McpServerView = client
        .call(
            "mcp/servers/read",
            &McpServerRef {
                name: server.to_owned(),
            },
        )
        .await?;
    let McpTransportInput::StreamableHttp { url, .. } = &record.transport else {
        return Err(CliError::Usage(format!(
            "{server} is a stdio server: OAuth is for Streamable HTTP servers"
        )));
    };
    let params = AuthFlowStartParams {
        resource_url: url.clone(),
        scopes,
        client_id,
        client_secret: None,
        grant_name: Some(server.to_owned()),
    };
    let flow: AuthFlowView = client.call("auth/flows/start", &params).await?;
    let authorization_url = flow.authorization_url.clone().unwrap_or_default();
    // On stdout, one line of its own, so scripts (and tests) can pick it up.
    print_text(&format!(
        "open this URL to authorize {server}:\n{authorization_url}\n"
    ))?;
    let deadline = Instant::now() + Duration::from_secs(wait_secs);
    let mut waited = 0u64;
    let flow = loop {
        let flow: AuthFlowView = client
            .call(
                "auth/flows/read",
                &AuthFlowRef {
                    flow_id: flow.flow_id.clone(),
                },
            )
            .await?;
        match flow.status {
            AuthFlowStatus::Pending if Instant::now() < deadline => {
                waited += 1;
                if waited.is_multiple_of(10) {
                    eprintln!("waiting for the approval ({waited} s)");
                }
                tokio::time::sleep(LOGIN_POLL).await;
            }
            AuthFlowStatus::Pending => {
                return Err(CliError::Usage(format!(
                    "no approval within {wait_secs} s; run the login again"
                )));
            }
            AuthFlowStatus::Failed => {
                return Err(CliError::Usage(format!(
                    "the authorization failed: {}",
                    flow.error.unwrap_or_default()
                )));
            }
            AuthFlowStatus::Completed => break flow,
        }
    };
    let grant_id = flow.grant_id.clone().unwrap_or_default();
    let updated = McpServerPutParams {
        name: record.name.clone(),
        transport: record.transport.clone(),
        auth: McpAuthInput::Grant {
            grant_id: grant_id.clone(),
        },
        tools: record.tools.clone(),
        timeouts: record.timeouts.clone(),
        expected_revision: Some(record.revision),
    };
    let _: McpServerView = client.call("mcp/servers/put", &updated).await?;
    show(json, &flow, || {
        format!("authorized {server}: grant {grant_id} (relink sessions to refresh its tools)\n")
    })
}
