//! Profiles and user search; readiness.

use super::Env;
use crate::auth::AccessClaims;
use crate::error::{ApiError, ErrorCode};
use crate::ids::UserId;
use crate::model::{User, UserPage};
use crate::rules;
use crate::store::users;

/// Users whose username or display name starts with `q`, by username, after the page cursor.
pub async fn search<E: Env>(
    env: &E,
    q: Option<&str>,
    cursor: Option<&str>,
    limit: Option<i64>,
) -> Result<UserPage, ApiError> {
    let prefix = rules::users::search_prefix(q)?;
    let limit = rules::pagination::limit(limit)?;
    let db = env.db().await?;
    let mut found = users::search(&*db, prefix, cursor, limit + 1).await?;
    let next_cursor = if found.len() as i64 > limit {
        found.truncate(limit as usize);
        found.last().map(|u| u.username.clone())
    } else {
        None
    };
    Ok(UserPage { users: found, next_cursor })
}

/// The caller's own profile; 401 when the account is gone.
pub async fn me<E: Env>(env: &E, me: &AccessClaims) -> Result<User, ApiError> {
    let db = env.db().await?;
    users::get(&*db, me.user_id).await?.ok_or_else(|| ApiError::unauthorized("account no longer exists"))
}

/// A user's profile.
pub async fn get<E: Env>(env: &E, id: UserId) -> Result<User, ApiError> {
    let db = env.db().await?;
    users::get(&*db, id).await?.ok_or_else(|| ApiError::not_found("user not found"))
}

/// Whether the database answers: `Unavailable` when it does not.
pub async fn ready<E: Env>(env: &E) -> Result<(), ApiError> {
    let db = env.db().await?;
    db.simple_query("SELECT 1").await.map_err(|e| ApiError::new(ErrorCode::Unavailable, format!("database: {e}")))?;
    Ok(())
}
