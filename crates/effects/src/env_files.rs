//! The file tools on an attached environment: a path under `/env/NAME` reaches the
//! environment's directory through the daemon's file operations, as jobs of kind
//! `file` the call waits for (they are short: `EnvLimits::file_timeout_ms`).
//!
//! The daemon confines every path to its directory (no `..`, no symlink out); this
//! side only splits `/env/NAME/rest` into the attachment and `rest`. Outputs follow
//! the VFS tools' shapes (numbered lines for reads, one path per line for listings),
//! bounded by `tools::Limits`. `apply_patch` does not reach environments: the
//! model is told to use `edit_file` or a command.

use engine::SessionId;
use engine::core::effects::ToolResult;
use engine::core::run::{ToolCallRequest, ToolStatus};
use engine::store::BlobStore;
use env_protocol::{CallResult, Op};
use env_registry::{Attachment, EnvCatalog, JobKind};
use serde_json::{Value, json};
use tools::ToolKind;

use crate::adapter::AdapterError;
use crate::env::{Completion, EnvCall, EnvTools};

/// Bytes one read brings back (a read's line window is cut from them).
const READ_BYTES_MAX: u64 = 1024 * 1024;
/// Entries, matches or paths one listing returns.
const LISTING_MAX: u32 = 1_000;

/// The attachment and the path inside it, if `path` is under `/env/NAME`.
pub fn split_env_path<'a>(
    path: &'a str,
    attachments: &'a [Attachment],
) -> Option<(&'a Attachment, &'a str)> {
    let rest = path.strip_prefix("/env/")?;
    let (name, inner) = rest.split_once('/').unwrap_or((rest, ""));
    let attachment = attachments
        .iter()
        .find(|attachment| attachment.name.as_str() == name)?;
    Some((attachment, inner))
}

/// The path argument a file tool call names (`path` or `file_path`).
pub fn path_argument(arguments: &Value) -> Option<&str> {
    arguments
        .get("path")
        .or_else(|| arguments.get("file_path"))
        .and_then(Value::as_str)
}

impl EnvTools {
    /// Runs file tool `kind` on an environment when its path is under `/env/NAME`
    /// of an attachment; `None` when it is not (the VFS serves it).
    #[allow(clippy::too_many_arguments)]
    pub async fn file_call<S: EnvCatalog + BlobStore>(
        &self,
        store: &S,
        session: &SessionId,
        call: &ToolCallRequest,
        kind: ToolKind,
        arguments: &Value,
        context: &EnvCall,
        now_ms: u64,
    ) -> Option<Result<ToolResult, AdapterError>> {
        let path = path_argument(arguments)?;
        if !path.starts_with("/env/") {
            return None;
        }
        let attachments = match store.attachment_list(session).await {
            Ok(attachments) => attachments,
            Err(err) => return Some(Err(AdapterError::Other(err.to_string()))),
        };
        let (attachment, inner) = split_env_path(path, &attachments)?;
        let attachment = attachment.clone();
        let inner = inner.to_owned();
        // File operations are waited for whatever the host: they are short, and an
        // activity that waits a few hundred milliseconds needs no async completion.
        let wait = EnvCall {
            completion: Completion::Wait,
            ..context.clone()
        };
        let run = FileRun {
            tools: self,
            store,
            session,
            call,
            context: &wait,
            attachment: &attachment,
            now_ms,
        };
        Some(run.kind(kind, &inner, arguments, path).await)
    }
}

struct FileRun<'a, S> {
    tools: &'a EnvTools,
    store: &'a S,
    session: &'a SessionId,
    call: &'a ToolCallRequest,
    context: &'a EnvCall,
    attachment: &'a Attachment,
    now_ms: u64,
}

