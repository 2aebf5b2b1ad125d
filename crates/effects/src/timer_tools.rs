//! The durable time tools: `sleep`, `wait_until` and `wake_me_at`.
//!
//! None of them waits in its activity. Each checks its arguments, writes the result
//! the model will see, and hands the engine a [`Later`]: record the result at a time
//! (`sleep`, `wait_until`), or record it now, end the run and request a new one at a
//! time (`wake_me_at`). The session workflow keeps one timer for the earliest such
//! time (docs/spec/orchestration.md), so a week-long sleep holds no worker slot and
//! survives restarts and continue-as-new.

use engine::core::context::{ItemKind, ItemSpec, estimate_tokens};
use engine::core::effects::{Later, ToolResult};
use engine::core::holds::HOLD_HORIZON_MS_MAX;
use engine::core::run::{ToolCallRequest, ToolStatus};
use engine::store::BlobStore;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::adapter::AdapterError;

pub const SLEEP: &str = "sleep";
pub const WAIT_UNTIL: &str = "wait_until";
pub const WAKE_ME_AT: &str = "wake_me_at";
/// The time tools, in registration order.
pub const TIMER_TOOLS: [&str; 3] = [SLEEP, WAIT_UNTIL, WAKE_ME_AT];
/// Bytes of a wake-up's note (it becomes the next run's input).
pub const WAKE_UP_NOTE_BYTES_MAX: usize = 8 * 1024;
/// A `sleep` of `{"ms": n}` at most this long holds its activity instead of a timer:
/// the form tests and benchmarks use when they need a call in flight (a worker
/// killed mid-call). The model is only ever shown `seconds`.
const HELD_SLEEP_MS_MAX: u64 = 60_000;

/// The definitions a session with `tools.timers` registers: (name, JSON bytes).
pub fn timer_definitions() -> Vec<(String, Vec<u8>)> {
    let horizon_days = HOLD_HORIZON_MS_MAX / 86_400_000;
    let sleep = format!(
        "Pause for a number of seconds (at most {horizon_days} days), then continue this \
         task. Nothing runs while you sleep; use it to wait for something that takes time \
         (a deploy, a build, a reply)."
    );
    let tools = [
        (
            SLEEP,
            sleep.as_str(),
            json!({
                "type": "object",
                "properties": {"seconds": {"type": "number", "minimum": 0}},
                "required": ["seconds"],
            }),
        ),
        (
            WAIT_UNTIL,
            "Pause until a time (RFC 3339, e.g. 2026-12-24T09:00:00Z), then continue this \
             task. A time in the past returns at once.",
            json!({
                "type": "object",
                "properties": {"time": {"type": "string", "format": "date-time"}},
                "required": ["time"],
            }),
        ),
        (
            WAKE_ME_AT,
            "End this task now and start again later: at `time` (RFC 3339) or `in_seconds` \
             from now, a new run starts with `note` as its input. Write the note to your \
             future self: what to check and why.",
            json!({
                "type": "object",
                "properties": {
                    "time": {"type": "string", "format": "date-time"},
                    "in_seconds": {"type": "number", "minimum": 0},
                    "note": {"type": "string"},
                },
                "required": ["note"],
            }),
        ),
    ];
    crate::toolset::definitions(tools)
}

/// Whether `name` is one of the time tools.
pub fn is_timer_tool(name: &str) -> bool {
    TIMER_TOOLS.contains(&name)
}

/// Runs a time tool's call at `now_ms` (wall clock, milliseconds since the epoch).
pub async fn invoke<B: BlobStore>(
    blobs: &B,
    call: &ToolCallRequest,
    arguments: &[u8],
    now_ms: u64,
) -> Result<ToolResult, AdapterError> {
    let arguments: Value = serde_json::from_slice(arguments).unwrap_or(Value::Null);
    let planned = match call.name.as_str() {
        SLEEP => sleep(&arguments, now_ms).await,
        WAIT_UNTIL => wait_until(&arguments, now_ms),
        _ => wake_me_at(blobs, &arguments, now_ms).await?,
    };
    let (status, output, later) = match planned {
        Ok((output, later)) => (ToolStatus::Ok, output, later),
        Err(message) => (ToolStatus::Error, json!({"error": message}), None),
    };
    let bytes = engine::canonical::to_vec(&output);
    let token_estimate = estimate_tokens(&bytes);
    let output_ref = blobs.put(bytes).await?;
    let mut result = ToolResult::now(call.call_id.clone(), status, output_ref, token_estimate);
    result.later = later;
    Ok(result)
}

type Planned = Result<(Value, Option<Later>), String>;

/// `now + ms`, or an error naming the horizon.
fn due(now_ms: u64, ms: u64) -> Result<u64, String> {
    if ms > HOLD_HORIZON_MS_MAX {
        return Err(format!(
            "that is too far ahead: at most {} days",
            HOLD_HORIZON_MS_MAX / 86_400_000
        ));
    }
    Ok(now_ms.saturating_add(ms))
}

