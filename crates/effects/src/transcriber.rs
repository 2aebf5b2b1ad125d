//! Voice input: the voice notes of a run's input turned into text before the run
//! starts (`engine::core::transcription`), through a provider's transcription
//! endpoint (OpenAI's `/v1/audio/transcriptions`).
//!
//! The gateway already refused audio it cannot read or that is over the limits;
//! they are checked again here, because a limit may have been lowered since and a
//! blob is only a ref by the time it reaches a worker. A note over a limit, in a
//! format no provider takes, or without a transcription provider configured is a
//! failed transcription (the run ends with its code); a provider's 429, 5xx or
//! timeout is [`AdapterError::Transient`], for the host to retry.

use engine::core::context::estimate_tokens;
use engine::core::run::EffectError;
use engine::core::transcription::{Transcript, TranscriptionIntent, TranscriptionOutcome};
use engine::store::BlobStore;
use llm_runtime::audio::AudioFormat;
use llm_runtime::{LlmRuntime, RuntimeError};

use crate::adapter::AdapterError;

/// Which provider and model transcribe, and how long a note may be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranscriptionSettings {
    /// A configured provider with an OpenAI API kind. Default `openai`.
    pub provider_id: String,
    /// Default `gpt-4o-mini-transcribe`.
    pub model: String,
    /// Longest note, milliseconds. Default 10 minutes.
    pub duration_ms_max: u64,
    /// Largest note, bytes. Default 25 MiB (OpenAI's limit).
    pub audio_bytes_max: u64,
}

pub const TRANSCRIPTION_PROVIDER_DEFAULT: &str = "openai";
pub const TRANSCRIPTION_MODEL_DEFAULT: &str = "gpt-4o-mini-transcribe";
pub const AUDIO_DURATION_MS_MAX_DEFAULT: u64 = 10 * 60 * 1_000;
pub const AUDIO_BYTES_MAX_DEFAULT: u64 = 25 * 1024 * 1024;

impl Default for TranscriptionSettings {
    fn default() -> Self {
        Self {
            provider_id: TRANSCRIPTION_PROVIDER_DEFAULT.to_owned(),
            model: TRANSCRIPTION_MODEL_DEFAULT.to_owned(),
            duration_ms_max: AUDIO_DURATION_MS_MAX_DEFAULT,
            audio_bytes_max: AUDIO_BYTES_MAX_DEFAULT,
        }
    }
}

/// Transcribes through `llm-runtime`.
#[derive(Clone)]
pub struct LlmTranscriber {
    runtime: LlmRuntime,
    settings: TranscriptionSettings,
}

/// Shown to the model for a note in which the provider heard nothing.
const SILENT_NOTE: &str = "(a voice note in which no speech was recognised)";

impl LlmTranscriber {
    pub fn new(runtime: LlmRuntime, settings: TranscriptionSettings) -> Self {
        Self { runtime, settings }
    }

    pub fn settings(&self) -> &TranscriptionSettings {
        &self.settings
    }

    /// One transcript per voice note of `intent`, each stored in `blobs`; or the
    /// failure the run ends with.
    pub async fn transcribe<B: BlobStore>(
        &self,
        intent: &TranscriptionIntent,
        blobs: &B,
    ) -> Result<TranscriptionOutcome, AdapterError> {
        let mut transcripts = Vec::with_capacity(intent.audio.len());
        for audio in &intent.audio {
            let bytes = blobs.get(&audio.audio_ref).await?;
            let format = match self.check(&bytes) {
                Ok(format) => format,
                Err(error) => return Ok(TranscriptionOutcome::Failed { error }),
            };
            let text = match self
                .runtime
                .transcribe(
                    &self.settings.provider_id,
                    &self.settings.model,
                    format,
                    bytes,
                )
                .await
            {
                Ok(text) => text,
                Err(err) => return failure(&self.settings, err),
            };
            let text = match text.trim() {
                "" => SILENT_NOTE.to_owned(),
                text => text.to_owned(),
            };
            let bytes = text.into_bytes();
            let token_estimate = estimate_tokens(&bytes);
            let text_ref = blobs.put(bytes).await?;
            transcripts.push(Transcript {
                index: audio.index,
                text_ref,
                token_estimate,
            });
        }
        Ok(TranscriptionOutcome::Transcribed { transcripts })
    }

    /// The note's format, if it is one we take and within the limits.
    fn check(&self, bytes: &[u8]) -> Result<AudioFormat, EffectError> {
        let failed = |code: &str, message: String| EffectError {
            code: code.to_owned(),
            message,
        };
        let format = AudioFormat::sniff(bytes).ok_or_else(|| {
            failed(
                "unsupported_audio",
                "the voice note is not OGG, MP3, M4A or WAV audio".into(),
            )
        })?;
        let len = bytes.len() as u64;
        if len > self.settings.audio_bytes_max {
            return Err(failed(
                "audio_too_large",
                format!(
                    "the voice note is {len} bytes, over the {}-byte limit",
                    self.settings.audio_bytes_max
                ),
            ));
        }
        let duration_ms = format.duration_ms(bytes).ok_or_else(|| {
            failed(
                "unreadable_audio",
                format!("the {} voice note's length cannot be read", format.mime()),
            )
        })?;
        if duration_ms > self.settings.duration_ms_max {
            return Err(failed(
                "audio_too_long",
                format!(
                    "the voice note is {} s long, over the {} s limit",
                    duration_ms.div_ceil(1_000),
                    self.settings.duration_ms_max / 1_000
                ),
            ));
        }
        Ok(format)
    }
}

/// A runtime error as the host should treat it.
fn failure(
    settings: &TranscriptionSettings,
    err: RuntimeError,
) -> Result<TranscriptionOutcome, AdapterError> {
    if err.is_retryable() {
        let retry_after = match &err {
            RuntimeError::Provider(provider) => provider.retry_after,
            _ => None,
        };
        return Err(AdapterError::Transient {
            message: format!("transcription: {err}"),
            retry_after,
        });
    }
    let error = match err {
        RuntimeError::UnknownProvider(_) => EffectError {
            code: "transcription_unavailable".into(),
            message: format!(
                "no provider {:?} is configured to transcribe voice notes",
                settings.provider_id
            ),
        },
        other => EffectError {
            code: "transcription_failed".into(),
            // Provider messages are scrubbed of keys by llm-clients; bound the length.
            message: other.to_string().chars().take(1_000).collect(),
        },
    };
    Ok(TranscriptionOutcome::Failed { error })
}