impl<S: EnvCatalog + BlobStore> FileRun<'_, S> {
    async fn kind(
        &self,
        kind: ToolKind,
        inner: &str,
        arguments: &Value,
        shown: &str,
    ) -> Result<ToolResult, AdapterError> {
        let text = |key: &str| arguments.get(key).and_then(Value::as_str);
        let number = |key: &str| arguments.get(key).and_then(Value::as_u64);
        match kind {
            ToolKind::ReadFile => {
                let read = self
                    .op(Op::Read {
                        path: inner.to_owned(),
                        offset: 0,
                        limit: READ_BYTES_MAX,
                    })
                    .await?;
                let CallResult::Read {
                    content, binary, ..
                } = read
                else {
                    return self.failed(read).await;
                };
                if binary {
                    return self.error(format!("{shown} is a binary file")).await;
                }
                let first = number("offset").unwrap_or(1).max(1) as usize;
                let window = number("limit").unwrap_or(2_000).clamp(1, 2_000) as usize;
                let output: String = content
                    .lines()
                    .enumerate()
                    .skip(first - 1)
                    .take(window)
                    .map(|(index, line)| format!("{:>6}\t{line}\n", index + 1))
                    .collect();
                self.ok(if content.is_empty() {
                    format!("[{shown} is empty]")
                } else {
                    output
                })
                .await
            }
            ToolKind::WriteFile => {
                let Some(content) = text("content") else {
                    return self.error("`content` is required".to_owned()).await;
                };
                let written = self
                    .op(Op::Write {
                        path: inner.to_owned(),
                        content: content.to_owned(),
                        expected_sha256: None,
                    })
                    .await?;
                match written {
                    CallResult::Written { size, .. } => {
                        self.ok(format!("wrote {size} bytes to {shown}")).await
                    }
                    other => self.failed(other).await,
                }
            }
            ToolKind::EditFile => {
                let (Some(old), Some(new)) = (text("old_string"), text("new_string")) else {
                    return self
                        .error("`old_string` and `new_string` are required".to_owned())
                        .await;
                };
                let replace_all = arguments.get("replace_all").and_then(Value::as_bool) == Some(true);
                let read = self
                    .op(Op::Read {
                        path: inner.to_owned(),
                        offset: 0,
                        limit: READ_BYTES_MAX,
                    })
                    .await?;
                let CallResult::Read {
                    content,
                    binary,
                    sha256,
                    size,
                } = read
                else {
                    return self.failed(read).await;
                };
                if binary || size > READ_BYTES_MAX {
                    return self
                        .error(format!("{shown} is binary or over {READ_BYTES_MAX} bytes"))
                        .await;
                }
                let found = content.matches(old).count();
                let edited = match (found, replace_all) {
                    (0, _) => return self.error(format!("old_string not found in {shown}")).await,
                    (1, _) | (_, true) => content.replace(old, new),
                    (many, false) => {
                        return self
                            .error(format!(
                                "old_string occurs {many} times in {shown}; add context or set replace_all"
                            ))
                            .await;
                    }
                };
                // Written only over the content read: an edit racing another fails.
                let written = self
                    .op(Op::Write {
                        path: inner.to_owned(),
                        content: edited,
                        expected_sha256: Some(sha256),
                    })
                    .await?;
                match written {
                    CallResult::Written { .. } => {
                        self.ok(format!("edited {shown} ({found} replacement(s))"))
                            .await
                    }
                    other => self.failed(other).await,
                }
            }
            ToolKind::ListDir => {
                let depth = number("depth").unwrap_or(1).clamp(1, 5) as u32;
                let listed = self
                    .op(Op::List {
                        path: inner.to_owned(),
                        depth,
                        limit: LISTING_MAX,
                    })
                    .await?;
                match listed {
                    CallResult::Listed { entries, truncated } => {
                        let mut output: String = entries
                            .iter()
                            .map(|entry| {
                                let dir = matches!(entry.kind, env_protocol::EntryKind::Dir);
                                format!("{}{}\n", entry.path, if dir { "/" } else { "" })
                            })
                            .collect();
                        if truncated {
                            output.push_str(&format!("[listing stopped at {LISTING_MAX} entries]\n"));
                        }
                        self.ok(output).await
                    }
                    other => self.failed(other).await,
                }
            }
            ToolKind::Grep => {
                let Some(pattern) = text("pattern") else {
                    return self.error("`pattern` is required".to_owned()).await;
                };
                let glob = arguments
                    .get("include")
                    .or_else(|| arguments.get("glob"))
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                let searched = self
                    .op(Op::Search {
                        path: inner.to_owned(),
                        pattern: pattern.to_owned(),
                        glob,
                        limit: LISTING_MAX,
                    })
                    .await?;
                match searched {
                    CallResult::Searched { matches, truncated } => {
                        let mut output: String = matches
                            .iter()
                            .map(|hit| format!("{}:{}:{}\n", hit.path, hit.line, hit.text))
                            .collect();
                        if matches.is_empty() {
                            output.push_str("no matches\n");
                        }
                        if truncated {
                            output.push_str(&format!("[search stopped at {LISTING_MAX} matches]\n"));
                        }
                        self.ok(output).await
                    }
                    other => self.failed(other).await,
                }
            }
            ToolKind::Glob => {
                let Some(pattern) = text("pattern") else {
                    return self.error("`pattern` is required".to_owned()).await;
                };
                let globbed = self
                    .op(Op::Glob {
                        path: inner.to_owned(),
                        glob: pattern.to_owned(),
                        limit: LISTING_MAX,
                    })
                    .await?;
                match globbed {
                    CallResult::Globbed { paths, truncated } => {
                        let mut output = paths.join("\n");
                        if truncated {
                            output.push_str(&format!("\n[stopped at {LISTING_MAX} paths]"));
                        }
                        self.ok(output).await
                    }
                    other => self.failed(other).await,
                }
            }
            ToolKind::ApplyPatch => {
                self.error(
                    "apply_patch does not reach environments (/env/...): use edit_file, write_file or a command"
                        .to_owned(),
                )
                .await
            }
        }
    }

    /// Runs `op` on the environment as a file job and returns the daemon's answer.
    async fn op(&self, op: Op) -> Result<CallResult, AdapterError> {
        let result = self
            .tools
            .submit(
                self.store,
                self.session,
                self.call,
                self.context,
                self.attachment,
                JobKind::File,
                op,
                self.now_ms,
                self.tools.limits.file_timeout_ms,
            )
            .await?;
        // File jobs are finished by the gateway with the daemon's answer as the
        // tool result's output; read it back to shape what the model sees.
        let output = self.store.get(&result.output_ref).await?;
        let value: Value = serde_json::from_slice(&output).unwrap_or(Value::Null);
        if result.status == ToolStatus::Error {
            let message = value
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("the environment refused the file operation")
                .to_owned();
            let code = value
                .get("code")
                .and_then(Value::as_str)
                .unwrap_or("io")
                .to_owned();
            return Ok(CallResult::Failed {
                code: serde_json::from_value(Value::String(code))
                    .unwrap_or(env_protocol::FailureCode::Io),
                message,
            });
        }
        serde_json::from_value(value).map_err(|err| {
            AdapterError::Other(format!("unreadable answer to a file operation: {err}"))
        })
    }

    async fn ok(&self, output: String) -> Result<ToolResult, AdapterError> {
        self.result(ToolStatus::Ok, json!(output)).await
    }

    async fn error(&self, message: String) -> Result<ToolResult, AdapterError> {
        self.result(ToolStatus::Error, json!({"error": message}))
            .await
    }

    async fn failed(&self, answer: CallResult) -> Result<ToolResult, AdapterError> {
        let value = match answer {
            CallResult::Failed { code, message } => json!({"error": message, "code": code}),
            other => json!({"error": format!("unexpected answer: {other:?}")}),
        };
        self.result(ToolStatus::Error, value).await
    }

    async fn result(&self, status: ToolStatus, output: Value) -> Result<ToolResult, AdapterError> {
        crate::toolset::result(self.call, self.store, status, &output).await
    }
}

