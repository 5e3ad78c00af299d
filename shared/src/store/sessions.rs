//! Auth sessions and their rotating refresh tokens.

use chrono::{Duration, Utc};
use tokio_postgres::GenericClient;

use super::{StoreError, Type};
use crate::auth::refresh;
use crate::ids::{SessionId, UserId};

/// Creates a session for `user` and its first refresh token (given in plain; stored hashed).
pub async fn create<C: GenericClient>(
    c: &C,
    session: SessionId,
    user: UserId,
    device_name: Option<&str>,
    refresh_token: &str,
) -> Result<(), StoreError> {
    c.query_typed(
        "INSERT INTO auth_sessions (id, user_id, device_name) VALUES ($1, $2, $3)",
        &[(&session.0, Type::UUID), (&user.0, Type::UUID), (&device_name, Type::TEXT)],
    )
    .await?;
    insert_refresh(c, session, refresh_token).await
}

async fn insert_refresh<C: GenericClient>(c: &C, session: SessionId, token: &str) -> Result<(), StoreError> {
    let expires = Utc::now() + Duration::days(refresh::REFRESH_TOKEN_TTL_DAYS);
    c.query_typed(
        "INSERT INTO refresh_tokens (token_hash, session_id, expires_at) VALUES ($1, $2, $3)",
        &[(&refresh::digest(token), Type::BYTEA), (&session.0, Type::UUID), (&expires, Type::TIMESTAMPTZ)],
    )
    .await?;
    Ok(())
}

/// What presenting a refresh token led to.
#[derive(Debug, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// Valid: it is now used, and `new_token` replaces it.
    Rotated {
        /// The session.
        session: SessionId,
        /// Its user.
        user: UserId,
    },
    /// Unknown, expired, or its session is revoked.
    Invalid,
    /// Already used: someone replayed it, so the whole session was revoked.
    Reused {
        /// The session that was revoked.
        session: SessionId,
    },
}

/// Uses `token` and stores `new_token` in its place, or detects reuse and revokes the session.
/// Must run inside a transaction.
pub async fn rotate<C: GenericClient>(c: &C, token: &str, new_token: &str) -> Result<RefreshOutcome, StoreError> {
    let hash = refresh::digest(token);
    // The UPDATE is the atomic "use once": of two concurrent presentations only one sees
    // used_at IS NULL.
    let used = c
        .query_typed(
            "UPDATE refresh_tokens r SET used_at = now() FROM auth_sessions s \
             WHERE r.token_hash = $1 AND r.used_at IS NULL AND r.expires_at > now() \
               AND s.id = r.session_id AND s.revoked_at IS NULL \
             RETURNING s.id, s.user_id",
            &[(&hash, Type::BYTEA)],
        )
        .await?;
    if let Some(row) = used.first() {
        let session = SessionId(row.get(0));
        let user = UserId(row.get(1));
        c.query_typed("UPDATE auth_sessions SET last_used_at = now() WHERE id = $1", &[(&session.0, Type::UUID)])
            .await?;
        insert_refresh(c, session, new_token).await?;
        return Ok(RefreshOutcome::Rotated { session, user });
    }
    let known = c
        .query_typed(
            "SELECT session_id, used_at IS NOT NULL FROM refresh_tokens WHERE token_hash = $1",
            &[(&hash, Type::BYTEA)],
        )
        .await?;
    match known.first() {
        Some(row) if row.get::<_, bool>(1) => {
            let session = SessionId(row.get(0));
            revoke(c, session).await?;
            Ok(RefreshOutcome::Reused { session })
        }
        _ => Ok(RefreshOutcome::Invalid),
    }
}

/// Revokes a session: its refresh tokens stop working. Returns whether it was active.
pub async fn revoke<C: GenericClient>(c: &C, session: SessionId) -> Result<bool, StoreError> {
    let n = c
        .query_typed(
            "UPDATE auth_sessions SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING id",
            &[(&session.0, Type::UUID)],
        )
        .await?;
    Ok(!n.is_empty())
}

/// Whether the session exists and is not revoked (checked when a socket authenticates).
pub async fn is_active<C: GenericClient>(c: &C, session: SessionId) -> Result<bool, StoreError> {
    let rows = c
        .query_typed("SELECT 1 FROM auth_sessions WHERE id = $1 AND revoked_at IS NULL", &[(&session.0, Type::UUID)])
        .await?;
    Ok(!rows.is_empty())
}

/// Sessions revoked after `since` (a node's cache of revocations, loaded when it starts
/// listening).
pub async fn revoked_since<C: GenericClient>(
    c: &C,
    since: crate::time::Timestamp,
) -> Result<Vec<SessionId>, StoreError> {
    let rows =
        c.query_typed("SELECT id FROM auth_sessions WHERE revoked_at > $1", &[(&since.0, Type::TIMESTAMPTZ)]).await?;
    Ok(rows.iter().map(|r| SessionId(r.get(0))).collect())
}

/// `user`'s active sessions, most recently used first, after `after` (the last listed one's
/// `(last_used_at, id)`); `current` marks the caller's.
pub async fn list<C: GenericClient>(
    c: &C,
    user: UserId,
    current: SessionId,
    after: Option<super::social::TimeCursor>,
    limit: i64,
) -> Result<Vec<crate::model::SessionInfo>, StoreError> {
    let (at, id) = (after.map(|a| a.at), after.map(|a| a.id));
    let rows = c
        .query_typed(
            "SELECT id, device_name, created_at, last_used_at, last_transport FROM auth_sessions \
             WHERE user_id = $1 AND revoked_at IS NULL \
               AND ($2::timestamptz IS NULL OR (last_used_at, id) < ($2, $3::uuid)) \
             ORDER BY last_used_at DESC, id DESC LIMIT $4",
            &[(&user.0, Type::UUID), (&at, Type::TIMESTAMPTZ), (&id, Type::UUID), (&limit, Type::INT8)],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| crate::model::SessionInfo {
            id: SessionId(r.get(0)),
            device_name: r.get(1),
            created_at: crate::time::Timestamp(r.get(2)),
            last_used_at: crate::time::Timestamp(r.get(3)),
            last_transport: r.get(4),
            current: SessionId(r.get(0)) == current,
        })
        .collect())
}

/// Revokes `user`'s session `session`; false when it is not theirs or not active.
pub async fn revoke_own<C: GenericClient>(c: &C, user: UserId, session: SessionId) -> Result<bool, StoreError> {
    let n = c
        .query_typed(
            "UPDATE auth_sessions SET revoked_at = now() WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL \
             RETURNING id",
            &[(&session.0, Type::UUID), (&user.0, Type::UUID)],
        )
        .await?;
    Ok(!n.is_empty())
}

/// Revokes every active session of `user` but `keep` (all of them with `None`); returns them.
pub async fn revoke_all<C: GenericClient>(
    c: &C,
    user: UserId,
    keep: Option<SessionId>,
) -> Result<Vec<SessionId>, StoreError> {
    let keep = keep.map(|k| k.0);
    let rows = c
        .query_typed(
            "UPDATE auth_sessions SET revoked_at = now() \
             WHERE user_id = $1 AND revoked_at IS NULL AND ($2::uuid IS NULL OR id <> $2) RETURNING id",
            &[(&user.0, Type::UUID), (&keep, Type::UUID)],
        )
        .await?;
    Ok(rows.iter().map(|r| SessionId(r.get(0))).collect())
}
