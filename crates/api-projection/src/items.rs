//! The I/O half of [`crate::inputs`], shared by every backend: validated run, steer
//! and instructions input written to the CAS (or, for refs, checked there) and turned
//! into the item specs engine commands carry.

use api::ApiError;
use api::types::run::InputItem;
use engine::BlobRef;
use engine::core::context::{ItemKind, ItemSpec, estimate_tokens};
use engine::store::{BlobStore, StoreError};
use llm_runtime::audio::AudioFormat;
use llm_runtime::content::MediaType;

use crate::blobs::{ContentGate, admit_new, put_admitted, store_error};
use crate::inputs::{self, PreparedInput, TextOrRef};

/// Whether input may hold voice notes: run input may (they are transcribed before
/// the run starts), a steer may not (it lands in a running turn).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoiceNotes {
    Accepted,
    Refused,
}

/// Run or steer input as user-message items: text stored (if `gate` admits what is
/// new, all of it before any is written), refs checked to exist and to hold what
/// their type says; voice notes (where `voice` accepts them) as audio items.
pub async fn input_items<B: BlobStore, G: ContentGate>(
    store: &B,
    gate: &G,
    input: &[InputItem],
    limits: &InputLimits,
    voice: VoiceNotes,
) -> Result<Vec<ItemSpec>, ApiError> {
    let prepared = inputs::prepare_input(input)?;
    check_sizes(store, &prepared, limits).await?;
    let texts: Vec<(BlobRef, u64)> = prepared
        .iter()
        .filter_map(|item| match item {
            PreparedInput::Text(text) => {
                Some((BlobRef::of_bytes(text.as_bytes()), text.len() as u64))
            }
            PreparedInput::TextRef(_) | PreparedInput::Media(_) => None,
        })
        .collect();
    admit_new(store, gate, &texts).await?;
    let mut items = Vec::with_capacity(prepared.len());
    for (index, prepared) in prepared.into_iter().enumerate() {
        items.push(input_item(store, prepared, (index, limits, voice)).await?);
    }
    Ok(items)
}

/// How large run and steer input may be. Checked by the stored sizes before any
/// blob is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputLimits {
    /// Largest text item (inline or by ref), bytes. Default 256 KiB.
    pub text_bytes_max: u64,
    /// Largest media item (image, PDF, voice note), bytes. Default 20 MiB.
    pub media_bytes_max: u64,
    /// Longest voice note, seconds. Default 600.
    pub audio_seconds_max: u64,
    /// All the bytes one request may name, bytes. Default 32 MiB.
    pub request_bytes_max: u64,
}

impl Default for InputLimits {
    fn default() -> Self {
        Self {
            text_bytes_max: 256 * 1024,
            media_bytes_max: 20 * 1024 * 1024,
            audio_seconds_max: 600,
            request_bytes_max: 32 * 1024 * 1024,
        }
    }
}

fn input_too_large(message: String) -> ApiError {
    ApiError::invalid_params(message).with_reason("inputTooLarge")
}

/// Refuses input over its size limits by the stored sizes, before any blob is read.
async fn check_sizes<B: BlobStore>(
    store: &B,
    input: &[PreparedInput],
    limits: &InputLimits,
) -> Result<(), ApiError> {
    let mut total: u64 = 0;
    for (index, item) in input.iter().enumerate() {
        let (len, max, what) = match item {
            PreparedInput::Text(text) => (text.len() as u64, limits.text_bytes_max, "text"),
            PreparedInput::TextRef(blob) => (
                stored_len(store, blob).await?,
                limits.text_bytes_max,
                "text",
            ),
            PreparedInput::Media(blob) => (
                stored_len(store, blob).await?,
                limits.media_bytes_max,
                "media",
            ),
        };
        if len > max {
            return Err(input_too_large(format!(
                "input[{index}]: {what} of {len} bytes is over the {max}-byte limit"
            )));
        }
        total = total.saturating_add(len);
    }
    if total > limits.request_bytes_max {
        return Err(input_too_large(format!(
            "the input names {total} bytes, over the {}-byte limit",
            limits.request_bytes_max
        )));
    }
    Ok(())
}

