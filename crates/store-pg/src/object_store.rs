//! The S3-compatible object store that holds blobs too large to keep inline.

use std::time::Duration;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::primitives::ByteStream;

use crate::error::PgStoreError;

/// How long connecting to the object store may take.
const CONNECT_TIMEOUT_MS: u64 = 10_000;
/// How long one request attempt may take, transfer included: blobs go whole, up to
/// `PgStoreLimits::blob_bytes_max`.
const ATTEMPT_TIMEOUT_MS: u64 = 300_000;

/// Where large blobs go.
#[derive(Clone, PartialEq, Eq)]
pub struct ObjectStoreConfig {
    /// A custom endpoint (`http://127.0.0.1:29000` for the local stack); `None` for
    /// AWS itself.
    pub endpoint_url: Option<String>,
    pub bucket: String,
    pub region: String,
    /// Static credentials. When either is `None`, the AWS default chain (environment,
    /// profile, instance or container role) provides them.
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    /// Path-style addressing (`endpoint/bucket/key`), which most S3-compatible
    /// servers need. Default true.
    pub force_path_style: bool,
    /// How a failed put or get is retried before its error is returned.
    pub retry: ObjectStoreRetry,
}

/// Retries of one put or get that failed with a retryable error (connection refused or
/// reset, timeouts, 5xx, 429): exponential backoff with jitter, bounded in attempts,
/// so a restarting S3 server is ridden out in place and a long outage still ends in
/// an error (retryable, for the caller's own policy) rather than a stalled activity.
///
/// Written here rather than left to the SDK: its standard retry starts non-throttling
/// backoff at 50 ms whatever `initial_backoff` says (retry behaviour 2.1), so its few
/// attempts are spent within a second, and its retry quota is shared process-wide.
/// The SDK's own retries are turned off, so this is the only retry layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectStoreRetry {
    /// Attempts of one request, the first included (at least 1). Default 8.
    pub attempts_max: u32,
    /// Delay before the first retry; doubles for each next one. Default 200 ms.
    pub backoff_initial_ms: u64,
    /// Longest delay between two attempts. Default 5 s (so the default budget waits
    /// about 16 s in all, before the eighth attempt).
    pub backoff_max_ms: u64,
}

impl Default for ObjectStoreRetry {
    fn default() -> Self {
        Self {
            attempts_max: 8,
            backoff_initial_ms: 200,
            backoff_max_ms: 5_000,
        }
    }
}

impl ObjectStoreRetry {
    /// The wait before attempt `attempt + 1` (after `attempt` failed, from 1):
    /// between half and all of `backoff_initial_ms * 2^(attempt - 1)`, capped at
    /// `backoff_max_ms`. The random half keeps many writers that failed together
    /// from retrying in lockstep; `jitter` is in `0.0..1.0`.
    pub fn backoff(&self, attempt: u32, jitter: f64) -> Duration {
        let exponent = attempt.saturating_sub(1).min(32);
        let full_ms = self
            .backoff_initial_ms
            .saturating_mul(1_u64 << exponent)
            .min(self.backoff_max_ms);
        let jitter = jitter.clamp(0.0, 1.0);
        // Exact in f64 for any delay below 2^53 ms.
        let waited_ms = full_ms as f64 * (0.5 + jitter / 2.0);
        Duration::from_millis(waited_ms as u64)
    }
}

impl ObjectStoreConfig {
    pub fn new(bucket: impl Into<String>, region: impl Into<String>) -> Self {
        Self {
            endpoint_url: None,
            bucket: bucket.into(),
            region: region.into(),
            access_key_id: None,
            secret_access_key: None,
            force_path_style: true,
            retry: ObjectStoreRetry::default(),
        }
    }
}

impl std::fmt::Debug for ObjectStoreConfig {
    // Never print the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectStoreConfig")
            .field("endpoint_url", &self.endpoint_url)
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "<redacted>"),
            )
            .field("force_path_style", &self.force_path_style)
            .field("retry", &self.retry)
            .finish()
    }
}

/// An S3 client bound to one bucket. Cheap to clone.
#[derive(Clone)]
pub struct ObjectStore {
    client: aws_sdk_s3::Client,
    bucket: String,
    retry: ObjectStoreRetry,
}

impl std::fmt::Debug for ObjectStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectStore")
            .field("bucket", &self.bucket)
            .finish_non_exhaustive()
    }
}

