//! The `blob/*` methods and raw blob transfer over any [`BlobStore`], shared by every
//! backend (inline base64 is bounded; larger blobs use the raw `/blobs` routes).

use std::collections::BTreeSet;
use std::future::Future;

use api::ApiError;
use api::types::blob::*;
use base64::Engine as _;
use engine::BlobRef;
use engine::store::{BlobStore, StoreError};

/// Largest blob accepted or returned inline (base64 in JSON-RPC); larger ones use
/// the raw `/blobs` routes.
pub const INLINE_BLOB_BYTES_MAX: usize = 4 * 1024 * 1024;
/// Refs per `blob/has_many` call.
pub const HAS_MANY_REFS_MAX: usize = 1_000;

/// Decides whether content a universe does not hold yet may be stored: the backend's
/// stored-bytes quota. Asked only for new content, before anything is written, so
/// storing what a universe already holds (a retried upload, a resubmitted run) is
/// never refused. `()` admits everything.
pub trait ContentGate: Sync {
    /// Whether `new_bytes` more may be stored; the error is what the client gets.
    fn admit(&self, new_bytes: u64) -> impl Future<Output = Result<(), ApiError>> + Send;
}

impl ContentGate for () {
    async fn admit(&self, _new_bytes: u64) -> Result<(), ApiError> {
        Ok(())
    }
}

/// Asks `gate` about the blobs of `contents` (ref and length) that `store` does not
/// hold, each distinct blob counted once.
pub async fn admit_new<B: BlobStore, G: ContentGate>(
    store: &B,
    gate: &G,
    contents: &[(BlobRef, u64)],
) -> Result<(), ApiError> {
    let refs: Vec<BlobRef> = contents.iter().map(|(blob, _)| blob.clone()).collect();
    let held = store.has_many(&refs).await.map_err(store_error)?;
    let mut counted = BTreeSet::new();
    let mut new_bytes: u64 = 0;
    for ((blob, len), held) in contents.iter().zip(held) {
        if !held && counted.insert(blob) {
            new_bytes = new_bytes.saturating_add(*len);
        }
    }
    match new_bytes {
        0 => Ok(()),
        _ => gate.admit(new_bytes).await,
    }
}

/// Stores `bytes` (whose ref is `blob`) unless they are new content `gate` refuses.
pub(crate) async fn put_admitted<B: BlobStore, G: ContentGate>(
    store: &B,
    gate: &G,
    blob: BlobRef,
    bytes: Vec<u8>,
) -> Result<BlobRef, ApiError> {
    admit_new(store, gate, &[(blob, bytes.len() as u64)]).await?;
    store.put(bytes).await.map_err(store_error)
}

pub fn store_error(err: StoreError) -> ApiError {
    match err {
        StoreError::BlobNotFound(blob) => {
            ApiError::not_found(format!("blob {blob} not found")).with_reason("blobNotFound")
        }
        StoreError::BlobTooLarge { .. } => {
            ApiError::invalid_params(err.to_string()).with_reason("blobTooLarge")
        }
        other => ApiError::internal(other.to_string()),
    }
}

pub async fn put<B: BlobStore, G: ContentGate>(
    store: &B,
    gate: &G,
    params: BlobPutParams,
) -> Result<BlobPutResult, ApiError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(params.data_base64.as_bytes())
        .map_err(|err| ApiError::invalid_params(format!("dataBase64 is not base64: {err}")))?;
    if bytes.len() > INLINE_BLOB_BYTES_MAX {
        return Err(ApiError::invalid_params(format!(
            "inline blobs are limited to {INLINE_BLOB_BYTES_MAX} bytes; use PUT /blobs/{{ref}}"
        ))
        .with_reason("blobTooLarge"));
    }
    let size_bytes = bytes.len() as u64;
    let blob_ref = put_admitted(store, gate, BlobRef::of_bytes(&bytes), bytes).await?;
    Ok(BlobPutResult {
        blob_ref: blob_ref.to_string(),
        size_bytes,
    })
}

pub async fn get<B: BlobStore>(
    store: &B,
    params: BlobGetParams,
) -> Result<BlobGetResult, ApiError> {
    // Sized by the store's record before anything is read.
    let blob = crate::inputs::blob_ref(&params.blob_ref)?;
    let len = store.blob_len(&blob).await.map_err(store_error)?;
    let len = len
        .ok_or(StoreError::BlobNotFound(blob.clone()))
        .map_err(store_error)?;
    if len > INLINE_BLOB_BYTES_MAX as u64 {
        return Err(ApiError::invalid_params(
            "blob is too large to return inline; use GET /blobs/{ref}",
        )
        .with_reason("blobTooLarge"));
    }
    let bytes = store.get(&blob).await.map_err(store_error)?;
    Ok(BlobGetResult {
        blob_ref: params.blob_ref,
        data_base64: base64::engine::general_purpose::STANDARD.encode(bytes),
    })
}

pub async fn has_many<B: BlobStore>(
    store: &B,
    params: BlobHasManyParams,
) -> Result<BlobHasManyResult, ApiError> {
    if params.blob_refs.len() > HAS_MANY_REFS_MAX {
        return Err(
            ApiError::invalid_params(format!("at most {HAS_MANY_REFS_MAX} refs per call"))
                .with_reason("tooManyRefs"),
        );
    }
    let blobs = params
        .blob_refs
        .iter()
        .map(|raw| crate::inputs::blob_ref(raw))
        .collect::<Result<Vec<_>, _>>()?;
    let held = store.has_many(&blobs).await.map_err(store_error)?;
    let (mut present, mut missing) = (Vec::new(), Vec::new());
    for (raw, held) in params.blob_refs.into_iter().zip(held) {
        if held {
            present.push(raw);
        } else {
            missing.push(raw);
        }
    }
    Ok(BlobHasManyResult { present, missing })
}

pub async fn put_bytes<B: BlobStore, G: ContentGate>(
    store: &B,
    gate: &G,
    raw_ref: &str,
    bytes: Vec<u8>,
) -> Result<BlobPutResult, ApiError> {
    let expected = crate::inputs::blob_ref(raw_ref)?;
    if !expected.matches(&bytes) {
        return Err(
            ApiError::invalid_params(format!("body does not hash to {expected}"))
                .with_reason("digestMismatch"),
        );
    }
    let size_bytes = bytes.len() as u64;
    put_admitted(store, gate, expected.clone(), bytes).await?;
    Ok(BlobPutResult {
        blob_ref: expected.to_string(),
        size_bytes,
    })
}

pub async fn get_bytes<B: BlobStore>(store: &B, raw_ref: &str) -> Result<Vec<u8>, ApiError> {
    let blob = crate::inputs::blob_ref(raw_ref)?;
    store.get(&blob).await.map_err(store_error)
}
