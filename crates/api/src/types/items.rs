use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Tool result as clients see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ToolResultView {
    /// `ok`, `error` or `notExecuted`.
    pub status: String,
    /// The output text, cut to 16 KiB; `truncated` says when.
    pub output: String,
    pub truncated: bool,
    pub output_ref: String,
}

/// A transcript entry, provider-neutral.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ItemView {
    #[serde(rename_all = "camelCase")]
    UserMessage {
        item_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        run_id: Option<String>,
        /// Text, when the input is text: cut to 64 KiB (`truncated` says when; the
        /// whole text is at `blobRef`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
        /// Media type, when the input is an image or a PDF (and small enough to be
        /// looked at: over 256 KiB neither text nor media type is given, and
        /// `truncated` is set).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        media_type: Option<String>,
        blob_ref: String,
        /// The view shows less than the blob holds.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        truncated: bool,
        /// For a voice note's transcript: the audio it was transcribed from.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        audio_ref: Option<String>,
    },
    #[serde(rename_all = "camelCase")]
    AssistantMessage {
        item_id: String,
        run_id: Option<String>,
        text: String,
        /// Sources the provider cited for the text (hosted web search or fetch, file
        /// search), in the provider's order.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        citations: Vec<CitationView>,
    },
    /// A tool the provider ran itself (web search, code execution, ...); its output
    /// is kept verbatim in the session and reaches the model, not the client.
    #[serde(rename_all = "camelCase")]
    HostedToolCall {
        item_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        run_id: Option<String>,
        /// `web_search`, `web_fetch`, `code_execution`, `image_generation`,
        /// `file_search`, or the provider's name for another.
        tool: String,
        /// What it was asked (a query, a URL, code), cut to 4 KiB.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    #[serde(rename_all = "camelCase")]
    Reasoning {
        item_id: String,
        run_id: Option<String>,
        summary: String,
    },
    #[serde(rename_all = "camelCase")]
    ToolCall {
        item_id: String,
        run_id: Option<String>,
        call_id: String,
        name: String,
        /// The arguments JSON text as the model wrote it.
        arguments: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        result: Option<ToolResultView>,
    },
    #[serde(rename_all = "camelCase")]
    Error {
        item_id: String,
        run_id: Option<String>,
        code: String,
        message: String,
    },
    /// The context was compacted here: what came before is replaced by a summary.
    #[serde(rename_all = "camelCase")]
    Compaction {
        item_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        run_id: Option<String>,
        /// The provider compacted (its own opaque item, replayed verbatim), rather
        /// than a summary Lightspeed asked the model for.
        native: bool,
        /// The summary, when it is readable text (a summary, Anthropic's compaction
        /// block; OpenAI's compaction item is encrypted): cut to 64 KiB.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        summary: Option<String>,
    },
}

/// A source cited by an answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CitationView {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The passage cited, when the provider says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cited_text: Option<String>,
    /// A searched file's name or id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}
