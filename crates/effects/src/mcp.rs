//! MCP tools: what linking a server lists, and what calling a linked tool does, over
//! `mcp-client`'s pooled connections. Both the API service (linking) and the hosts'
//! toolset (calls, inside the tool activity) use [`McpTools`].
//!
//! A call is routed by the session's link record (the catalog), not by its name:
//! the session's tool `server__tool` is served only while the session is linked to
//! `server`, whose current record gives the transport and auth. The credential is
//! resolved at call time through [`McpCredentials`] (the auth registry in
//! production), so no value ever enters an activity's input, the log or the CAS.
//!
//! Failures are classified once, here: transport failures and 5xx are
//! [`AdapterError::Transient`] (the host retries the activity); a tool's own error,
//! bad arguments, a timeout, a protocol error or a server that cannot start are
//! error results the model sees; an authorization failure is an error result with
//! `needsReauth`, and the credential source is told so (a grant is marked).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use engine::core::effects::ToolResult;
use engine::core::run::{ToolCallRequest, ToolStatus};
use engine::store::BlobStore;
use engine::{BlobRef, SessionId};
use futures::future::BoxFuture;
use mcp_client::{
    CallOptions, CallOutput, Content, Credential, ErrorKind, ListLimits, McpError, McpPool,
    Progress, Transport,
};
use mcp_registry::link::{McpOrigin, definition};
use mcp_registry::{
    LinkMode, LinkedTool, McpAuth, McpCatalog, McpServer, McpTransport, SessionLink, StdioPolicy,
    tool_name,
};
use serde_json::{Map, Value, json};

use crate::adapter::AdapterError;

/// Tools one link registers at most (the engine's limit on a session's tools applies
/// on top, counting every link and the file tools).
pub const TOOLS_PER_LINK_MAX: usize = 128;
/// Bytes of a call's output kept (text, images, structured content together).
pub const OUTPUT_BYTES_MAX_DEFAULT: usize = 1024 * 1024;

/// A credential the worker resolved for one call or listing.
pub enum ResolvedAuth {
    None,
    /// Sent as a header on every HTTP request of the connection.
    Header(Credential),
    /// Set in a stdio child's environment.
    Env {
        var: String,
        value: secrecy::SecretString,
    },
}

/// Why a credential could not be resolved: shown to the model and the client as is,
/// so it never holds a value.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct CredentialFailure {
    /// `secretNotFound`, `grantNotFound`, `needsReauth`, `revoked`, `authUnavailable`.
    pub code: &'static str,
    pub message: String,
    /// A store or network failure that may clear on retry.
    pub retryable: bool,
}

/// Where credentials come from: the auth registry of the universe (production), or
/// nothing at all ([`NoCredentials`]).
pub trait McpCredentials: Send + Sync + 'static {
    fn resolve<'a>(
        &'a self,
        universe_id: &'a str,
        auth: &'a McpAuth,
    ) -> BoxFuture<'a, Result<ResolvedAuth, CredentialFailure>>;

    /// The server refused the credential `auth` resolved to (HTTP 401/403): a grant is
    /// refreshed on its next use, or marked as needing a new authorization.
    fn refused<'a>(&'a self, universe_id: &'a str, auth: &'a McpAuth) -> BoxFuture<'a, ()>;
}

/// Credentials for servers without auth only.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoCredentials;

impl McpCredentials for NoCredentials {
    fn resolve<'a>(
        &'a self,
        _universe_id: &'a str,
        auth: &'a McpAuth,
    ) -> BoxFuture<'a, Result<ResolvedAuth, CredentialFailure>> {
        let result = match auth {
            McpAuth::None => Ok(ResolvedAuth::None),
            _ => Err(CredentialFailure {
                code: "authUnavailable",
                message: "this host has no auth registry to resolve the server's credential"
                    .to_owned(),
                retryable: false,
            }),
        };
        Box::pin(std::future::ready(result))
    }

    fn refused<'a>(&'a self, _universe_id: &'a str, _auth: &'a McpAuth) -> BoxFuture<'a, ()> {
        Box::pin(std::future::ready(()))
    }
}

