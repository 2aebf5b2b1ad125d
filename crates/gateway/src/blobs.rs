//! Raw blob routes: `PUT /blobs/{ref}` and `GET /blobs/{ref}`, for blobs too large to
//! travel inline as base64. Errors are JSON bodies `{"error": {code, message, data}}`
//! with the same codes and `data` as JSON-RPC errors, and an HTTP status to match.

use std::sync::Arc;

use api::{ApiError, Caller, ErrorKind, LightspeedApi};
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use engine::BlobRef;
use futures::StreamExt as _;

use crate::auth::{self, AuthOutcome};
use crate::keys::KeyStore;
use crate::rpc::error_object;

pub(crate) struct BlobState<A, K> {
    pub(crate) api: Arc<A>,
    pub(crate) keys: Arc<K>,
    pub(crate) blob_bytes_max: u64,
}

/// The HTTP status an API error maps to on the blob routes.
pub(crate) fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::InvalidParams | ErrorKind::InvalidRequest | ErrorKind::ParseError => {
            StatusCode::BAD_REQUEST
        }
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::Rejected => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Why a blob request failed, as it goes on the wire.
pub(crate) struct Refusal {
    status: StatusCode,
    error: ApiError,
}

impl From<ApiError> for Refusal {
    fn from(error: ApiError) -> Self {
        Self {
            status: status_of(error.kind()),
            error,
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": error_object(self.error) });
        (self.status, Json(body)).into_response()
    }
}

async fn authorize<K: KeyStore>(keys: &K, headers: &HeaderMap) -> Result<Caller, Refusal> {
    match auth::resolve(keys, headers).await {
        AuthOutcome::Caller(caller) => Ok(caller),
        AuthOutcome::Denied(denial) => Err(denial.to_api_error().into()),
    }
}

fn parse_ref(raw: &str) -> Result<BlobRef, Refusal> {
    BlobRef::parse(raw).map_err(|err| {
        ApiError::invalid_params(format!("invalid blob ref {raw:?}: {err}"))
            .with_reason("invalidBlobRef")
            .into()
    })
}

fn too_large(blob_bytes_max: u64) -> Refusal {
    Refusal {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        error: ApiError::invalid_params(format!("blob exceeds {blob_bytes_max} bytes"))
            .with_reason("blobTooLarge"),
    }
}

/// Reads `body` whole, refusing it as soon as it passes `bytes_max`.
async fn read_bounded(headers: &HeaderMap, body: Body, bytes_max: u64) -> Result<Vec<u8>, Refusal> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|declared| declared > bytes_max) {
        return Err(too_large(bytes_max));
    }
    // Bounded by `bytes_max` above; the cap keeps a lying header from over-allocating.
    let capacity = declared.unwrap_or(0).min(bytes_max).min(1024 * 1024);
    let mut bytes = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
    let mut chunks = body.into_data_stream();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|err| {
            Refusal::from(
                ApiError::invalid_params(format!("reading the body failed: {err}"))
                    .with_reason("bodyUnreadable"),
            )
        })?;
        let total = bytes.len() as u64 + chunk.len() as u64;
        if total > bytes_max {
            return Err(too_large(bytes_max));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

pub(crate) async fn put_blob<A: LightspeedApi, K: KeyStore>(
    State(state): State<Arc<BlobState<A, K>>>,
    Path(raw_ref): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Refusal> {
    let caller = authorize(state.keys.as_ref(), &headers).await?;
    let blob_ref = parse_ref(&raw_ref)?;
    let bytes = read_bounded(&headers, body, state.blob_bytes_max).await?;
    if !blob_ref.matches(&bytes) {
        return Err(ApiError::invalid_params(format!(
            "the body's sha256 is {}, not {}",
            BlobRef::of_bytes(&bytes).as_str(),
            blob_ref.as_str()
        ))
        .with_reason("digestMismatch")
        .into());
    }
    let size_bytes = bytes.len();
    let result = state
        .api
        .blob_put_bytes(&caller, blob_ref.as_str().to_owned(), bytes)
        .await?;
    tracing::info!(blob_ref = %blob_ref.as_str(), size_bytes, key_id = %caller.key_id, "blob put");
    Ok(Json(result).into_response())
}

pub(crate) async fn get_blob<A: LightspeedApi, K: KeyStore>(
    State(state): State<Arc<BlobState<A, K>>>,
    Path(raw_ref): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    let caller = authorize(state.keys.as_ref(), &headers).await?;
    let blob_ref = parse_ref(&raw_ref)?;
    let bytes = state
        .api
        .blob_get_bytes(&caller, blob_ref.as_str().to_owned())
        .await?;
    Ok((
        [(
            CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        )],
        bytes,
    )
        .into_response())
}
