//! `/v1/users/*` and readiness.

use super::{Env, Request, Response, authenticate};
use crate::error::ApiError;
use crate::ids::UserId;
use crate::store::users;

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
