//! The seam's backstop: no payload over [`INLINE_PAYLOAD_BYTES_MAX`] enters workflow
//! history.
//!
//! The workflow and its activities are designed to exchange ids, log positions and
//! `sha256:` refs, and an ordinary turn's payloads are a few hundred bytes
//! (docs/spec/seam.md). Some steps within the engine's limits still produce more: a
//! generation with 64 tool calls lists each call, a control state loaded with 64
//! queued runs lists their inputs, a full submission window lists 256 records. Their
//! size depends on what one step produced or what the limits allow, never on the
//! transcript, but it is more than a history event should carry.
//!
//! [`SeamCodec`] is a Temporal payload codec (the claim-check pattern): it runs in the
//! SDK at the boundary between our process and the Temporal server, so workflow code
//! sees the same values either way and replays deterministically. A payload larger
//! than the bound is written, whole and protobuf-encoded, to the CAS of the reserved
//! [`SEAM_UNIVERSE_ID`], and history records only its `sha256:` ref. Content
//! addressing makes the write idempotent and the read verifiable (the store checks
//! the digest). Every process that talks to the session workflows (worker, gateway,
//! bench, tests) must use the same codec over the same stores, or it cannot read what
//! the others wrote: [`data_converter`] builds it.
//!
//! Spilled payloads are never deleted while a workflow history may be replayed; they
//! are small in number (only the steps above spill) and content-addressed, so repeats
//! cost nothing.

use std::collections::HashMap;
use std::sync::Arc;

use engine::BlobRef;
use engine::store::BlobStore as _;
use futures::FutureExt as _;
use futures::future::BoxFuture;
use prost::Message as _;
use session_stores::StoreProvider;
use temporalio_common::data_converters::{
    DataConverter, DefaultFailureConverter, PayloadCodec, PayloadConversionError, PayloadConverter,
    SerializationContextData,
};
use temporalio_common::protos::temporal::api::common::v1::Payload;
use temporalio_common::protos::temporal::api::common::v1::payload::ExternalPayloadDetails;

/// Payloads whose protobuf encoding is larger than this go to the CAS. Below the
/// seam's 4 KiB target with room for the event around it; above every payload of an
/// ordinary turn, so ordinary turns never pay a store round trip.
pub const INLINE_PAYLOAD_BYTES_MAX: usize = 3 * 1024;

/// The universe whose CAS holds spilled payloads. Not a tenant: API keys cannot name
/// it (`api_keys` refuses it), so no client can read these blobs.
pub const SEAM_UNIVERSE_ID: &str = "00000000-0000-0000-0000-000000000000";

/// `encoding` metadata of a payload that stands for a spilled one; its data is the
/// spilled payload's `sha256:` ref.
pub const SPILLED_ENCODING: &str = "binary/lightspeed-cas-ref";

const ENCODING_KEY: &str = "encoding";

/// The data converter every Lightspeed process uses with Temporal: the SDK's default
/// JSON payloads and failures, with [`SeamCodec`] over `stores`.
pub fn data_converter<P: StoreProvider>(stores: Arc<P>) -> DataConverter {
    DataConverter::new(
        PayloadConverter::default(),
        DefaultFailureConverter::default(),
        SeamCodec {
            stores,
            inline_max: INLINE_PAYLOAD_BYTES_MAX,
        },
    )
}

/// Spills large payloads to the CAS (see the module docs).
pub struct SeamCodec<P> {
    stores: Arc<P>,
    inline_max: usize,
}

impl<P> SeamCodec<P> {
    /// A codec with another bound (tests).
    pub fn with_inline_max(stores: Arc<P>, inline_max: usize) -> Self {
        Self { stores, inline_max }
    }
}