fn rfc3339(ms: u64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|time| time.format(&Rfc3339).ok())
        .unwrap_or_else(|| format!("{ms} ms after the epoch"))
}

/// Seconds as milliseconds; refuses negatives, NaN and infinities.
fn seconds_ms(value: &Value) -> Option<u64> {
    let seconds = value.as_f64()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| (seconds * 1_000.0).min(u64::MAX as f64) as u64)
}

fn parse_time(value: &Value) -> Result<u64, String> {
    let text = value
        .as_str()
        .ok_or_else(|| "time must be an RFC 3339 string, e.g. 2026-12-24T09:00:00Z".to_owned())?;
    let time = OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|err| format!("time {text:?} is not RFC 3339: {err}"))?;
    let ms = time.unix_timestamp_nanos() / 1_000_000;
    u64::try_from(ms).map_err(|_| format!("time {text:?} is before 1970"))
}

async fn sleep(arguments: &Value, now_ms: u64) -> Planned {
    if let Some(ms) = arguments["ms"].as_u64()
        && arguments.get("seconds").is_none()
    {
        if ms > HELD_SLEEP_MS_MAX {
            return Err(format!(
                "ms must be at most {HELD_SLEEP_MS_MAX}; use seconds"
            ));
        }
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        return Ok((json!({"slept_ms": ms}), None));
    }
    let ms = seconds_ms(&arguments["seconds"])
        .ok_or_else(|| "seconds must be a number of at least 0".to_owned())?;
    let until = due(now_ms, ms)?;
    let output = json!({"slept_seconds": ms as f64 / 1_000.0, "woke_at": rfc3339(until)});
    Ok((output, (ms > 0).then_some(Later::At { at_ms: until })))
}

fn wait_until(arguments: &Value, now_ms: u64) -> Planned {
    let at = parse_time(&arguments["time"])?;
    due(now_ms, at.saturating_sub(now_ms))?;
    let output = json!({"waited_until": rfc3339(at.max(now_ms))});
    Ok((output, (at > now_ms).then_some(Later::At { at_ms: at })))
}

async fn wake_me_at<B: BlobStore>(
    blobs: &B,
    arguments: &Value,
    now_ms: u64,
) -> Result<Planned, AdapterError> {
    let note = match arguments["note"].as_str().map(str::trim) {
        Some(note) if !note.is_empty() && note.len() <= WAKE_UP_NOTE_BYTES_MAX => note,
        _ => {
            return Ok(Err(format!(
                "note must be a non-empty string of at most {WAKE_UP_NOTE_BYTES_MAX} bytes"
            )));
        }
    };
    let at = match (arguments.get("time"), arguments.get("in_seconds")) {
        (Some(time), None) => parse_time(time),
        (None, Some(seconds)) => seconds_ms(seconds)
            .ok_or_else(|| "in_seconds must be a number of at least 0".to_owned())
            .and_then(|ms| due(now_ms, ms)),
        _ => Err("give exactly one of time and in_seconds".to_owned()),
    };
    let at = match at.and_then(|at| due(now_ms, at.saturating_sub(now_ms)).map(|_| at)) {
        Ok(at) => at.max(now_ms),
        Err(message) => return Ok(Err(message)),
    };
    // The next run's input: the note as the user message it will read.
    let text = format!("Wake-up you scheduled for {}: {note}", rfc3339(at));
    let bytes = text.into_bytes();
    let token_estimate = estimate_tokens(&bytes);
    let content_ref = blobs.put(bytes).await?;
    let input = vec![ItemSpec::new(
        ItemKind::UserMessage,
        content_ref,
        token_estimate,
    )];
    let output = json!({
        "wake_up_at": rfc3339(at),
        "note": "This run ends now; a new run starts then with your note.",
    });
    Ok(Ok((output, Some(Later::WakeUp { at_ms: at, input }))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_and_refuse_garbage() {
        assert_eq!(parse_time(&json!("1970-01-01T00:00:01Z")), Ok(1_000));
        assert!(parse_time(&json!("tomorrow")).is_err());
        assert!(parse_time(&json!(5)).is_err());
        assert_eq!(seconds_ms(&json!(1.5)), Some(1_500));
        assert_eq!(seconds_ms(&json!(-1)), None);
        assert!(due(0, HOLD_HORIZON_MS_MAX + 1).is_err());
        assert_eq!(rfc3339(1_000), "1970-01-01T00:00:01Z");
    }

    #[tokio::test]
    async fn sleeping_defers_and_a_past_time_returns_at_once() {
        let (output, later) = sleep(&json!({"seconds": 3}), 10_000).await.unwrap();
        assert_eq!(later, Some(Later::At { at_ms: 13_000 }));
        assert_eq!(output["slept_seconds"], 3.0);
        let (_, later) = wait_until(&json!({"time": "1970-01-01T00:00:05Z"}), 10_000).unwrap();
        assert_eq!(later, None);
        assert!(sleep(&json!({"seconds": "x"}), 0).await.is_err());
        let (_, later) = sleep(&json!({"ms": 0}), 0).await.unwrap();
        assert_eq!(later, None);
    }
}
