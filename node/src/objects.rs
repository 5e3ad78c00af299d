//! The node's requests to object storage, with the AWS SDK (`aws-sdk-s3`) over hyper and rustls
//! on ring. URLs for clients are presigned by the shared [`Presigner`] instead, the code the
//! edge runs too, so both hosts hand out the same URLs.

use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use parley_shared::objects::{
    ObjectIo, ObjectsConfig, ObjectsError, Presigner, delete_answer, first_bytes_range, head_answer, read_answer,
};

/// Object storage as the node reaches it.
pub struct NodeObjects {
    presigner: Presigner,
    s3: aws_sdk_s3::Client,
    bucket: String,
}

impl NodeObjects {
    /// Object storage by `config`.
    pub fn new(config: &ObjectsConfig) -> Result<Self, ObjectsError> {
        let http =
            aws_smithy_http_client::Builder::new().tls_provider(tls::Provider::Rustls(CryptoMode::Ring)).build_https();
        let credentials =
            Credentials::new(&config.access_key_id, &config.secret_access_key, None, None, "parley-configuration");
        let mut s3 = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(config.region.clone()))
            .credentials_provider(credentials)
            .http_client(http)
            // Checksums only where S3 requires them: S3-compatible stores differ in the
            // trailing-checksum encodings they accept.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        if let Some(endpoint) = &config.endpoint {
            s3 = s3.endpoint_url(endpoint).force_path_style(true);
        }
        Ok(Self {
            presigner: Presigner::new(config)?,
            s3: aws_sdk_s3::Client::from_conf(s3.build()),
            bucket: config.bucket.clone(),
        })
    }

    /// The presigner clients' URLs come from.
    pub fn presigner(&self) -> &Presigner {
        &self.presigner
    }

    /// Stores `bytes` at `key` (a thumbnail).
    pub async fn put(&self, key: &str, content_type: &str, bytes: Vec<u8>) -> Result<(), ObjectsError> {
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| failed("PUT", key, e))?;
        Ok(())
    }

    /// Creates the bucket unless it exists (dev mode and tests; operators create theirs).
    pub async fn ensure_bucket(&self) -> Result<(), ObjectsError> {
        match self.s3.create_bucket().bucket(&self.bucket).send().await {
            Ok(_) => Ok(()),
            Err(e) if matches!(e.code(), Some("BucketAlreadyOwnedByYou" | "BucketAlreadyExists")) => Ok(()),
            Err(e) => Err(failed("create bucket", "", e)),
        }
    }
}

/// The store's HTTP status when it answered with an error, read by the shared answers
/// (`head_answer`, `read_answer`, `delete_answer`) like the edge's; `None`: it did not answer.
fn status<E>(e: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> Option<u16> {
    e.raw_response().map(|r| r.status().as_u16())
}

/// An SDK error that no shared answer accepts: the status when there is one, else unreachable.
fn failed<E: std::error::Error + 'static>(
    action: &'static str,
    key: &str,
    e: SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> ObjectsError {
    match status(&e) {
        Some(status) => ObjectsError::Status { action, key: key.to_owned(), status },
        None => ObjectsError::Unreachable(aws_sdk_s3::error::DisplayErrorContext(&e).to_string()),
    }
}

impl ObjectIo for NodeObjects {
    async fn size(&self, key: &str) -> Result<Option<u64>, ObjectsError> {
        match self.s3.head_object().bucket(&self.bucket).key(key).send().await {
            Ok(h) => Ok(h.content_length().and_then(|n| u64::try_from(n).ok())),
            Err(e) => match status(&e) {
                Some(s) => head_answer(key, s, None),
                None => Err(failed("HEAD", key, e)),
            },
        }
    }

    async fn first_bytes(&self, key: &str, n: usize) -> Result<Vec<u8>, ObjectsError> {
        let got = self.s3.get_object().bucket(&self.bucket).key(key).range(first_bytes_range(n)).send().await.map_err(
            |e| match status(&e) {
                Some(s) => read_answer(key, s).err().unwrap_or_else(|| failed("GET", key, e)),
                None => failed("GET", key, e),
            },
        )?;
        let body = got.body.collect().await.map_err(|e| ObjectsError::Unreachable(e.to_string()))?;
        let mut bytes = body.into_bytes().to_vec();
        // A store that ignores Range sends everything; keep what was asked for.
        bytes.truncate(n);
        Ok(bytes)
    }

    async fn delete(&self, key: &str) -> Result<(), ObjectsError> {
        match self.s3.delete_object().bucket(&self.bucket).key(key).send().await {
            Ok(_) => Ok(()),
            Err(e) => match status(&e) {
                Some(s) => delete_answer(key, s),
                None => Err(failed("DELETE", key, e)),
            },
        }
    }
}
