//! [`LlmCompactor`]: compaction by summarisation with the session's own model.
//!
//! Compaction replaces every unkeyed context item (the transcript, and the summary of
//! any earlier compaction) with what the compactor returns; keyed items (instructions,
//! catalogs) stay. So the summariser reads exactly those items: it renders them as
//! plain text (provider items through llm-runtime's neutral reading, so any API kind
//! can summarise any other's transcript and tool call/result pairing never matters),
//! asks the model for a summary in one generation without tools, and stores the
//! summary text as one `summary` item.
//!
//! The input is bounded ([`SummaryLimits`]): each item's text is cut in the middle
//! beyond `item_bytes_max`, and when the transcript exceeds `input_bytes_max` the
//! oldest items are left out (earlier summaries always stay). Items are read newest
//! first and reading stops once the budget is spent, so a long transcript costs
//! bounded I/O as well.

use engine::RunId;
use engine::core::config::ToolChoice;
use engine::core::context::{ContextItem, ItemKind, ItemSpec, estimate_tokens};
use engine::core::effects::{CompactionOutcome, GenerationResult};
use engine::core::request::GenerationRequest;
use engine::core::state::SessionState;
use engine::store::BlobStore;
use llm_runtime::content::{ItemContent, OutputItemBlob, load_content};
use llm_runtime::foreign::{NeutralItem, neutralize, reasoning_text};
use llm_runtime::{LlmRuntime, NoDeltas, RuntimeError, Transport};

use crate::adapter::{AdapterError, Compactor};

/// What the summariser is told to do (its instructions item).
pub const SUMMARY_INSTRUCTIONS: &str = "You compact the conversation of an AI agent so its \
work can continue in a fresh context window. Write the summary that will replace the \
conversation. Keep: the user's goals, constraints and preferences; decisions taken and \
why; what was done, with exact file paths, names, commands, values and results that \
still matter; errors met and how they were handled; open questions; the next steps. \
Drop pleasantries and anything later superseded. Plain text, no preamble.";

/// The first line of the summarisation request (the user message that carries the
/// rendered conversation); tests match scripted replies on it.
pub const SUMMARY_REQUEST: &str = "Summarise this conversation for its continuation.";

/// Bounds of the summarisation input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SummaryLimits {
    /// Text of one item; a longer one keeps its head and tail. Default 16 KiB.
    pub item_bytes_max: usize,
    /// The rendered conversation; older items beyond it are left out. Default 256 KiB
    /// (about 64k tokens at four bytes a token).
    pub input_bytes_max: usize,
}

impl Default for SummaryLimits {
    fn default() -> Self {
        Self {
            item_bytes_max: 16 * 1024,
            input_bytes_max: 256 * 1024,
        }
    }
}

/// Summarises through [`LlmRuntime`] with the session's model route, output cap and
/// provider params. Retryable provider failures come back as
/// [`AdapterError::Transient`] (the host decides how often to retry), other
/// failures as [`AdapterError::Failed`] with llm-runtime's stable code.
#[derive(Clone)]
pub struct LlmCompactor {
    runtime: LlmRuntime,
    transport: Transport,
    limits: SummaryLimits,
}

impl LlmCompactor {
    pub fn new(runtime: LlmRuntime, transport: Transport) -> Self {
        Self {
            runtime,
            transport,
            limits: SummaryLimits::default(),
        }
    }

    pub fn with_limits(mut self, limits: SummaryLimits) -> Self {
        self.limits = limits;
        self
    }
}

fn failed(code: &str, message: impl Into<String>) -> AdapterError {
    AdapterError::Failed {
        code: code.to_owned(),
        message: message.into(),
    }
}

fn runtime_error(err: RuntimeError) -> AdapterError {
    match err {
        RuntimeError::Store(err) => AdapterError::Store(err),
        err if err.is_retryable() => AdapterError::Transient {
            retry_after: match &err {
                RuntimeError::Provider(provider) => provider.retry_after,
                _ => None,
            },
            message: err.to_string(),
        },
        err => failed(err.code(), err.to_string()),
    }
}

