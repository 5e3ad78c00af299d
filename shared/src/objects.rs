//! Object storage (S3-compatible, where media bytes live): its configuration by the contract's
//! `S3_*` names, and presigned URLs made by one IO-free SigV4 implementation (rusty-s3), so the
//! node and the Wasm edge sign alike. The requests a server makes itself (HEAD, a ranged GET,
//! DELETE) go through [`ObjectIo`], which each host implements with its own HTTP stack.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};

use crate::time::Timestamp;

/// The contract's configuration names, the same at node and edge.
pub const ENV_NAMES: [&str; 5] = ["S3_ENDPOINT", "S3_BUCKET", "S3_REGION", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"];

/// Why object storage is misconfigured or a request to it failed.
#[derive(Debug, thiserror::Error)]
pub enum ObjectsError {
    /// A setting is missing or malformed.
    #[error("object storage configuration: {0}")]
    Config(String),
    /// The store answered with an unexpected status.
    #[error("object storage answered {status} to {action} {key}")]
    Status {
        /// What was asked.
        action: &'static str,
        /// The object.
        key: String,
        /// HTTP status.
        status: u16,
    },
    /// The store could not be reached.
    #[error("object storage unreachable: {0}")]
    Unreachable(String),
}

/// Where media objects are stored and the credentials to sign for them.
#[derive(Clone, Debug)]
pub struct ObjectsConfig {
    /// `S3_ENDPOINT`: set for MinIO, R2, Garage, moto, dev mode (path-style addressing); unset
    /// for AWS itself (virtual-host addressing at `s3.<region>.amazonaws.com`).
    pub endpoint: Option<String>,
    /// `S3_BUCKET`.
    pub bucket: String,
    /// `S3_REGION` (`us-east-1` when unset).
    pub region: String,
    /// `S3_ACCESS_KEY_ID`.
    pub access_key_id: String,
    /// `S3_SECRET_ACCESS_KEY`.
    pub secret_access_key: String,
}

impl ObjectsConfig {
    /// Reads the `S3_*` settings through `get`; `Ok(None)` when none is set (media disabled),
    /// an error naming what is missing when only some are.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, ObjectsError> {
        let val = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        if ENV_NAMES.iter().all(|k| val(k).is_none()) {
            return Ok(None);
        }
        let need = |k: &str| val(k).ok_or_else(|| ObjectsError::Config(format!("{k} is not set")));
        Ok(Some(Self {
            endpoint: val("S3_ENDPOINT"),
            bucket: need("S3_BUCKET")?,
            region: val("S3_REGION").unwrap_or_else(|| "us-east-1".to_owned()),
            access_key_id: need("S3_ACCESS_KEY_ID")?,
            secret_access_key: need("S3_SECRET_ACCESS_KEY")?,
        }))
    }
}

/// A request to make: method, URL, headers (all of them signed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signed {
    /// The presigned URL.
    pub url: String,
    /// Headers the request must carry, name → value.
    pub headers: BTreeMap<String, String>,
}

/// Makes presigned URLs for one bucket.
#[derive(Clone, Debug)]
pub struct Presigner {
    bucket: Bucket,
    credentials: Credentials,
}

impl Presigner {
    /// A presigner for `config`.
    pub fn new(config: &ObjectsConfig) -> Result<Self, ObjectsError> {
        let (endpoint, style) = match &config.endpoint {
            Some(e) => (e.clone(), UrlStyle::Path),
            None => (format!("https://s3.{}.amazonaws.com", config.region), UrlStyle::VirtualHost),
        };
        let url = endpoint.parse().map_err(|e| ObjectsError::Config(format!("S3_ENDPOINT {endpoint:?}: {e}")))?;
        let bucket = Bucket::new(url, style, config.bucket.clone(), config.region.clone())
            .map_err(|e| ObjectsError::Config(format!("S3_BUCKET {:?}: {e}", config.bucket)))?;
        Ok(Self { bucket, credentials: Credentials::new(&config.access_key_id, &config.secret_access_key) })
    }

    /// `PUT key`, binding its `Content-Type` and `Content-Length`: the store refuses an upload
    /// of another type or size.
    pub fn put(&self, key: &str, content_type: &str, size: i64, ttl: Duration, now: Timestamp) -> Signed {
        let size = size.to_string();
        let mut a = self.bucket.put_object(Some(&self.credentials), key);
        a.headers_mut().insert("content-length", size.clone());
        a.headers_mut().insert("content-type", content_type.to_owned());
        let url = a.sign_with_time(ttl, &instant(now)).to_string();
        Signed {
            url,
            headers: BTreeMap::from([("content-length".into(), size), ("content-type".into(), content_type.into())]),
        }
    }

    /// `GET key`, served with this `Content-Disposition` and `Content-Type`.
    pub fn get(&self, key: &str, disposition: &str, content_type: &str, ttl: Duration, now: Timestamp) -> String {
        let mut a = self.bucket.get_object(Some(&self.credentials), key);
        a.query_mut().insert("response-content-disposition", disposition.to_owned());
        a.query_mut().insert("response-content-type", content_type.to_owned());
        a.sign_with_time(ttl, &instant(now)).to_string()
    }

    /// `GET key` for the server itself (a `Range` header may be added: it is not signed).
    pub fn read(&self, key: &str, ttl: Duration, now: Timestamp) -> String {
        self.bucket.get_object(Some(&self.credentials), key).sign_with_time(ttl, &instant(now)).to_string()
    }

