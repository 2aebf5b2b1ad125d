//! Why a view could not be produced.

use engine::BlobRef;
use engine::store::StoreError;

/// A committed entry refers to content the blob store cannot serve. The entry is
/// fine; its rendering has to wait until the store can (or the blob is restored).
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    #[error("blob {blob} cannot be read: {source}")]
    Blob {
        blob: BlobRef,
        #[source]
        source: StoreError,
    },
}

impl From<ProjectionError> for api::ApiError {
    /// A view that cannot be rendered is a server fault, never the caller's.
    fn from(err: ProjectionError) -> Self {
        let reason = match &err {
            ProjectionError::Blob { .. } => "blobUnavailable",
        };
        api::ApiError::internal(err.to_string()).with_reason(reason)
    }
}