/// Where a tool call's progress goes (the worker: live deltas of the session).
pub trait ToolProgress: Send + Sync {
    /// One line for `call`, e.g. `everything__long: 3/5 Step 3`.
    fn progress(&self, call: &ToolCallRequest, line: String);
}

/// Progress reports kept per call before the oldest are dropped (a client that sees
/// the latest line loses nothing it needs).
const PROGRESS_QUEUE: usize = 16;

/// Why a link could not list the server's tools.
#[derive(Debug, thiserror::Error)]
pub enum LinkFailure {
    #[error(transparent)]
    Credential(CredentialFailure),
    /// The server was unreachable, refused, or answered something not MCP.
    #[error("{0}")]
    Server(McpError),
    #[error(transparent)]
    Store(#[from] engine::store::StoreError),
    #[error("{0}")]
    Policy(String),
}

/// The MCP client side of a process: one connection pool, the deployment's stdio
/// policy, and where credentials come from.
pub struct McpTools {
    pool: McpPool,
    stdio: StdioPolicy,
    credentials: Arc<dyn McpCredentials>,
    list_limits: ListLimits,
    output_bytes_max: usize,
}

impl McpTools {
    pub fn new(pool: McpPool, stdio: StdioPolicy, credentials: Arc<dyn McpCredentials>) -> Self {
        Self {
            pool,
            stdio,
            credentials,
            list_limits: ListLimits::default(),
            output_bytes_max: OUTPUT_BYTES_MAX_DEFAULT,
        }
    }

    pub fn pool(&self) -> &McpPool {
        &self.pool
    }

    /// Lists `server`'s tools and stores their definitions in `blobs`: the link a
    /// session gets (its tools filtered, namespaced and ordered by name; those left out
    /// named in `skipped`).
    pub async fn list_link<B: BlobStore>(
        &self,
        universe_id: &str,
        server: &McpServer,
        blobs: &B,
        linked_at_ms: u64,
    ) -> Result<SessionLink, LinkFailure> {
        let (transport, credential) =
            self.connect_parts(universe_id, server)
                .await
                .map_err(|failure| match failure {
                    Prepared::Credential(failure) => LinkFailure::Credential(failure),
                    Prepared::Policy(message) => LinkFailure::Policy(message),
                })?;
        let key = pool_key(universe_id, server);
        let listed = self
            .pool
            .list_tools(&key, &transport, credential.as_ref(), &self.list_limits)
            .await;
        let listed = match listed {
            Ok(listed) => listed,
            Err(err) => {
                if err.kind() == ErrorKind::Unauthorized {
                    self.credentials
                        .refused(universe_id, &server.spec.auth)
                        .await;
                }
                return Err(LinkFailure::Server(err));
            }
        };
        let mut tools = Vec::new();
        let mut skipped = Vec::new();
        let mut names = BTreeSet::new();
        for tool in listed {
            let name = tool_name(&server.name, &tool.name);
            if !server.spec.tools.admits(&tool.name)
                || tools.len() >= TOOLS_PER_LINK_MAX
                || !names.insert(name.clone())
            {
                skipped.push(tool.name);
                continue;
            }
            let origin = McpOrigin {
                server: server.name.clone(),
                tool: tool.name.clone(),
            };
            let description = tool.description.or(tool.title).unwrap_or_default();
            let bytes = definition(&name, &origin, &description, &tool.input_schema);
            let definition_ref = blobs.put(bytes).await?;
            tools.push(LinkedTool {
                name,
                tool: tool.name,
                definition_ref,
            });
        }
        tools.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(SessionLink {
            server: server.name.clone(),
            mode: LinkMode::Client,
            server_revision: server.revision,
            tools,
            skipped,
            linked_at_ms,
        })
    }