    /// `HEAD key`.
    pub fn head(&self, key: &str, ttl: Duration, now: Timestamp) -> String {
        self.bucket.head_object(Some(&self.credentials), key).sign_with_time(ttl, &instant(now)).to_string()
    }

    /// `DELETE key`.
    pub fn delete(&self, key: &str, ttl: Duration, now: Timestamp) -> String {
        self.bucket.delete_object(Some(&self.credentials), key).sign_with_time(ttl, &instant(now)).to_string()
    }

    /// `PUT` of the bucket itself (dev mode and tests create theirs).
    pub fn create_bucket(&self, ttl: Duration, now: Timestamp) -> String {
        self.bucket.create_bucket(&self.credentials).sign_with_time(ttl, &instant(now)).to_string()
    }
}

fn instant(t: Timestamp) -> jiff::Timestamp {
    let micros = t.0.timestamp_micros();
    jiff::Timestamp::from_microsecond(micros).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

/// What a `HEAD` of `key` answered: its size (`Content-Length`), `None` for 404.
pub fn head_answer(key: &str, status: u16, content_length: Option<&str>) -> Result<Option<u64>, ObjectsError> {
    match status {
        404 => Ok(None),
        200..=299 => Ok(content_length.and_then(|v| v.trim().parse().ok())),
        s => Err(ObjectsError::Status { action: "HEAD", key: key.to_owned(), status: s }),
    }
}

/// Whether a `GET` of `key` answered with its bytes (whole or the asked range).
pub fn read_answer(key: &str, status: u16) -> Result<(), ObjectsError> {
    match status {
        200..=299 => Ok(()),
        s => Err(ObjectsError::Status { action: "GET", key: key.to_owned(), status: s }),
    }
}

/// Whether a `DELETE` of `key` left it gone (404: it already was).
pub fn delete_answer(key: &str, status: u16) -> Result<(), ObjectsError> {
    match status {
        200..=299 | 404 => Ok(()),
        s => Err(ObjectsError::Status { action: "DELETE", key: key.to_owned(), status: s }),
    }
}

/// The `Range` header asking for the first `n` bytes.
pub fn first_bytes_range(n: usize) -> String {
    format!("bytes=0-{}", n.saturating_sub(1))
}

/// The requests a server makes to object storage itself.
pub trait ObjectIo {
    /// The object's size, or `None` when there is no such object.
    fn size(&self, key: &str) -> impl Future<Output = Result<Option<u64>, ObjectsError>>;
    /// Its first `n` bytes (fewer when it is shorter).
    fn first_bytes(&self, key: &str, n: usize) -> impl Future<Output = Result<Vec<u8>, ObjectsError>>;
    /// Deletes it (absent is fine).
    fn delete(&self, key: &str) -> impl Future<Output = Result<(), ObjectsError>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ObjectsConfig {
        ObjectsConfig {
            endpoint: Some("http://127.0.0.1:9000".into()),
            bucket: "media".into(),
            region: "us-east-1".into(),
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "secret".into(),
        }
    }

    #[test]
    fn configuration_is_all_or_nothing() {
        assert!(ObjectsConfig::from_lookup(|_| None).unwrap().is_none());
        let err = ObjectsConfig::from_lookup(|k| (k == "S3_BUCKET").then(|| "b".to_owned())).unwrap_err();
        assert!(err.to_string().contains("S3_ACCESS_KEY_ID"), "{err}");
        let c = ObjectsConfig::from_lookup(|k| Some(format!("v-{k}"))).unwrap().unwrap();
        assert_eq!((c.bucket.as_str(), c.region.as_str()), ("v-S3_BUCKET", "v-S3_REGION"));
    }

    #[test]
    fn uploads_sign_type_and_size_and_paths_are_path_style() {
        let p = Presigner::new(&config()).unwrap();
        let now = Timestamp::now();
        let s = p.put("media/x", "image/png", 42, Duration::from_secs(600), now);
        assert!(s.url.starts_with("http://127.0.0.1:9000/media/media/x?"), "{}", s.url);
        assert!(s.url.contains("X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost"), "{}", s.url);
        assert!(s.url.contains("X-Amz-Expires=600"));
        assert_eq!(s.headers["content-type"], "image/png");
        assert_eq!(s.headers["content-length"], "42");
        let g = p.get("media/x", "inline; filename=\"a.png\"", "image/png", Duration::from_secs(300), now);
        assert!(g.contains("response-content-disposition=inline"), "{g}");
        // The same inputs sign the same way (the node and the edge agree).
        assert_eq!(p.put("media/x", "image/png", 42, Duration::from_secs(600), now), s);
    }

    #[test]
    fn answers_are_read_the_same_at_every_host() {
        assert_eq!(head_answer("k", 200, Some("42")).unwrap(), Some(42));
        assert_eq!(head_answer("k", 404, None).unwrap(), None);
        assert!(head_answer("k", 403, None).unwrap_err().to_string().contains("403 to HEAD k"));
        assert!(read_answer("k", 206).is_ok() && read_answer("k", 416).is_err());
        assert!(delete_answer("k", 204).is_ok() && delete_answer("k", 404).is_ok() && delete_answer("k", 500).is_err());
        assert_eq!(first_bytes_range(512), "bytes=0-511");
    }
}
