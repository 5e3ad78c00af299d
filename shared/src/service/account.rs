//! The caller's account: password, deletion, and sessions (devices). Revoked sessions are
//! announced, so their connections close on every node within seconds.

use tokio_postgres::GenericClient;

use super::{Env, notices};
use crate::auth::AccessClaims;
use crate::error::ApiError;
use crate::ids::{SessionId, UserId};
use crate::model::{ChangePassword, DeleteAccount, NoticeBody, SessionPage};
use crate::rules;
use crate::store::notify::{self, Announcement};
use crate::store::social::TimeCursor;
use crate::store::tx::transact;
use crate::store::{StoreError, sessions, users};

/// Checks `password` against the caller's; a wrong one is a 403 naming the field.
async fn confirm<E: Env>(env: &E, user: UserId, field: &str, password: String) -> Result<(), ApiError> {
    let db = env.db().await?;
    let phc =
        users::password_hash(&*db, user).await?.ok_or_else(|| ApiError::unauthorized("account no longer exists"))?;
    drop(db);
    if !env.verify_password(password, phc).await {
        return Err(ApiError::forbidden(format!("{field}: wrong password")));
    }
    Ok(())
}

/// Announces revoked sessions, so every node closes their connections.
async fn announce_revoked<C: GenericClient>(c: &C, revoked: &[SessionId]) -> Result<(), StoreError> {
    for s in revoked {
        notify::send(c, &Announcement::Revoked { session_id: *s }).await?;
    }
    Ok(())
}

/// Changes the caller's password; every other session is signed out.
pub async fn change_password<E: Env>(env: &E, me: &AccessClaims, b: ChangePassword) -> Result<(), ApiError> {
    rules::accounts::password(&b.new_password)
        .map_err(|e| ApiError::invalid(e.message.replacen("password", "new_password", 1)))?;
    confirm(env, me.user_id, "current_password", b.current_password).await?;
    let hash = env.hash_password(b.new_password).await?;
    let mut db = env.db().await?;
    transact!(db, |tx| {
        users::set_password(tx, me.user_id, &hash).await?;
        let revoked = sessions::revoke_all(tx, me.user_id, Some(me.session_id)).await?;
        announce_revoked(tx, &revoked).await
    })?;
    Ok(())
}

/// Deletes the caller's account: credentials and profile erased, every session signed out,
/// friendships ended, every group left (an owned group passes on); their messages stay in
/// others' history as from a deleted user.
pub async fn delete<E: Env>(env: &E, me: &AccessClaims, b: DeleteAccount) -> Result<(), ApiError> {
    confirm(env, me.user_id, "password", b.password).await?;
    let mut db = env.db().await?;
    transact!(db, |tx| {
        super::groups::leave_all(tx, me.user_id).await?;
        let former_friends = users::erase(tx, me.user_id).await?;
        for f in &former_friends {
            notices::push(tx, *f, NoticeBody::FriendRemoved { user_id: me.user_id }).await?;
            notify::send(tx, &Announcement::Friends { a: me.user_id, b: *f, friends: false }).await?;
        }
        let revoked = sessions::revoke_all(tx, me.user_id, None).await?;
        announce_revoked(tx, &revoked).await
    })?;
    Ok(())
}

/// The caller's active sessions, most recently used first.
pub async fn sessions<E: Env>(
    env: &E,
    me: &AccessClaims,
    cursor: Option<&str>,
    limit: Option<i64>,
) -> Result<SessionPage, ApiError> {
    let limit = rules::pagination::limit(limit)?;
    let after = super::social::time_cursor(cursor)?;
    let db = env.db().await?;
    let mut list = sessions::list(&*db, me.user_id, me.session_id, after, limit + 1).await?;
    let next_cursor =
        super::social::page_end(&mut list, limit, |s| TimeCursor { at: s.last_used_at.0, id: s.id.0 }.encode());
    Ok(SessionPage { sessions: list, next_cursor })
}

/// Signs out one of the caller's sessions (the current one too); 404 for anyone else's.
pub async fn revoke_session<E: Env>(env: &E, me: &AccessClaims, session: SessionId) -> Result<(), ApiError> {
    let mut db = env.db().await?;
    transact!(db, |tx| {
        if !sessions::revoke_own(tx, me.user_id, session).await? {
            return Err(StoreError::refused(ApiError::not_found("session not found")));
        }
        announce_revoked(tx, &[session]).await
    })?;
    Ok(())
}