#[derive(Debug, thiserror::Error)]
enum SeamError {
    #[error("the seam payload store failed: {0}")]
    Store(#[from] engine::store::StoreError),
    #[error("a spilled payload's ref is unreadable: {0}")]
    Ref(String),
    #[error("a spilled payload does not decode: {0}")]
    Decode(#[from] prost::DecodeError),
}

fn conversion_error(err: SeamError) -> PayloadConversionError {
    PayloadConversionError::EncodingError(Box::new(err))
}

fn is_spilled(payload: &Payload) -> bool {
    payload
        .metadata
        .get(ENCODING_KEY)
        .is_some_and(|encoding| encoding == SPILLED_ENCODING.as_bytes())
}

impl<P: StoreProvider> SeamCodec<P> {
    async fn spill(
        stores: Arc<P>,
        inline_max: usize,
        payloads: Vec<Payload>,
    ) -> Result<Vec<Payload>, SeamError> {
        if payloads.iter().all(|p| p.encoded_len() <= inline_max) {
            return Ok(payloads);
        }
        let store = stores.store(SEAM_UNIVERSE_ID).await?;
        let mut encoded = Vec::with_capacity(payloads.len());
        for payload in payloads {
            let size = payload.encoded_len();
            if size <= inline_max {
                encoded.push(payload);
                continue;
            }
            let blob = store.put(payload.encode_to_vec()).await?;
            tracing::debug!(bytes = size, blob = %blob, "payload spilled to the CAS");
            encoded.push(Payload {
                metadata: HashMap::from([(
                    ENCODING_KEY.to_owned(),
                    SPILLED_ENCODING.as_bytes().to_vec(),
                )]),
                data: blob.as_str().as_bytes().to_vec(),
                external_payloads: vec![ExternalPayloadDetails {
                    size_bytes: i64::try_from(size).unwrap_or(i64::MAX),
                }],
            });
        }
        Ok(encoded)
    }

    async fn recall(stores: Arc<P>, payloads: Vec<Payload>) -> Result<Vec<Payload>, SeamError> {
        if !payloads.iter().any(is_spilled) {
            return Ok(payloads);
        }
        let store = stores.store(SEAM_UNIVERSE_ID).await?;
        let mut decoded = Vec::with_capacity(payloads.len());
        for payload in payloads {
            if !is_spilled(&payload) {
                decoded.push(payload);
                continue;
            }
            let text = std::str::from_utf8(&payload.data)
                .map_err(|err| SeamError::Ref(err.to_string()))?;
            let blob = BlobRef::parse(text).map_err(|err| SeamError::Ref(err.to_string()))?;
            let bytes = store.get(&blob).await?;
            decoded.push(Payload::decode(bytes.as_slice())?);
        }
        Ok(decoded)
    }
}

impl<P: StoreProvider> PayloadCodec for SeamCodec<P> {
    fn encode(
        &self,
        _: &SerializationContextData,
        payloads: Vec<Payload>,
    ) -> BoxFuture<'static, Result<Vec<Payload>, PayloadConversionError>> {
        Self::spill(self.stores.clone(), self.inline_max, payloads)
            .map(|result| result.map_err(conversion_error))
            .boxed()
    }

    fn decode(
        &self,
        _: &SerializationContextData,
        payloads: Vec<Payload>,
    ) -> BoxFuture<'static, Result<Vec<Payload>, PayloadConversionError>> {
        Self::recall(self.stores.clone(), payloads)
            .map(|result| result.map_err(conversion_error))
            .boxed()
    }
}

#[cfg(test)]
mod tests {
    use session_stores::FsStores;

    use super::*;

    fn payload(bytes: usize) -> Payload {
        Payload {
            metadata: HashMap::from([(ENCODING_KEY.to_owned(), b"json/plain".to_vec())]),
            data: vec![b'x'; bytes],
            external_payloads: Vec::new(),
        }
    }

    fn codec(dir: &tempfile::TempDir) -> (SeamCodec<FsStores>, Arc<FsStores>) {
        let stores = Arc::new(FsStores::new(dir.path()));
        (SeamCodec::with_inline_max(stores.clone(), 1024), stores)
    }

    #[tokio::test]
    async fn small_payloads_pass_through_and_large_ones_round_trip_through_the_cas() {
        let dir = tempfile::tempdir().unwrap();
        let (codec, stores) = codec(&dir);
        let context = SerializationContextData::None;
        let original = vec![payload(10), payload(64 * 1024), payload(900)];

        let encoded = codec.encode(&context, original.clone()).await.unwrap();
        assert_eq!(encoded[0], original[0]);
        assert_eq!(encoded[2], original[2]);
        assert!(is_spilled(&encoded[1]));
        assert!(
            encoded[1].encoded_len() < 200,
            "{}",
            encoded[1].encoded_len()
        );
        assert_eq!(
            encoded[1].external_payloads[0].size_bytes,
            i64::try_from(original[1].encoded_len()).unwrap()
        );
        let blob = BlobRef::parse(std::str::from_utf8(&encoded[1].data).unwrap()).unwrap();
        let seam = stores.store(SEAM_UNIVERSE_ID).await.unwrap();
        assert!(seam.has(&blob).await.unwrap());

        let decoded = codec.decode(&context, encoded).await.unwrap();
        assert_eq!(decoded, original);
    }

    #[tokio::test]
    async fn equal_payloads_spill_to_one_blob() {
        let dir = tempfile::tempdir().unwrap();
        let (codec, _) = codec(&dir);
        let context = SerializationContextData::None;
        let first = codec.encode(&context, vec![payload(5000)]).await.unwrap();
        let second = codec.encode(&context, vec![payload(5000)]).await.unwrap();
        assert_eq!(first, second);
    }

    #[tokio::test]
    async fn a_missing_or_malformed_spilled_payload_is_an_error_not_a_value() {
        let dir = tempfile::tempdir().unwrap();
        let (codec, _) = codec(&dir);
        let context = SerializationContextData::None;
        let mut missing = payload(0);
        missing
            .metadata
            .insert(ENCODING_KEY.into(), SPILLED_ENCODING.into());
        missing.data = BlobRef::of_bytes(b"never stored")
            .as_str()
            .as_bytes()
            .to_vec();
        assert!(codec.decode(&context, vec![missing]).await.is_err());

        let mut malformed = payload(0);
        malformed
            .metadata
            .insert(ENCODING_KEY.into(), SPILLED_ENCODING.into());
        malformed.data = b"not a ref".to_vec();
        assert!(codec.decode(&context, vec![malformed]).await.is_err());
    }
}