async fn stored_len<B: BlobStore>(store: &B, blob: &BlobRef) -> Result<u64, ApiError> {
    match store.blob_len(blob).await.map_err(store_error)? {
        Some(len) => Ok(len),
        None => {
            Err(ApiError::not_found(format!("blob {blob} not found")).with_reason("blobNotFound"))
        }
    }
}

/// A session's instructions as an item: text stored (if `gate` admits it when
/// new), a ref checked to exist.
pub async fn instructions_item<B: BlobStore, G: ContentGate>(
    store: &B,
    gate: &G,
    instructions: TextOrRef,
) -> Result<ItemSpec, ApiError> {
    let (blob, bytes) = match instructions {
        TextOrRef::Text(text) => {
            let bytes = text.into_bytes();
            let blob = BlobRef::of_bytes(&bytes);
            (put_admitted(store, gate, blob, bytes.clone()).await?, bytes)
        }
        TextOrRef::Ref(blob) => {
            let bytes = existing(store, &blob).await?;
            (blob, bytes)
        }
    };
    Ok(ItemSpec::new(
        ItemKind::Instructions,
        blob,
        estimate_tokens(&bytes),
    ))
}

async fn existing<B: BlobStore>(store: &B, blob: &BlobRef) -> Result<Vec<u8>, ApiError> {
    store.get(blob).await.map_err(|err| match err {
        StoreError::BlobNotFound(_) => {
            ApiError::not_found(format!("blob {blob} not found")).with_reason("blobNotFound")
        }
        other => store_error(other),
    })
}

async fn input_item<B: BlobStore>(
    store: &B,
    input: PreparedInput,
    (index, limits, voice): (usize, &InputLimits, VoiceNotes),
) -> Result<ItemSpec, ApiError> {
    let (blob, bytes) = match input {
        PreparedInput::Text(text) => {
            let bytes = text.into_bytes();
            (store.put(bytes.clone()).await.map_err(store_error)?, bytes)
        }
        PreparedInput::TextRef(blob) => {
            let bytes = existing(store, &blob).await?;
            if std::str::from_utf8(&bytes).is_err() || MediaType::sniff(&bytes).is_some() {
                return Err(ApiError::invalid_params(format!(
                    "blob {blob} is not UTF-8 text"
                )));
            }
            (blob, bytes)
        }
        PreparedInput::Media(blob) => {
            let bytes = existing(store, &blob).await?;
            if MediaType::sniff(&bytes).is_none() {
                return voice_note(blob, &bytes, (index, limits, voice));
            }
            (blob, bytes)
        }
    };
    Ok(ItemSpec::new(
        ItemKind::UserMessage,
        blob,
        estimate_tokens(&bytes),
    ))
}

/// Media that is no image or PDF: a voice note, if it is audio we take, within the
/// length limit, where voice notes are accepted. Its length is read from its
/// headers here, before anything is transcribed.
fn voice_note(
    blob: BlobRef,
    bytes: &[u8],
    (index, limits, voice): (usize, &InputLimits, VoiceNotes),
) -> Result<ItemSpec, ApiError> {
    let Some(format) = AudioFormat::sniff(bytes) else {
        return Err(ApiError::invalid_params(format!(
            "blob {blob} is not a PNG, JPEG, GIF, WebP or PDF, nor OGG, MP3, M4A or WAV audio"
        )));
    };
    if voice == VoiceNotes::Refused {
        return Err(ApiError::invalid_params(format!(
            "input[{index}]: a voice note is run input only (run/start)"
        ))
        .with_reason("voiceNoteNotAccepted"));
    }
    let Some(duration_ms) = format.duration_ms(bytes) else {
        return Err(ApiError::invalid_params(format!(
            "input[{index}]: the length of {} audio blob {blob} cannot be read",
            format.mime()
        ))
        .with_reason("unreadableAudio"));
    };
    let max_ms = limits.audio_seconds_max.saturating_mul(1_000);
    if duration_ms > max_ms {
        return Err(input_too_large(format!(
            "input[{index}]: a voice note of {} s is over the {} s limit",
            duration_ms.div_ceil(1_000),
            limits.audio_seconds_max
        )));
    }
    // Transcribed before the run starts; the transcript brings its own estimate.
    Ok(ItemSpec::new(ItemKind::UserAudio, blob, 0))
}
