//! Conversion between Workers requests/responses and the shared router's, as `node/src/http.rs`
//! does for axum. No rule lives here.

use futures_util::StreamExt;
use parley_shared::api::{self, MAX_BODY_BYTES, Method};
use parley_shared::error::ApiError;
use worker::{Headers, Request, Response, ResponseBuilder, Url, console_error};

use crate::env::{EdgeEnv, string_binding};
use crate::{cors, test_hooks};

/// Serves one request. Never fails: every error is already the contract's envelope.
pub async fn serve(mut req: Request, env: &worker::Env) -> Response {
    let cors_config = string_binding(env, cors::ORIGINS_VAR);
    let origin = cors::allowed_origin(cors_config.as_deref(), &req);
    if let Some(origin) = &origin
        && cors::is_preflight(&req)
    {
        return cors::preflight(origin).unwrap_or_else(|e| fallback(&format!("CORS preflight: {e}")));
    }
    let method = req.inner().method();
    let (resp, path) = match req.url() {
        Ok(url) => {
            // The runtime takes heads bigger than the contract allows; the node's server refuses them.
            let line = method.len() + url.path().len() + url.query().map_or(0, |q| q.len() + 1) + 10;
            let too_large = api::head_too_large(line, req.headers().entries().map(|(n, v)| (n.len(), v.len())));
            let resp = match test_hooks::handle(env, &method, &url) {
                _ if too_large => api::Response::head_too_large(),
                Some(resp) => resp,
                None => rest(&mut req, env, &method, &url).await,
            };
            (resp, url.path().to_owned())
        }
        Err(e) => (api::Response::error(&ApiError::internal(format!("request URL: {e}"))), String::new()),
    };
    if let Some(detail) = &resp.log_detail {
        console_error!("{method} {path} -> {}: {detail}", resp.status);
    }
    to_worker(resp, origin.as_deref()).unwrap_or_else(|e| fallback(&format!("building the response: {e}")))
}

/// The shared router's answer to `req`.
async fn rest(req: &mut Request, env: &worker::Env, method: &str, url: &Url) -> api::Response {
    let edge = match EdgeEnv::new(env) {
        Ok(e) => e,
        Err(e) => return api::Response::error(&e),
    };
    let authorization = req.headers().get("Authorization").ok().flatten();
    let body = match read_body(req).await {
        Ok(b) => b,
        Err(e) => return api::Response::error(&e),
    };
    let request = api::Request {
        method: Method::parse(method),
        path: url.path(),
        query: url.query(),
        authorization: authorization.as_deref(),
        // Cloudflare sets it to the visitor's address (wrangler dev: the local client's).
        client: req.headers().get("CF-Connecting-IP").ok().flatten().and_then(|v| v.trim().parse().ok()),
        body: &body,
    };
    api::handle(&edge, request).await
}

fn too_large() -> ApiError {
    ApiError::too_large(format!("body: at most {MAX_BODY_BYTES} bytes"))
}

/// The body, refusing more than [`MAX_BODY_BYTES`] without buffering it: by `Content-Length`
/// when declared, else as the stream passes the limit.
async fn read_body(req: &mut Request) -> Result<Vec<u8>, ApiError> {
    let declared = req.headers().get("Content-Length").ok().flatten().and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    if req.inner().body().is_none() {
        return Ok(Vec::new());
    }
    let mut stream = req.stream().map_err(|e| ApiError::internal(format!("request body: {e}")))?;
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::invalid(format!("body: could not be read ({e})")))?;
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The Workers response for the router's.
fn to_worker(r: api::Response, origin: Option<&str>) -> worker::Result<Response> {
    let headers = Headers::new();
    if r.body.is_some() {
        headers.set("Content-Type", "application/json")?;
    }
    if let Some(secs) = r.retry_after {
        headers.set("Retry-After", &secs.to_string())?;
    }
    if let Some(allow) = &r.allow {
        headers.set("Allow", allow)?;
    }
    if let Some(to) = &r.location {
        headers.set("Location", to)?;
    }
    if let Some(origin) = origin {
        cors::apply(&headers, origin)?;
    }
    // The runtime throws on statuses outside 200..=599; the router never makes one.
    let status = if (200..=599).contains(&r.status) { r.status } else { 500 };
    let builder = ResponseBuilder::new().with_status(status).with_headers(headers);
    Ok(match r.body {
        Some(body) => builder.fixed(body.into_bytes()),
        None => builder.empty(),
    })
}

/// The 500 envelope when even building a response failed (a runtime error, not ours).
fn fallback(detail: &str) -> Response {
    console_error!("{detail}");
    // Headers only fail on invalid names or values; this one is constant.
    let builder = ResponseBuilder::new()
        .with_header("Content-Type", "application/json")
        .unwrap_or_else(|_| ResponseBuilder::new())
        .with_status(500);
    builder.fixed(ApiError::internal(detail).to_json().into_bytes())
}