    /// A provider-hosted link of `server`: one session tool (`server__mcp`) whose
    /// definition names the server for the provider to call itself. A deny filter is
    /// turned into the allow-list providers take by listing the server's tools here.
    pub async fn hosted_link<B: BlobStore>(
        &self,
        universe_id: &str,
        server: &McpServer,
        blobs: &B,
        linked_at_ms: u64,
    ) -> Result<SessionLink, LinkFailure> {
        let McpTransport::StreamableHttp { url, .. } = &server.spec.transport else {
            return Err(LinkFailure::Policy(format!(
                "MCP server {:?} runs over stdio: a provider can only reach a URL; link it \
                 in client mode",
                server.name.as_str()
            )));
        };
        let filter = &server.spec.tools;
        let (allowed_tools, skipped) = if filter.deny.is_empty() {
            (filter.allow.clone(), Vec::new())
        } else {
            let listed = self
                .list_link(universe_id, server, blobs, linked_at_ms)
                .await?;
            let allowed = listed.tools.into_iter().map(|tool| tool.tool).collect();
            (allowed, listed.skipped)
        };
        let name = tool_name(&server.name, "mcp");
        let definition = engine::canonical::to_vec(&json!({
            "name": name,
            "description": format!("The tools of MCP server {}, called by the model provider.", server.name),
            "parameters": {"type": "object", "properties": {}},
            "hostedMcp": {"server": server.name, "url": url, "allowedTools": allowed_tools},
        }));
        let definition_ref = blobs.put(definition).await?;
        Ok(SessionLink {
            server: server.name.clone(),
            mode: LinkMode::Hosted,
            server_revision: server.revision,
            tools: vec![LinkedTool {
                name,
                tool: "*".to_owned(),
                definition_ref,
            }],
            skipped,
            linked_at_ms,
        })
    }

    /// Calls the linked tool `call` names on behalf of `session`, its output stored in
    /// `blobs`. `Ok` is the result the session records; `Err` only for what a retry
    /// may clear (a store failure, an unreachable or failing server).
    pub async fn invoke<S: McpCatalog + BlobStore>(
        &self,
        universe_id: &str,
        store: &S,
        session: &SessionId,
        call: &ToolCallRequest,
        progress: Option<&Arc<dyn ToolProgress>>,
    ) -> Result<ToolResult, AdapterError> {
        let links = store
            .mcp_link_list(session)
            .await
            .map_err(catalog_failure)?;
        let Some((link, linked)) = links.iter().find_map(|link| {
            link.tools
                .iter()
                .find(|tool| tool.name == call.name)
                .map(|tool| (link, tool))
        }) else {
            return error_result(
                call,
                store,
                "mcpNotLinked",
                format!(
                    "{:?} is not a tool of an MCP server linked to this session",
                    call.name
                ),
            )
            .await;
        };
        if link.mode == LinkMode::Hosted {
            return error_result(
                call,
                store,
                "mcpHosted",
                format!(
                    "MCP server {:?} is called by the model provider, not as a function",
                    link.server.as_str()
                ),
            )
            .await;
        }
        let Some(server) = store
            .mcp_server_read(&link.server)
            .await
            .map_err(catalog_failure)?
        else {
            return error_result(
                call,
                store,
                "mcpServerNotFound",
                format!("MCP server {:?} no longer exists", link.server.as_str()),
            )
            .await;
        };
        let arguments =
            match serde_json::from_slice::<Value>(&store.get(&call.arguments_ref).await?) {
                Ok(Value::Object(arguments)) => arguments,
                Ok(Value::Null) => Map::new(),
                _ => {
                    return error_result(
                        call,
                        store,
                        "invalidArguments",
                        "tool arguments must be a JSON object".to_owned(),
                    )
                    .await;
                }
            };
        let (transport, credential) = match self.connect_parts(universe_id, &server).await {
            Ok(parts) => parts,
            Err(Prepared::Credential(failure)) if failure.retryable => {
                return Err(AdapterError::Transient {
                    message: failure.message,
                    retry_after: None,
                });
            }
            Err(Prepared::Credential(failure)) => {
                return error_result(call, store, failure.code, failure.message).await;
            }
            Err(Prepared::Policy(message)) => {
                return error_result(call, store, "mcpStdioRefused", message).await;
            }
        };
        // Progress reports go out as they come, through a bounded queue drained by a
        // task that ends when the call's sender is dropped.
        let progress = progress.map(|reporter| {
            let (sender, mut reports) = tokio::sync::mpsc::channel::<Progress>(PROGRESS_QUEUE);
            let (reporter, call) = (reporter.clone(), call.clone());
            tokio::spawn(async move {
                while let Some(report) = reports.recv().await {
                    reporter.progress(&call, progress_line(&call.name, &report));
                }
            });
            sender
        });
        let options = CallOptions {
            timeout: Duration::from_millis(server.spec.timeouts.call_ms),
            output_bytes_max: self.output_bytes_max,
            progress,
        };
        let key = pool_key(universe_id, &server);
        let outcome = self
            .pool
            .call_tool(
                &key,
                &transport,
                credential.as_ref(),
                &linked.tool,
                arguments,
                options,
            )
            .await;
        match outcome {
            Ok(output) => output_result(call, store, output).await,
            Err(err) if err.is_retryable() => Err(AdapterError::Transient {
                message: err.to_string(),
                retry_after: None,
            }),
            Err(err) if err.kind() == ErrorKind::Unauthorized => {
                self.credentials
                    .refused(universe_id, &server.spec.auth)
                    .await;
                let message = format!(
                    "MCP server {:?} refused the credential: {err}; the grant needs a new \
                     authorization (auth/flows/start) or the secret a new value",
                    server.name.as_str()
                );
                error_result(call, store, "needsReauth", message).await
            }
            Err(err) => error_result(call, store, err.code(), err.to_string()).await,
        }
    }

