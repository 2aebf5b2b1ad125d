//! The I/O half of [`crate::inputs`], shared by every backend: validated run, steer
//! and instructions input written to the CAS (or, for refs, checked there) and turned
//! into the item specs engine commands carry.

use api::ApiError;
use api::types::run::InputItem;
use engine::BlobRef;
use engine::core::context::{ItemKind, ItemSpec, estimate_tokens};
use engine::store::{BlobStore, StoreError};
use llm_runtime::content::MediaType;

use crate::blobs::store_error;
use crate::inputs::{self, PreparedInput, TextOrRef};

/// Run or steer input as user-message items: text stored, refs checked to exist and
/// to hold what their type says.
pub async fn input_items<B: BlobStore>(
    store: &B,
    input: &[InputItem],
) -> Result<Vec<ItemSpec>, ApiError> {
    let mut items = Vec::with_capacity(input.len());
    for prepared in inputs::prepare_input(input)? {
        items.push(input_item(store, prepared).await?);
    }
    Ok(items)
}

/// A session's instructions as an item: text stored, a ref checked to exist.
pub async fn instructions_item<B: BlobStore>(
    store: &B,
    instructions: TextOrRef,
) -> Result<ItemSpec, ApiError> {
    let (blob, bytes) = match instructions {
        TextOrRef::Text(text) => {
            let bytes = text.into_bytes();
            (store.put(bytes.clone()).await.map_err(store_error)?, bytes)
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
