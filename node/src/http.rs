//! The HTTP server: REST routes through the shared router, the `/v1/ws` upgrade, health and
//! metrics. Everything here is conversion; rules live in `parley-shared`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use parley_shared::api::{self, Env, Method};
use parley_shared::auth::{Signer, Verifier};
use parley_shared::error::{ApiError, ErrorCode};
use parley_shared::protocol::MAX_FRAME_BYTES;
use parley_shared::rules::MAX_BODY_BYTES;
use serde::Deserialize;
use tracing::error;

use crate::db::{self, PooledClient};
use crate::session;
use crate::state::NodeState;
use crate::transport;

/// The shared handlers' view of the node.
struct NodeEnv<'a>(&'a NodeState);

impl Env for NodeEnv<'_> {
    type Db = PooledClient;

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
}

#[derive(Clone)]
struct AppState {
    node: Arc<NodeState>,
    metrics: PrometheusHandle,
}

/// The node's router.
pub fn router(node: Arc<NodeState>, metrics: PrometheusHandle) -> Router {
    Router::new()
        .route("/v1/ws", get(ws_upgrade))
        .route("/metrics", get(metrics_text))
        .fallback(rest)
        .with_state(AppState { node, metrics })
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
    resp
}

fn error_response(e: ApiError) -> Response {
    to_response(api::Response::error(&e))
}

async fn rest(State(app): State<AppState>, ConnectInfo(peer): ConnectInfo<SocketAddr>, req: Request<Body>) -> Response {
    let path = req.uri().path().to_owned();
    let ops = matches!(path.as_str(), "/healthz" | "/readyz");
    if !app.node.rest && !ops {
        return error_response(ApiError::not_found(format!("no route for {path}")));
    }
    if !ops && let Err(secs) = app.node.limits.check(peer.ip(), &path) {
        let e = ApiError {
            retry_after: Some(secs),
            ..ApiError::new(ErrorCode::RateLimited, "too many requests; slow down")
        };
        return error_response(e);
    }
    let method = Method::parse(req.method().as_str());
    let query = req.uri().query().map(str::to_owned);
    let auth = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body = match to_bytes(req.into_body(), MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => return error_response(ApiError::too_large(format!("body: at most {MAX_BODY_BYTES} bytes"))),
    };
    let request =
        api::Request { method, path: &path, query: query.as_deref(), authorization: auth.as_deref(), body: &body };
    to_response(api::handle(&NodeEnv(&app.node), request).await)
}

/// Per-connection WebSocket read buffer; it grows for a larger frame, up to the frame limit.
const WS_READ_BUFFER: usize = 4 * 1024;

#[derive(Deserialize)]
struct WsQuery {
    token: Option<String>,
}

/// The token from `?token=` or from `Sec-WebSocket-Protocol: parley.v1, bearer.<token>`.
fn ws_token(q: &WsQuery, headers: &HeaderMap) -> Option<String> {
    if let Some(t) = &q.token {
        return Some(t.clone());
    }
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .find_map(|p| p.strip_prefix("bearer.").map(str::to_owned))
}

async fn ws_upgrade(
    State(app): State<AppState>,
    Query(q): Query<WsQuery>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    if app.node.draining.load(Ordering::Acquire) {
        let e = ApiError::new(parley_shared::error::ErrorCode::Unavailable, "node is shutting down");
        return error_response(e);
    }
    // Authenticate before upgrading, so a bad token is a plain 401 a client can read.
    let Some(token) = ws_token(&q, &headers) else {
        return error_response(ApiError::unauthorized(
            "missing access token: pass ?token= or Sec-WebSocket-Protocol: parley.v1, bearer.<token>",
        ));
    };
    let claims = match session::authenticate(&app.node, &token).await {
        Ok(c) => c,
        Err(e) => return error_response(e),
    };
    let node = app.node.clone();
    upgrade
        .protocols(["parley.v1"])
        // tungstenite's 128 KiB default buffers would dominate an idle connection's memory;
        // frames are small and each is flushed as it is sent.
        .read_buffer_size(WS_READ_BUFFER)
        .write_buffer_size(0)
        .max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .on_upgrade(move |socket| transport::ws::serve(node, socket, claims))
}

async fn metrics_text(State(app): State<AppState>) -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"))], app.metrics.render())
        .into_response()
}