    /// The credentials of servers this universe links provider-hosted, resolved when
    /// a generation is sent.
    pub fn hosted_auth<S: McpCatalog + 'static>(
        self: &Arc<Self>,
        universe_id: &str,
        store: Arc<S>,
    ) -> HostedAuth<S> {
        HostedAuth {
            tools: self.clone(),
            universe_id: universe_id.to_owned(),
            store,
        }
    }

    /// The transport to connect with (the stdio policy checked again here: the
    /// allow-list may have shrunk since the record was stored) and the credential.
    async fn connect_parts(
        &self,
        universe_id: &str,
        server: &McpServer,
    ) -> Result<(Transport, Option<Credential>), Prepared> {
        let resolved = self
            .credentials
            .resolve(universe_id, &server.spec.auth)
            .await
            .map_err(Prepared::Credential)?;
        match &server.spec.transport {
            McpTransport::StreamableHttp { url, headers } => {
                let credential = match resolved {
                    ResolvedAuth::Header(credential) => Some(credential),
                    ResolvedAuth::None | ResolvedAuth::Env { .. } => None,
                };
                Ok((
                    Transport::StreamableHttp {
                        url: url.clone(),
                        headers: headers.clone(),
                    },
                    credential,
                ))
            }
            McpTransport::Stdio { command, args, env } => {
                if !self.stdio.permits(command) {
                    return Err(Prepared::Policy(format!(
                        "this deployment does not allow the stdio command of MCP server {:?}",
                        server.name.as_str()
                    )));
                }
                let mut env = env.clone();
                if let ResolvedAuth::Env { var, value } = resolved {
                    use secrecy::ExposeSecret as _;
                    env.insert(var, value.expose_secret().to_owned());
                }
                Ok((
                    Transport::Stdio {
                        command: command.clone(),
                        args: args.clone(),
                        env,
                        cwd: None,
                    },
                    None,
                ))
            }
        }
    }
}

/// `name: 3/5 message` (or `name: 3 message` without a total).
fn progress_line(name: &str, report: &Progress) -> String {
    let done = match report.total {
        Some(total) => format!("{}/{}", report.progress, total),
        None => format!("{}", report.progress),
    };
    match &report.message {
        Some(message) => format!("{name}: {done} {message}"),
        None => format!("{name}: {done}"),
    }
}

enum Prepared {
    Credential(CredentialFailure),
    Policy(String),
}

/// One pooled connection per server record revision of a universe: a changed record
/// connects anew, another universe never shares a connection.
fn pool_key(universe_id: &str, server: &McpServer) -> String {
    format!("{universe_id}/{}@{}", server.name, server.revision)
}

fn catalog_failure(err: mcp_registry::McpCatalogError) -> AdapterError {
    match err {
        mcp_registry::McpCatalogError::Store(err) => AdapterError::Store(err),
        other => AdapterError::Other(other.to_string()),
    }
}

async fn error_result<B: BlobStore>(
    call: &ToolCallRequest,
    blobs: &B,
    code: &str,
    message: String,
) -> Result<ToolResult, AdapterError> {
    let output = json!({"error": message, "code": code});
    crate::toolset::result(call, blobs, ToolStatus::Error, &output).await
}

