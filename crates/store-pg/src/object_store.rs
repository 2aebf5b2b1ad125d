//! The S3-compatible object store that holds blobs too large to keep inline.

use std::time::Duration;

use aws_sdk_s3::config::http::HttpResponse;
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
            .finish()
    }
}

/// An S3 client bound to one bucket. Cheap to clone.
#[derive(Clone)]
pub struct ObjectStore {
    client: aws_sdk_s3::Client,
    bucket: String,
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
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|err| sdk_failed("put", key.to_owned(), err))?;
        Ok(())
    }

    /// Deletes the object; deleting one that is not there succeeds (S3's own rule).
    pub(crate) async fn delete(&self, key: &str) -> Result<(), PgStoreError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|err| sdk_failed("delete", key.to_owned(), err))?;
        Ok(())
    }

    /// The object's bytes, or `None` if there is no such object.
    pub(crate) async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, PgStoreError> {
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
