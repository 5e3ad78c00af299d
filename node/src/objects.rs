//! The node's requests to object storage: presigned by the shared [`Presigner`] (the edge signs
//! the same way) and sent with reqwest.

use std::time::Duration;

use parley_shared::objects::{
    ObjectIo, ObjectsConfig, ObjectsError, Presigner, delete_answer, first_bytes_range, head_answer, read_answer,
};
use parley_shared::time::Timestamp;
use reqwest::StatusCode;

/// How long the node's own presigned requests stay valid: they are sent at once.
const OWN_TTL: Duration = Duration::from_secs(60);

/// Object storage as the node reaches it.
pub struct NodeObjects {
    presigner: Presigner,
    http: reqwest::Client,
}

impl NodeObjects {
    /// Object storage by `config`.
    pub fn new(config: &ObjectsConfig) -> Result<Self, ObjectsError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| ObjectsError::Config(e.to_string()))?;
        Ok(Self { presigner: Presigner::new(config)?, http })
    }

    /// The presigner clients' URLs come from.
    pub fn presigner(&self) -> &Presigner {
        &self.presigner
    }

    /// Creates the bucket unless it exists (dev mode and tests; operators create theirs).
    pub async fn ensure_bucket(&self) -> Result<(), ObjectsError> {
        let url = self.presigner.create_bucket(OWN_TTL, Timestamp::now());
        let r = self.http.put(url).header(reqwest::header::CONTENT_LENGTH, 0).send().await.map_err(unreachable)?;
        match r.status() {
            s if s.is_success() || s == StatusCode::CONFLICT => Ok(()),
            s => Err(ObjectsError::Status { action: "create bucket", key: String::new(), status: s.as_u16() }),
        }
    }
}

fn unreachable(e: reqwest::Error) -> ObjectsError {
    ObjectsError::Unreachable(e.to_string())
}

impl ObjectIo for NodeObjects {
    async fn size(&self, key: &str) -> Result<Option<u64>, ObjectsError> {
        let r =
            self.http.head(self.presigner.head(key, OWN_TTL, Timestamp::now())).send().await.map_err(unreachable)?;
        let length = r.headers().get(reqwest::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok());
        head_answer(key, r.status().as_u16(), length)
    }

    async fn first_bytes(&self, key: &str, n: usize) -> Result<Vec<u8>, ObjectsError> {
        let url = self.presigner.read(key, OWN_TTL, Timestamp::now());
        let r = self
            .http
            .get(url)
            .header(reqwest::header::RANGE, first_bytes_range(n))
            .send()
            .await
            .map_err(unreachable)?;
        read_answer(key, r.status().as_u16())?;
        let mut body = r.bytes().await.map_err(unreachable)?.to_vec();
        // A store that ignores Range sends everything; keep what was asked for.
        body.truncate(n);
        Ok(body)
    }

    async fn delete(&self, key: &str) -> Result<(), ObjectsError> {
        let url = self.presigner.delete(key, OWN_TTL, Timestamp::now());
        let r = self.http.delete(url).send().await.map_err(unreachable)?;
        delete_answer(key, r.status().as_u16())
    }
}
