//! The HTTP server: REST routes through the shared router, the `/v1/ws` upgrade
//! ([`crate::transport::ws`]), and metrics. Everything here is conversion; rules live in
//! `parley-shared`.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use parley_shared::api::{self, MAX_BODY_BYTES, Method};
use parley_shared::auth::{Signer, Verifier};
use parley_shared::error::{ApiError, ErrorCode};
use parley_shared::service::Env;
use tower::ServiceExt;
use tower_http::services::{ServeDir, ServeFile};
use tracing::error;

use crate::db::{self, PooledClient};
use crate::state::NodeState;
use crate::transport;

/// The shared use cases' view of the node (REST handlers and realtime frames alike).
pub(crate) struct NodeEnv<'a>(pub(crate) &'a NodeState);

impl Env for NodeEnv<'_> {
    type Db = PooledClient;
    type Objects = crate::objects::NodeObjects;

    fn objects(&self) -> Option<(&parley_shared::objects::Presigner, &crate::objects::NodeObjects)> {
        self.0.objects.as_ref().map(|o| (o.presigner(), o))
    }

    fn max_media_size(&self) -> u64 {
        self.0.max_media_size
    }

    async fn db(&self) -> Result<PooledClient, ApiError> {
        db::get(&self.0.pool).await
    }

    async fn hash_password(&self, password: String) -> Result<String, ApiError> {
        // argon2 is deliberately slow: keep it off the async worker threads.
        tokio::task::spawn_blocking(move || {
            parley_shared::auth::passwords::hash(&password, parley_shared::auth::PasswordParams::DEFAULT)
        })
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(|e| ApiError::internal(e.to_string()))
    }

    async fn verify_password(&self, password: String, phc: String) -> bool {
        tokio::task::spawn_blocking(move || parley_shared::auth::passwords::verify(&password, &phc))
            .await
            .unwrap_or(false)
    }

    fn signer(&self) -> Option<&Signer> {
        self.0.signer.as_ref()
    }

    fn verifier(&self) -> &Verifier {
        &self.0.verifier
    }

    fn max_group_members(&self) -> i64 {
        self.0.max_group_members
    }

    async fn words(&self) -> Result<std::sync::Arc<parley_shared::rules::words::WordFilter>, ApiError> {
        Ok(self.0.policy.words())
    }

    fn user_send_rate(&self) -> parley_shared::rules::limits::UserRate {
        self.0.policy.per_user
    }

    fn recall_window(&self) -> std::time::Duration {
        self.0.policy.recall_window
    }

    fn costly_limits(&self) -> bool {
        self.0.costly_limits
    }

    async fn session_active(&self, session: parley_shared::ids::SessionId) -> Result<bool, ApiError> {
        crate::revocations::session_active(self.0, session).await
    }
}

/// What the HTTP handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The node.
    pub node: Arc<NodeState>,
    metrics: PrometheusHandle,
}

/// The node's router: `/v1/ws`, `/metrics`, and everything else to the REST router, or, for
/// page requests outside the API when `web_dir` is given, to the web app's files.
pub fn router(node: Arc<NodeState>, metrics: PrometheusHandle, web_dir: Option<&Path>) -> Router {
    let web = web_dir.map(|d| ServeDir::new(d).fallback(ServeFile::new(d.join("index.html"))));
    Router::new()
        .route("/v1/ws", get(transport::ws::upgrade))
        .route("/metrics", get(metrics_text))
        .fallback(move |app, peer, req| page_or_rest(app, peer, req, web.clone()))
        .with_state(AppState { node, metrics })
}

/// Whether `path` belongs to the API rather than to the web app.
fn is_api_path(path: &str) -> bool {
    path == "/v1"
        || path.starts_with("/v1/")
        || path.starts_with("/.well-known/")
        || matches!(path, "/healthz" | "/readyz")
}

async fn page_or_rest(
    app: State<AppState>,
    peer: ConnectInfo<SocketAddr>,
    req: Request<Body>,
    web: Option<ServeDir<ServeFile>>,
) -> Response {
    let page = matches!(*req.method(), axum::http::Method::GET | axum::http::Method::HEAD);
    match web {
        Some(web) if page && !is_api_path(req.uri().path()) => match web.oneshot(req).await {
            Ok(resp) => resp.into_response(),
            Err(e) => error_response(ApiError::internal(format!("serving the web app: {e}"))),
        },
        _ => rest(app, peer, req).await,
    }
}