impl Compactor for LlmCompactor {
    async fn compact<B: BlobStore>(
        &self,
        state: &SessionState,
        blobs: &B,
    ) -> Result<CompactionOutcome, AdapterError> {
        let control = &state.control;
        let (Some(session_id), Some(config)) = (&control.session_id, &control.config) else {
            return Err(failed("not_open", "the session was never opened"));
        };
        let replaced: Vec<&ContextItem> = state
            .context
            .items()
            .iter()
            .filter(|item| item.key.is_none())
            .collect();
        if replaced.is_empty() {
            return Err(failed(
                "nothing_to_compact",
                "the context has no transcript",
            ));
        }
        let instruction = match control
            .compaction
            .pending
            .as_ref()
            .and_then(|pending| pending.instruction.as_ref())
        {
            Some(blob) => Some(String::from_utf8_lossy(&blobs.get(blob).await?).into_owned()),
            None => None,
        };
        if let Some(native) = self.native(state, instruction.as_deref(), blobs).await? {
            return Ok(native);
        }
        let conversation = render(&replaced, blobs, &self.limits).await?;
        let compaction = control
            .compaction
            .pending
            .as_ref()
            .map_or(control.compaction.requested_total, |pending| {
                pending.compaction
            });
        let instructions = match &instruction {
            Some(instruction) => format!(
                "{SUMMARY_INSTRUCTIONS}\n\nWhoever asked for this compaction wants you to keep \
                 in particular: {instruction}"
            ),
            None => SUMMARY_INSTRUCTIONS.to_owned(),
        };
        let instructions = text_item(blobs, ItemKind::Instructions, &instructions).await?;
        let request_text =
            format!("{SUMMARY_REQUEST}\n\n<conversation>\n{conversation}</conversation>");
        let conversation = text_item(blobs, ItemKind::UserMessage, &request_text).await?;
        let request = GenerationRequest {
            session_id: session_id.clone(),
            run_id: RunId::new(format!("compaction_{compaction}"))
                .map_err(|err| AdapterError::Other(err.to_string()))?,
            turn: 1,
            model: config.model.clone(),
            output_tokens_max: config.generation.output_tokens_max,
            // No tools: `auto` is what every adapter sends as no choice at all.
            tool_choice: ToolChoice::Auto,
            provider_params: config.generation.provider_params.clone(),
            tools: Vec::new(),
            items: vec![
                ContextItem::new(0, Some("instructions".into()), &instructions),
                ContextItem::new(1, None, &conversation),
            ],
        };
        let result = self
            .runtime
            .generate(request, blobs, self.transport, &NoDeltas)
            .await
            .map_err(runtime_error)?;
        let summary = summary_text(&result, blobs).await?;
        if summary.trim().is_empty() {
            return Err(failed(
                "empty_summary",
                "the model returned no summary text",
            ));
        }
        let bytes = summary.into_bytes();
        let token_estimate = estimate_tokens(&bytes);
        let content_ref = blobs.put(bytes).await?;
        Ok(CompactionOutcome::Compacted {
            summary: vec![ItemSpec::new(
                ItemKind::Summary,
                content_ref,
                token_estimate,
            )],
        })
    }
}

impl LlmCompactor {
    /// Native compaction, when the session's API kind has it and its params ask for
    /// it (`openai:responses` with `native_compaction`). `None`: summarise instead,
    /// also when the native call failed for good (a compatible server without the
    /// endpoint, say); a failure that may clear is returned, so the host retries.
    async fn native<B: BlobStore>(
        &self,
        state: &SessionState,
        instruction: Option<&str>,
        blobs: &B,
    ) -> Result<Option<CompactionOutcome>, AdapterError> {
        let control = &state.control;
        let (Some(session_id), Some(config)) = (&control.session_id, &control.config) else {
            return Ok(None);
        };
        let wanted = config.model.api_kind == "openai:responses"
            && llm_runtime::params::responses_params(&config.generation.provider_params)
                .is_ok_and(|params| params.native_compaction == Some(true));
        if !wanted {
            return Ok(None);
        }
        let request = GenerationRequest {
            session_id: session_id.clone(),
            run_id: RunId::new(format!("compaction_{}", control.compaction.requested_total))
                .map_err(|err| AdapterError::Other(err.to_string()))?,
            turn: 1,
            model: config.model.clone(),
            output_tokens_max: config.generation.output_tokens_max,
            tool_choice: ToolChoice::Auto,
            provider_params: config.generation.provider_params.clone(),
            tools: Vec::new(),
            items: state.context.items().to_vec(),
        };
        match self
            .runtime
            .compact_native(request, instruction, blobs)
            .await
        {
            Ok(summary) => Ok(Some(CompactionOutcome::Compacted { summary })),
            Err(err) if err.is_retryable() => Err(runtime_error(err)),
            Err(_) => Ok(None),
        }
    }
}

async fn text_item<B: BlobStore>(
    blobs: &B,
    kind: ItemKind,
    text: &str,
) -> Result<ItemSpec, AdapterError> {
    let bytes = text.as_bytes().to_vec();
    let token_estimate = estimate_tokens(&bytes);
    Ok(ItemSpec::new(kind, blobs.put(bytes).await?, token_estimate))
}

/// The conversation as text within `limits`: earlier summaries first, then as many
/// of the newest items as fit, oldest first.
async fn render<B: BlobStore>(
    items: &[&ContextItem],
    blobs: &B,
    limits: &SummaryLimits,
) -> Result<String, AdapterError> {
    let (summaries, transcript): (Vec<&ContextItem>, Vec<&ContextItem>) = items
        .iter()
        .copied()
        .partition(|item| matches!(item.kind, ItemKind::Summary | ItemKind::Compaction));
    let mut budget = limits.input_bytes_max;
    let mut out = String::new();
    for item in summaries {
        let text = section(item, blobs, limits).await?;
        budget = budget.saturating_sub(text.len());
        out.push_str(&text);
    }
    let mut newest_first = Vec::new();
    let mut omitted = 0usize;
    for item in transcript.iter().rev() {
        if budget == 0 {
            omitted += 1;
            continue;
        }
        let text = section(item, blobs, limits).await?;
        if text.len() > budget {
            // Keep the kept part contiguous: nothing older goes in either.
            budget = 0;
            omitted += 1;
            continue;
        }
        budget -= text.len();
        newest_first.push(text);
    }
    if omitted > 0 {
        out.push_str(&format!(
            "[{omitted} older items left out to bound this request]\n\n"
        ));
    }
    for text in newest_first.iter().rev() {
        out.push_str(text);
    }
    Ok(out)
}