impl ObjectStore {
    /// Builds the client; nothing is contacted until the first request.
    pub async fn connect(config: &ObjectStoreConfig) -> Result<Self, PgStoreError> {
        if config.bucket.is_empty() {
            return Err(PgStoreError::Config(
                "the object store bucket is empty".into(),
            ));
        }
        let mut builder = match (&config.access_key_id, &config.secret_access_key) {
            (Some(access_key_id), Some(secret_access_key)) => aws_sdk_s3::config::Builder::new()
                .behavior_version(BehaviorVersion::latest())
                .credentials_provider(Credentials::new(
                    access_key_id,
                    secret_access_key,
                    None,
                    None,
                    "lightspeed-static",
                )),
            _ => {
                let shared = aws_config::defaults(BehaviorVersion::latest())
                    .region(Region::new(config.region.clone()))
                    .load()
                    .await;
                aws_sdk_s3::config::Builder::from(&shared)
            }
        };
        builder = builder
            .region(Region::new(config.region.clone()))
            .force_path_style(config.force_path_style)
            // Digests are verified on read; the SDK's own CRC trailers are not
            // understood by every S3-compatible server.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
            // `ObjectStoreRetry` retries put and get; one layer, one documented budget.
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_millis(CONNECT_TIMEOUT_MS))
                    .operation_attempt_timeout(Duration::from_millis(ATTEMPT_TIMEOUT_MS))
                    .build(),
            );
        if let Some(endpoint) = &config.endpoint_url {
            builder = builder.endpoint_url(endpoint);
        }
        Ok(Self {
            client: aws_sdk_s3::Client::from_conf(builder.build()),
            bucket: config.bucket.clone(),
            retry: config.retry,
        })
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Creates the bucket unless it exists (setup and tests; deployments usually
    /// provision buckets elsewhere).
    pub async fn ensure_bucket(&self) -> Result<(), PgStoreError> {
        let key = || self.bucket.clone();
        match self.client.head_bucket().bucket(&self.bucket).send().await {
            Ok(_) => return Ok(()),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => {}
            Err(err) => return Err(sdk_failed("find bucket", key(), err)),
        }
        match self
            .client
            .create_bucket()
            .bucket(&self.bucket)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(err)
                if err.as_service_error().is_some_and(|e| {
                    e.is_bucket_already_owned_by_you() || e.is_bucket_already_exists()
                }) =>
            {
                Ok(())
            }
            Err(err) => Err(sdk_failed("create bucket", key(), err)),
        }
    }

    pub(crate) async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), PgStoreError> {
        // `Bytes` clones share the buffer: a retried put does not copy the blob.
        let bytes = bytes::Bytes::from(bytes);
        self.retrying("put", key, || async {
            self.client
                .put_object()
                .bucket(&self.bucket)
                .key(key)
                .body(ByteStream::from(bytes.clone()))
                .send()
                .await
                .map_err(|err| sdk_failed("put", key.to_owned(), err))?;
            Ok(())
        })
        .await
    }

    /// Deletes the object; deleting one that is not there succeeds (S3's own rule).
    pub(crate) async fn delete(&self, key: &str) -> Result<(), PgStoreError> {
        self.retrying("delete", key, || async {
            self.client
                .delete_object()
                .bucket(&self.bucket)
                .key(key)
                .send()
                .await
                .map_err(|err| sdk_failed("delete", key.to_owned(), err))?;
            Ok(())
        })
        .await
    }

    /// The object's bytes, or `None` if there is no such object.
    pub(crate) async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, PgStoreError> {
        self.retrying("get", key, || self.get_once(key)).await
    }

    async fn get_once(&self, key: &str) -> Result<Option<Vec<u8>>, PgStoreError> {
        let output = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(output) => output,
            Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
                return Ok(None);
            }
            Err(err) => return Err(sdk_failed("get", key.to_owned(), err)),
        };
        // A body cut off mid-transfer: worth retrying.
        let body = output
            .body
            .collect()
            .await
            .map_err(|err| PgStoreError::ObjectStore {
                what: "read",
                key: key.to_owned(),
                retryable: true,
                source: Box::new(err),
            })?;
        Ok(Some(body.into_bytes().to_vec()))
    }

    /// Runs `attempt` until it succeeds, fails for good, or `self.retry` is spent;
    /// returns the last error then.
    async fn retrying<T, F, Fut>(
        &self,
        what: &'static str,
        key: &str,
        mut attempt: F,
    ) -> Result<T, PgStoreError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, PgStoreError>>,
    {
        let attempts_max = self.retry.attempts_max.max(1);
        let mut attempts = 1;
        loop {
            match attempt().await {
                Err(err) if err.is_retryable() && attempts < attempts_max => {
                    let delay = self.retry.backoff(attempts, jitter());
                    tracing::warn!(
                        what, key, attempt = attempts, attempts_max, ?delay, error = %err,
                        "object store request failed; retrying"
                    );
                    tokio::time::sleep(delay).await;
                    attempts += 1;
                }
                outcome => return outcome,
            }
        }
    }
}

/// A number in `0.0..1.0` that differs between calls and processes: std's
/// `RandomState` is seeded from the OS, which is all the randomness jitter needs
/// (no RNG crate for this one use).
fn jitter() -> f64 {
    use std::hash::{BuildHasher as _, Hasher as _};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(0);
    (hasher.finish() >> 11) as f64 / (1_u64 << 53) as f64
}

/// Wraps an SDK error, classifying it: the request never left (construction) or was
/// refused (4xx other than 429) is final; anything else may pass on a retry.
fn sdk_failed<E>(what: &'static str, key: String, err: SdkError<E, HttpResponse>) -> PgStoreError
where
    E: std::error::Error + Send + Sync + 'static,
{
    let retryable = match &err {
        SdkError::ConstructionFailure(_) => false,
        SdkError::ServiceError(_) => err.raw_response().is_some_and(|response| {
            let status = response.status().as_u16();
            status >= 500 || status == 429
        }),
        // Timeouts, connection failures, unparseable responses, and what later SDK
        // versions add.
        _ => true,
    };
    PgStoreError::ObjectStore {
        what,
        key,
        retryable,
        source: Box::new(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_at_most_half_taken_by_jitter() {
        let retry = ObjectStoreRetry::default();
        let waits_ms: Vec<u128> = (1..8)
            .map(|attempt| retry.backoff(attempt, 0.999_999).as_millis())
            .collect();
        assert_eq!(waits_ms, [199, 399, 799, 1_599, 3_199, 4_999, 4_999]);
        assert_eq!(retry.backoff(3, 0.0), Duration::from_millis(400));
        // No overflow however many attempts are allowed.
        assert_eq!(retry.backoff(u32::MAX, 0.0), Duration::from_millis(2_500));
        let jitters: Vec<f64> = (0..64).map(|_| jitter()).collect();
        assert!(
            jitters.iter().all(|j| (0.0..1.0).contains(j)),
            "{jitters:?}"
        );
        assert!(jitters.iter().any(|j| *j != jitters[0]), "{jitters:?}");
    }
}
