//! The shell tools' definitions per provider surface, marked `env` so a call is
//! routed by its definition, never by a name a model chose.

use serde::Deserialize;
use serde_json::json;

use super::{EnvLimits, ShellTool};

/// The definitions attaching environments registers on a session on `api_kind`:
/// `(name, canonical definition bytes)`. `names` are the attachment names; the
/// `environment` argument is an enum of them.
pub fn shell_definitions(
    api_kind: &str,
    names: &[String],
    limits: &EnvLimits,
) -> Vec<(String, Vec<u8>)> {
    let environment = json!({
        "type": "string",
        "enum": names,
        "description": format!(
            "Which attached environment to run on (default: {}).",
            names.first().map_or("the only one", String::as_str)
        ),
    });
    let roots = names
        .iter()
        .map(|name| format!("/env/{name}"))
        .collect::<Vec<_>>()
        .join(", ");
    let where_ = format!(
        "Commands run on a machine lent to this session, in its directory (the file tools see \
         it at {roots}), in a POSIX shell."
    );
    let output = format!(
        "Output (stdout and stderr together) over {} bytes is cut to its head and tail with a \
         marker; the whole output is kept and its ref given.",
        limits.model_output_bytes
    );
    ShellTool::for_api_kind(api_kind)
        .iter()
        .map(|tool| {
            let (description, parameters) = match tool {
                ShellTool::Exec => (
                    format!(
                        "Runs a shell command and returns its exit code and output. {where_} \
                         Without `yield_time_ms` it waits until the command exits or its timeout \
                         (default {} ms) kills its whole process group. With `yield_time_ms` it \
                         returns after that long with a `session_id` if the command still runs; \
                         talk to it with write_stdin. {output}",
                        limits.command_timeout_default_ms
                    ),
                    json!({
                        "type": "object",
                        "properties": {
                            "cmd": {"type": "string", "description": "The shell command."},
                            "workdir": {"type": "string", "description": "Working directory, relative to the environment's directory (default: it)."},
                            "timeout_ms": {"type": "integer", "minimum": 1, "description": "Kill the command after this long."},
                            "yield_time_ms": {"type": "integer", "minimum": 0, "maximum": limits.yield_max_ms, "description": "Return after this long even if the command still runs (interactive programs)."},
                            "environment": environment,
                        },
                        "required": ["cmd"],
                        "additionalProperties": false,
                    }),
                ),
                ShellTool::WriteStdin => (
                    format!(
                        "Writes `chars` to the stdin of a command exec_command left running \
                         (its `session_id`), then returns what it printed within \
                         `yield_time_ms`. An empty `chars` just collects output. {output}"
                    ),
                    json!({
                        "type": "object",
                        "properties": {
                            "session_id": {"type": "string", "description": "From exec_command's result."},
                            "chars": {"type": "string", "description": "Text to write (include \\n to submit a line)."},
                            "yield_time_ms": {"type": "integer", "minimum": 0, "maximum": limits.yield_max_ms},
                            "close_stdin": {"type": "boolean", "description": "Close stdin after writing (end of input)."},
                            "kill": {"type": "boolean", "description": "Kill the command's process group instead."},
                        },
                        "required": ["session_id"],
                        "additionalProperties": false,
                    }),
                ),
                ShellTool::Bash => (
                    format!(
                        "Runs a bash command and returns its exit code and output. {where_} It \
                         waits until the command exits or its timeout (default {} ms) kills its \
                         whole process group. {output}",
                        limits.command_timeout_default_ms
                    ),
                    json!({
                        "type": "object",
                        "properties": {
                            "command": {"type": "string", "description": "The command to run."},
                            "timeout": {"type": "integer", "minimum": 1, "description": "Timeout in milliseconds."},
                            "description": {"type": "string", "description": "What the command does, in a few words."},
                            "environment": environment,
                        },
                        "required": ["command"],
                        "additionalProperties": false,
                    }),
                ),
            };
            let bytes = engine::canonical::to_vec(&json!({
                "name": tool.name(),
                "description": description,
                "parameters": parameters,
                "env": {"tool": tool.marker()},
            }));
            (tool.name().to_owned(), bytes)
        })
        .collect()
}

/// Which shell tool a stored definition is, if it is one.
pub fn shell_tool_of(definition: &[u8]) -> Option<ShellTool> {
    #[derive(Deserialize)]
    struct Marker {
        tool: String,
    }
    #[derive(Deserialize)]
    struct Definition {
        env: Option<Marker>,
    }
    let marker = serde_json::from_slice::<Definition>(definition).ok()?.env?;
    match marker.tool.as_str() {
        "exec" => Some(ShellTool::Exec),
        "stdin" => Some(ShellTool::WriteStdin),
        "bash" => Some(ShellTool::Bash),
        _ => None,
    }
}