/// The output the session records: text and links inline, binary content (images,
/// audio, resource blobs) as CAS refs beside their type and size, so a large image
/// costs the transcript a ref, and the model reads what the server returned.
async fn output_result<B: BlobStore>(
    call: &ToolCallRequest,
    blobs: &B,
    output: CallOutput,
) -> Result<ToolResult, AdapterError> {
    let mut content = Vec::with_capacity(output.content.len());
    for block in output.content {
        content.push(match block {
            Content::Text { text } => json!({"type": "text", "text": text}),
            Content::Image { mime_type, data } => {
                binary_block(blobs, "image", &mime_type, data).await?
            }
            Content::Audio { mime_type, data } => {
                binary_block(blobs, "audio", &mime_type, data).await?
            }
            Content::ResourceLink {
                uri,
                name,
                mime_type,
                description,
            } => json!({"type": "resourceLink", "uri": uri, "name": name,
                        "mimeType": mime_type, "description": description}),
            Content::Resource {
                uri,
                mime_type,
                text,
                blob,
            } => {
                let blob_ref: Option<BlobRef> = match blob {
                    Some(bytes) => Some(blobs.put(bytes).await?),
                    None => None,
                };
                json!({"type": "resource", "uri": uri, "mimeType": mime_type, "text": text,
                       "blobRef": blob_ref.map(|r| r.to_string())})
            }
        });
    }
    let mut recorded = Map::new();
    recorded.insert("content".to_owned(), Value::Array(content));
    if let Some(structured) = output.structured {
        recorded.insert("structuredContent".to_owned(), structured);
    }
    if output.truncated {
        recorded.insert("truncated".to_owned(), Value::Bool(true));
    }
    let status = if output.is_error {
        ToolStatus::Error
    } else {
        ToolStatus::Ok
    };
    crate::toolset::result(call, blobs, status, &Value::Object(recorded)).await
}

async fn binary_block<B: BlobStore>(
    blobs: &B,
    kind: &str,
    mime_type: &str,
    data: Vec<u8>,
) -> Result<Value, AdapterError> {
    let size = data.len();
    let blob_ref = blobs.put(data).await?;
    Ok(
        json!({"type": kind, "mimeType": mime_type, "blobRef": blob_ref.to_string(),
              "sizeBytes": size}),
    )
}

/// [`llm_runtime::HostedMcpAuth`] over a universe's MCP catalog and credentials: the
/// header a provider-hosted server's requests carry, read from its current record
/// and resolved at send time.
pub struct HostedAuth<S> {
    tools: Arc<McpTools>,
    universe_id: String,
    store: Arc<S>,
}

impl<S: McpCatalog + 'static> llm_runtime::HostedMcpAuth for HostedAuth<S> {
    fn header<'a>(
        &'a self,
        server: &'a str,
    ) -> BoxFuture<'a, Result<Option<llm_runtime::content::HostedHeader>, llm_runtime::RuntimeError>>
    {
        Box::pin(async move {
            let unusable = |reason: String| llm_runtime::RuntimeError::Content {
                blob: format!("mcp server {server}"),
                reason,
            };
            let name =
                mcp_registry::ServerName::new(server).map_err(|err| unusable(err.to_string()))?;
            let record = self
                .store
                .mcp_server_read(&name)
                .await
                .map_err(|err| match err {
                    mcp_registry::McpCatalogError::Store(err) => err.into(),
                    other => unusable(other.to_string()),
                })?
                .ok_or_else(|| unusable("the server no longer exists".to_owned()))?;
            let resolved = self
                .tools
                .credentials
                .resolve(&self.universe_id, &record.spec.auth)
                .await
                .map_err(|failure| unusable(format!("{}: {}", failure.code, failure.message)))?;
            Ok(match resolved {
                ResolvedAuth::Header(credential) => {
                    use secrecy::ExposeSecret as _;
                    Some(llm_runtime::content::HostedHeader {
                        name: credential.header_name.clone(),
                        value: credential.header_value.expose_secret().to_owned(),
                    })
                }
                ResolvedAuth::None | ResolvedAuth::Env { .. } => None,
            })
        })
    }
}
