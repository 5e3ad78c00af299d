//! `/v1/users/*` and readiness.

use super::{Env, Query, Request, Response, authenticate};
use crate::error::ApiError;
use crate::ids::UserId;
use crate::model::UserPage;
use crate::rules;
use crate::store::users;

/// Longest search prefix, in characters.
const MAX_QUERY_CHARS: usize = 64;

/// `GET /v1/users?q=prefix&cursor=&limit=`: users whose username or display name starts with
/// the prefix, by username.
pub async fn search<E: Env>(env: &E, req: &Request<'_>) -> Result<Response, ApiError> {
    authenticate(env, req)?;
    let q = Query::parse(req.query);
    let prefix = q.get("q").map(str::trim).unwrap_or("");
    if prefix.is_empty() || prefix.chars().count() > MAX_QUERY_CHARS {
        return Err(ApiError::invalid(format!("q: 1 to {MAX_QUERY_CHARS} characters")));
    }
    let limit = rules::limit(q.int("limit")?)?;
    let db = env.db().await?;
    let mut found = users::search(&*db, prefix, q.get("cursor"), limit + 1).await?;
    let next_cursor = if found.len() as i64 > limit {
        found.truncate(limit as usize);
        found.last().map(|u| u.username.clone())
    } else {
        None
    };
    Ok(Response::json(200, &UserPage { users: found, next_cursor }))
}

/// `GET /v1/users/me`.
pub async fn me<E: Env>(env: &E, req: &Request<'_>) -> Result<Response, ApiError> {
    let me = authenticate(env, req)?;
    let db = env.db().await?;
    let user = users::get(&*db, me.user_id).await?.ok_or_else(|| ApiError::unauthorized("account no longer exists"))?;
    Ok(Response::json(200, &user))
}

/// `GET /v1/users/{id}`.
pub async fn get<E: Env>(env: &E, req: &Request<'_>, id: UserId) -> Result<Response, ApiError> {
    authenticate(env, req)?;
    let db = env.db().await?;
    let user = users::get(&*db, id).await?.ok_or_else(|| ApiError::not_found("user not found"))?;
    Ok(Response::json(200, &user))
}

/// `GET /readyz`: 200 when the database answers.
pub async fn ready<E: Env>(env: &E) -> Result<Response, ApiError> {
    let db = env.db().await?;
    db.simple_query("SELECT 1")
        .await
        .map_err(|e| ApiError::new(crate::error::ErrorCode::Unavailable, format!("database: {e}")))?;
    Ok(Response::json(200, &serde_json::json!({"status": "ready"})))
}
