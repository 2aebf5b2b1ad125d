//! `blob/pin`, `blob/unpin`, `blob/pins/list`: blobs a universe keeps whether or not
//! a record names them. Pins are roots of collection (`session_stores::collect`);
//! the store keeps them in a table (a directory) that collection scans like every
//! other record.

use api::types::blob::{
    BlobPinParams, BlobPinView, BlobPinsListParams, BlobPinsListResult, BlobUnpinResult,
};
use api::{ApiError, Quota};
use engine::BlobRef;
use engine::store::BlobStore as _;
use session_stores::Retention as _;

use crate::errors::internal;
use crate::host::SessionHost;
use crate::service::Service;

/// Pins one universe may hold. A constant, not a knob: pins are for the few blobs a
/// client holds by ref outside any session (a snapshot to mount next month), and a
/// listing returns them all.
pub const BLOB_PINS_PER_UNIVERSE_MAX: u64 = 1_000;

fn blob_ref(raw: &str) -> Result<BlobRef, ApiError> {
    BlobRef::parse(raw).map_err(|err| {
        ApiError::invalid_params(format!("blobRef: {err}")).with_reason("invalidBlobRef")
    })
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}

impl<H: SessionHost> Service<H> {
    pub(crate) async fn pin_blob(
        &self,
        universe_id: &str,
        params: BlobPinParams,
    ) -> Result<BlobPinView, ApiError> {
        let blob = blob_ref(&params.blob_ref)?;
        let store = self.store(universe_id).await?;
        let held = store
            .has(&blob)
            .await
            .map_err(|err| internal("looking up a blob", err))?;
        if !held {
            return Err(ApiError::not_found(format!("no blob {blob}")).with_reason("blobNotFound"));
        }
        let pinned = store
            .pin_blob(&blob, now_ms(), BLOB_PINS_PER_UNIVERSE_MAX)
            .await
            .map_err(|err| internal("pinning a blob", err))?;
        if pinned.is_none() {
            return Err(ApiError::quota_exceeded(
                Quota::BlobPins,
                format!("the universe has {BLOB_PINS_PER_UNIVERSE_MAX} pins; unpin one first"),
            ));
        }
        let pins = self.pins_list(universe_id, BlobPinsListParams {}).await?;
        pins.pins
            .into_iter()
            .find(|pin| pin.blob_ref == blob.as_str())
            // Unpinned by another request in between: report the pin just made.
            .map_or_else(
                || {
                    Ok(BlobPinView {
                        blob_ref: blob.to_string(),
                        pinned_at_ms: now_ms(),
                    })
                },
                Ok,
            )
    }

    pub(crate) async fn unpin_blob(
        &self,
        universe_id: &str,
        params: BlobPinParams,
    ) -> Result<BlobUnpinResult, ApiError> {
        let blob = blob_ref(&params.blob_ref)?;
        let store = self.store(universe_id).await?;
        let unpinned = store
            .unpin_blob(&blob)
            .await
            .map_err(|err| internal("unpinning a blob", err))?;
        Ok(BlobUnpinResult {
            blob_ref: blob.to_string(),
            unpinned,
        })
    }

    pub(crate) async fn pins_list(
        &self,
        universe_id: &str,
        _params: BlobPinsListParams,
    ) -> Result<BlobPinsListResult, ApiError> {
        let store = self.store(universe_id).await?;
        let pins = store
            .pinned_blobs()
            .await
            .map_err(|err| internal("listing pins", err))?;
        Ok(BlobPinsListResult {
            pins: pins
                .into_iter()
                .map(|(blob, pinned_at_ms)| BlobPinView {
                    blob_ref: blob.to_string(),
                    pinned_at_ms,
                })
                .collect(),
        })
    }
}