fn to_response(r: api::Response) -> Response {
    if let Some(d) = &r.log_detail {
        error!("{d}");
    }
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = match r.body {
        Some(b) => (status, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], b).into_response(),
        None => status.into_response(),
    };
    if let Some(secs) = r.retry_after {
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    if let Some(allow) = r.allow.as_deref().and_then(|a| HeaderValue::from_str(a).ok()) {
        resp.headers_mut().insert(header::ALLOW, allow);
    }
    if let Some(to) = r.location.as_deref().and_then(|a| HeaderValue::from_str(a).ok()) {
        resp.headers_mut().insert(header::LOCATION, to);
    }
    resp
}

/// The contract's 431 for a request whose head is over [`api::head_too_large`]'s limits.
///
/// hyper's own limit is a read-buffer size, and one read may fill the buffer past it, so a head a
/// little over the limit can arrive whole and parse; this counts it exactly, as the edge does.
pub fn refuse_large_head<B>(req: &Request<B>) -> Option<Response> {
    let uri = req.uri();
    // "GET /path?query HTTP/1.1": the method, the target, two spaces and the version.
    let line = req.method().as_str().len() + uri.path().len() + uri.query().map_or(0, |q| q.len() + 1) + 10;
    let headers = req.headers().iter().map(|(n, v)| (n.as_str().len(), v.len()));
    api::head_too_large(line, headers).then(|| to_response(api::Response::head_too_large()))
}

/// The contract's error envelope as an axum response.
pub fn error_response(e: ApiError) -> Response {
    to_response(api::Response::error(&e))
}

async fn rest(State(app): State<AppState>, ConnectInfo(peer): ConnectInfo<SocketAddr>, req: Request<Body>) -> Response {
    let path = req.uri().path().to_owned();
    let ops = matches!(path.as_str(), "/healthz" | "/readyz");
    if !app.node.rest && !ops {
        return error_response(ApiError::not_found(format!("no route for {path}")));
    }
    let forwarded = req.headers().get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok());
    let client = app.node.limits.client(peer.ip(), forwarded);
    if !ops && let Err(secs) = app.node.limits.check(client, &path) {
        let e = ApiError {
            retry_after: Some(secs),
            ..ApiError::new(ErrorCode::RateLimited, "too many requests; slow down")
        };
        return error_response(e);
    }
    let method = Method::parse(req.method().as_str());
    let query = req.uri().query().map(str::to_owned);
    let auth = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body = match read_body(req.into_body()).await {
        Some(b) => b,
        None => return error_response(ApiError::too_large(format!("body: at most {MAX_BODY_BYTES} bytes"))),
    };
    let request = api::Request {
        method,
        path: &path,
        query: query.as_deref(),
        authorization: auth.as_deref(),
        client: Some(client),
        body: &body,
    };
    to_response(api::handle(&NodeEnv(&app.node), request).await)
}

/// How much of an oversized body is read (and dropped) before answering 413, and for how long:
/// a client still writing when the node answered and closed would see a reset instead of the
/// contract's error.
const DRAIN_BYTES: usize = 4 * 1024 * 1024;
const DRAIN_FOR: std::time::Duration = std::time::Duration::from_secs(2);

/// The body, or `None` when it is over [`MAX_BODY_BYTES`] (after draining what a client still
/// sends of it, within bounds).
async fn read_body(body: Body) -> Option<Vec<u8>> {
    use futures_util::StreamExt;
    let mut stream = body.into_data_stream();
    let mut buf = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.ok()?;
        if buf.len() + chunk.len() > MAX_BODY_BYTES {
            let mut drained = buf.len() + chunk.len();
            let _ = tokio::time::timeout(DRAIN_FOR, async {
                while drained < DRAIN_BYTES {
                    match stream.next().await {
                        Some(Ok(c)) => drained += c.len(),
                        _ => break,
                    }
                }
            })
            .await;
            return None;
        }
        buf.extend_from_slice(&chunk);
    }
    Some(buf)
}

async fn metrics_text(State(app): State<AppState>) -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"))], app.metrics.render())
        .into_response()
}
