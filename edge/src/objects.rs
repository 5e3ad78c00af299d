//! The edge's requests to object storage: presigned by the shared [`Presigner`] (exactly as the
//! node signs) and sent with the Workers `fetch`.

use std::time::Duration;

use parley_shared::objects::{
    ObjectIo, ObjectsConfig, ObjectsError, Presigner, delete_answer, first_bytes_range, head_answer, read_answer,
};
use parley_shared::time::Timestamp;
use worker::{Fetch, Headers, Method, Request, RequestInit};

use crate::env::string_binding;

/// How long the edge's own presigned requests stay valid: they are sent at once.
const OWN_TTL: Duration = Duration::from_secs(60);

/// Object storage as the edge reaches it.
pub struct EdgeObjects {
    presigner: Presigner,
}

impl EdgeObjects {
    /// From the `S3_*` bindings (secrets or vars); `None` when none is set. Bad settings are
    /// logged and leave media off (503 on the media routes), never breaking the other routes.
    pub fn from_bindings(env: &worker::Env) -> Option<Self> {
        let made = ObjectsConfig::from_lookup(|k| string_binding(env, k))
            .and_then(|c| c.map(|c| Presigner::new(&c)).transpose());
        match made {
            Ok(p) => p.map(|presigner| Self { presigner }),
            Err(e) => {
                worker::console_error!("{e}");
                None
            }
        }
    }

    /// The presigner clients' URLs come from.
    pub fn presigner(&self) -> &Presigner {
        &self.presigner
    }
}

async fn send(method: Method, url: String, headers: &[(&str, String)]) -> Result<worker::Response, ObjectsError> {
    let h = Headers::new();
    for (k, v) in headers {
        h.set(k, v).map_err(|e| ObjectsError::Unreachable(e.to_string()))?;
    }
    let mut init = RequestInit::new();
    init.with_method(method).with_headers(h);
    let req = Request::new_with_init(&url, &init).map_err(|e| ObjectsError::Unreachable(e.to_string()))?;
    Fetch::Request(req).send().await.map_err(|e| ObjectsError::Unreachable(e.to_string()))
}

impl ObjectIo for EdgeObjects {
    async fn size(&self, key: &str) -> Result<Option<u64>, ObjectsError> {
        let r = send(Method::Head, self.presigner.head(key, OWN_TTL, Timestamp::now()), &[]).await?;
        let length = r.headers().get("content-length").ok().flatten();
        head_answer(key, r.status_code(), length.as_deref())
    }

    async fn first_bytes(&self, key: &str, n: usize) -> Result<Vec<u8>, ObjectsError> {
        let url = self.presigner.read(key, OWN_TTL, Timestamp::now());
        let mut r = send(Method::Get, url, &[("range", first_bytes_range(n))]).await?;
        read_answer(key, r.status_code())?;
        let mut body = r.bytes().await.map_err(|e| ObjectsError::Unreachable(e.to_string()))?;
        body.truncate(n);
        Ok(body)
    }

    async fn delete(&self, key: &str) -> Result<(), ObjectsError> {
        let r = send(Method::Delete, self.presigner.delete(key, OWN_TTL, Timestamp::now()), &[]).await?;
        delete_answer(key, r.status_code())
    }
}