/// One item as a labelled block, its text bounded by `item_bytes_max`.
async fn section<B: BlobStore>(
    item: &ContextItem,
    blobs: &B,
    limits: &SummaryLimits,
) -> Result<String, AdapterError> {
    let bytes = blobs.get(&item.content_ref).await?;
    let blocks = match load_content(item, bytes) {
        Ok(content) => blocks(item, content),
        // Content no adapter could send either: say so rather than fail compaction.
        Err(_) => vec![(label(item), "[unreadable content left out]".to_owned())],
    };
    let mut out = String::new();
    for (label, text) in blocks {
        out.push_str(&format!(
            "[{label}]\n{}\n\n",
            bounded(&text, limits.item_bytes_max)
        ));
    }
    Ok(out)
}

fn label(item: &ContextItem) -> String {
    match item.kind {
        ItemKind::Instructions => "instructions".into(),
        ItemKind::Catalog => "catalog".into(),
        ItemKind::Summary | ItemKind::Compaction => "summary of the conversation before".into(),
        ItemKind::UserMessage | ItemKind::UserAudio => "user".into(),
        ItemKind::AssistantMessage | ItemKind::ProviderOpaque => "assistant".into(),
        ItemKind::ToolCall => "tool call".into(),
        ItemKind::Reasoning => "assistant reasoning".into(),
        ItemKind::ToolResult => {
            let call = item.call_id.as_ref().map_or("", |id| id.as_str());
            match item.is_error {
                true => format!("tool result {call} (error)"),
                false => format!("tool result {call}"),
            }
        }
    }
}

/// The labelled text blocks of one item.
fn blocks(item: &ContextItem, content: ItemContent) -> Vec<(String, String)> {
    match content {
        ItemContent::Text(text) => vec![(label(item), text)],
        ItemContent::Media { media_type, .. } => vec![(
            label(item),
            format!("[{} attachment left out]", media_type.mime()),
        )],
        ItemContent::Provider(envelope) => provider_blocks(&envelope),
    }
}

fn provider_blocks(envelope: &OutputItemBlob) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for neutral in neutralize(envelope) {
        match neutral {
            NeutralItem::AssistantText(text) => out.push(("assistant".to_owned(), text)),
            NeutralItem::ToolCall {
                call_id,
                name,
                arguments,
            } => out.push((format!("tool call {name} {call_id}"), arguments)),
            // Encrypted or provider-private output: only its readable reasoning, if any.
            NeutralItem::Opaque => {
                if let Some(text) = reasoning_text(envelope) {
                    out.push(("assistant reasoning".to_owned(), text));
                }
            }
        }
    }
    out
}

/// `text` within `max` bytes: head and tail around a marker when it is longer.
fn bounded(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut head = max * 3 / 4;
    while !text.is_char_boundary(head) {
        head -= 1;
    }
    let mut tail = text.len() - (max - head);
    while !text.is_char_boundary(tail) {
        tail += 1;
    }
    format!(
        "{}\n[... {} bytes left out ...]\n{}",
        &text[..head],
        tail - head,
        &text[tail..]
    )
}

/// The assistant text of the summarisation result, read back from the CAS.
async fn summary_text<B: BlobStore>(
    result: &GenerationResult,
    blobs: &B,
) -> Result<String, AdapterError> {
    let mut parts = Vec::new();
    for item in &result.items {
        if item.kind != ItemKind::AssistantMessage {
            continue;
        }
        let bytes = blobs.get(&item.content_ref).await?;
        match serde_json::from_slice::<OutputItemBlob>(&bytes) {
            Ok(envelope) => {
                parts.extend(neutralize(&envelope).into_iter().filter_map(
                    |neutral| match neutral {
                        NeutralItem::AssistantText(text) => Some(text),
                        NeutralItem::ToolCall { .. } | NeutralItem::Opaque => None,
                    },
                ))
            }
            Err(_) => parts.push(String::from_utf8_lossy(&bytes).into_owned()),
        }
    }
    Ok(parts.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::bounded;

    #[test]
    fn long_text_keeps_head_and_tail() {
        let text = "a".repeat(600) + &"b".repeat(400);
        let cut = bounded(&text, 100);
        assert!(cut.starts_with(&"a".repeat(75)), "{cut}");
        assert!(cut.ends_with(&"b".repeat(25)), "{cut}");
        assert!(cut.contains("[... 900 bytes left out ...]"), "{cut}");
        assert_eq!(bounded("short", 100), "short");
        // Never splits a character.
        let wide = "é".repeat(100);
        assert!(bounded(&wide, 33).contains("left out"));
    }
}
