//! Dev mode's own S3-compatible store: s3s with its filesystem backend, embedded as a library on
//! a loopback port, keeping objects under the data dir with credentials generated once. It checks
//! SigV4 signatures and expiry like a real store, so presigned URLs behave as in production.
//! Browsers upload to it from the app's origin, so it answers CORS (dev only: a real bucket's CORS
//! is its operator's).

use std::net::SocketAddr;
use std::path::Path;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use parley_shared::objects::ObjectsConfig;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use tokio::net::TcpListener;
use tower_http::cors::CorsLayer;
use tracing::warn;

/// The bucket dev mode keeps media in.
pub const BUCKET: &str = "parley-media";
/// The region it signs for (any is accepted).
const REGION: &str = "us-east-1";

/// A running embedded store.
pub struct DevObjectStore {
    /// Where it listens.
    pub addr: SocketAddr,
    /// How the node reaches it (the same settings a deployment gives in `S3_*`).
    pub config: ObjectsConfig,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for DevObjectStore {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts the store on `addr` with objects under `dir`.
pub async fn start(dir: &Path, addr: SocketAddr) -> std::io::Result<DevObjectStore> {
    std::fs::create_dir_all(dir.join(BUCKET))?;
    let (key_id, secret) = credentials(dir)?;
    let fs = s3s_fs::FileSystem::new(dir).map_err(|e| std::io::Error::other(format!("{e:?}")))?;
    let mut builder = S3ServiceBuilder::new(fs);
    builder.set_auth(SimpleAuth::from_single(key_id.as_str(), secret.as_str()));
    // No host set: every request is path-style (`/bucket/key`), as S3_ENDPOINT implies.
    let s3 = builder.build();
    let service = tower::ServiceBuilder::new().layer(CorsLayer::very_permissive()).service(s3);
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        let http = Builder::new(TokioExecutor::new());
        loop {
            let sock = match listener.accept().await {
                Ok((sock, _)) => sock,
                Err(e) => {
                    warn!("object store accept: {e}");
                    continue;
                }
            };
            let conn =
                http.serve_connection(TokioIo::new(sock), TowerToHyperService::new(service.clone())).into_owned();
            tokio::spawn(async move {
                let _ = conn.await;
            });
        }
    });
    let config = ObjectsConfig {
        endpoint: Some(format!("http://{addr}")),
        bucket: BUCKET.into(),
        region: REGION.into(),
        access_key_id: key_id,
        secret_access_key: secret,
    };
    Ok(DevObjectStore { addr, config, task })
}

/// The store's access key, made once and kept beside the objects (tokens and URLs survive a
/// restart of dev mode).
fn credentials(dir: &Path) -> std::io::Result<(String, String)> {
    let path = dir.join(".dev-credentials");
    if let Ok(s) = std::fs::read_to_string(&path)
        && let Some((id, secret)) = s.trim().split_once(':')
    {
        return Ok((id.to_owned(), secret.to_owned()));
    }
    let token = |n: usize| -> std::io::Result<String> {
        let mut bytes = vec![0u8; n];
        getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok(bytes.iter().map(|b| char::from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[usize::from(b % 32)])).collect())
    };
    let (id, secret) = (format!("PARLEYDEV{}", token(11)?), token(40)?);
    std::fs::write(&path, format!("{id}:{secret}\n"))?;
    Ok((id, secret))
}