/// Environment file reads for context sources (`AGENTS.md`, skills), outside any
/// tool call: the job is filed under a fixed context call id and waited for.
impl EnvTools {
    fn context_run<'a, S>(
        &'a self,
        store: &'a S,
        session: &'a SessionId,
        call: &'a ToolCallRequest,
        context: &'a EnvCall,
        attachment: &'a Attachment,
        now_ms: u64,
    ) -> FileRun<'a, S> {
        FileRun {
            tools: self,
            store,
            session,
            call,
            context,
            attachment,
            now_ms,
        }
    }

    /// The text of `path` (relative to the environment's directory), or `None` when
    /// it is absent, binary or over `max_bytes`.
    pub async fn read_text<S: EnvCatalog + BlobStore>(
        &self,
        store: &S,
        session: &SessionId,
        attachment: &Attachment,
        path: &str,
        max_bytes: u64,
        now_ms: u64,
    ) -> Result<Option<String>, AdapterError> {
        let (call, context) = context_call()?;
        let run = self.context_run(store, session, &call, &context, attachment, now_ms);
        let op = Op::Read {
            path: path.to_owned(),
            offset: 0,
            limit: max_bytes + 1,
        };
        Ok(match run.op(op).await? {
            CallResult::Read {
                content,
                binary: false,
                size,
                ..
            } if size <= max_bytes => Some(content),
            _ => None,
        })
    }

    /// Paths (relative to the environment's directory) under `dir` matching `glob`.
    #[allow(clippy::too_many_arguments)]
    pub async fn glob_paths<S: EnvCatalog + BlobStore>(
        &self,
        store: &S,
        session: &SessionId,
        attachment: &Attachment,
        dir: &str,
        glob: &str,
        limit: u32,
        now_ms: u64,
    ) -> Result<Vec<String>, AdapterError> {
        let (call, context) = context_call()?;
        let run = self.context_run(store, session, &call, &context, attachment, now_ms);
        let op = Op::Glob {
            path: dir.to_owned(),
            glob: glob.to_owned(),
            limit,
        };
        Ok(match run.op(op).await? {
            CallResult::Globbed { paths, .. } => paths,
            _ => Vec::new(),
        })
    }
}

/// The call and context a context source's file job is filed under (waited for).
fn context_call() -> Result<(ToolCallRequest, EnvCall), AdapterError> {
    let call = ToolCallRequest {
        call_id: engine::ToolCallId::new("context-source")
            .map_err(|err| AdapterError::Other(err.to_string()))?,
        name: "read_file".into(),
        arguments_ref: engine::BlobRef::of_bytes(b"{}"),
    };
    let context = EnvCall {
        run_id: String::new(),
        batch: 0,
        completion: Completion::Wait,
    };
    Ok((call, context))
}
