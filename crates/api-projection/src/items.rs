//! The I/O half of [`crate::inputs`], shared by every backend: validated run, steer
//! and instructions input written to the CAS (or, for refs, checked there) and turned
//! into the item specs engine commands carry.

use api::ApiError;
use api::types::run::InputItem;
use engine::BlobRef;
use engine::core::context::{ItemKind, ItemSpec, estimate_tokens};
use engine::store::{BlobStore, StoreError};
use llm_runtime::content::MediaType;

use crate::blobs::{ContentGate, admit_new, put_admitted, store_error};
use crate::inputs::{self, PreparedInput, TextOrRef};

/// Run or steer input as user-message items: text stored (if `gate` admits what is
/// new, all of it before any is written), refs checked to exist and to hold what
/// their type says.
pub async fn input_items<B: BlobStore, G: ContentGate>(
    store: &B,
    gate: &G,
    input: &[InputItem],
    limits: &InputLimits,
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
    for prepared in prepared {
        items.push(input_item(store, prepared).await?);
    }
    Ok(items)
}

/// How large run and steer input may be. Checked by the stored sizes before any
/// blob is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputLimits {
    /// Largest text item (inline or by ref), bytes. Default 256 KiB.
    pub text_bytes_max: u64,
    /// Largest media item (image, PDF), bytes. Default 20 MiB.
    pub media_bytes_max: u64,
    /// All the bytes one request may name, bytes. Default 32 MiB.
    pub request_bytes_max: u64,
}

impl Default for InputLimits {
    fn default() -> Self {
        Self {
            text_bytes_max: 256 * 1024,
            media_bytes_max: 20 * 1024 * 1024,
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

async fn input_item<B: BlobStore>(store: &B, input: PreparedInput) -> Result<ItemSpec, ApiError> {
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
                return Err(ApiError::invalid_params(format!(
                    "blob {blob} is not a PNG, JPEG, GIF, WebP or PDF"
                )));
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
