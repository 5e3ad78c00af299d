//! Maps a method and path to its handler: the one routing table, shared by node and edge.

use super::{Env, Method, Request, Response, auth, conversations, messages, users};
use crate::error::{ApiError, ErrorCode};
use crate::ids::{ConversationId, UserId};

/// Serves one REST request.
pub async fn handle<E: Env>(env: &E, req: Request<'_>) -> Response {
    match route(env, &req).await {
        Ok(resp) => resp,
        Err(e) => Response::error(&e),
    }
}

fn id<T: std::str::FromStr>(s: &str, what: &str) -> Result<T, ApiError> {
    // An id that cannot exist is a 404, the same answer as one that does not.
    s.parse().map_err(|_| ApiError::not_found(format!("{what} not found")))
}

async fn route<E: Env>(env: &E, req: &Request<'_>) -> Result<Response, ApiError> {
    use Method::*;
    let path = req.path.trim_end_matches('/');
    let segs: Vec<&str> = path.split('/').skip(1).collect();
    let m = req.method;
    match segs.as_slice() {
        ["healthz"] if m == Get => Ok(Response::json(200, &serde_json::json!({"status": "ok"}))),
        ["readyz"] if m == Get => users::ready(env).await,
        [".well-known", "jwks.json"] if m == Get => auth::jwks(env),
        ["v1", "auth", "register"] if m == Post => auth::register(env, req).await,
        ["v1", "auth", "login"] if m == Post => auth::login(env, req).await,
        ["v1", "auth", "refresh"] if m == Post => auth::refresh(env, req).await,
        ["v1", "auth", "logout"] if m == Post => auth::logout(env, req).await,
        ["v1", "users"] if m == Get => users::search(env, req).await,
        ["v1", "users", "me"] if m == Get => users::me(env, req).await,
        ["v1", "users", uid] if m == Get => users::get(env, req, id::<UserId>(uid, "user")?).await,
        ["v1", "conversations"] if m == Get => conversations::list(env, req).await,
        ["v1", "conversations", "direct"] if m == Post => conversations::direct(env, req).await,
        ["v1", "conversations", cid, "messages"] if m == Post => {
            messages::send(env, req, id::<ConversationId>(cid, "conversation")?).await
        }
        ["v1", "conversations", cid, "events"] if m == Get => {
            messages::events(env, req, id::<ConversationId>(cid, "conversation")?).await
        }
        ["v1", "conversations", cid, "read"] if m == Post => {
            conversations::read(env, req, id::<ConversationId>(cid, "conversation")?).await
        }
        _ if known_path(&segs) => {
            Err(ApiError::new(ErrorCode::MethodNotAllowed, format!("method not allowed on {path}")))
        }
        _ => Err(ApiError::not_found(format!("no route for {path}"))),
    }
}

fn known_path(segs: &[&str]) -> bool {
    matches!(
        segs,
        ["healthz"]
            | ["readyz"]
            | [".well-known", "jwks.json"]
            | ["v1", "auth", "register" | "login" | "refresh" | "logout"]
            | ["v1", "users"]
            | ["v1", "users", _]
            | ["v1", "conversations"]
            | ["v1", "conversations", _]
            | ["v1", "conversations", _, "messages" | "events" | "read"]
    )
}
