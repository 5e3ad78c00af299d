//! Accounts and auth sessions: register, login, refresh, logout, and verifying the access token
//! a request or a connection presents.

use std::net::IpAddr;

use serde_json::Value;

use super::{Env, signer};
use crate::auth::tokens::{self, ACCESS_TOKEN_TTL};
use crate::auth::{AccessClaims, Signer, Verifier, passwords, refresh};
use crate::error::ApiError;
use crate::ids::{SessionId, UserId};
use crate::model::{AuthResponse, Login, Refresh, Register, User};
use crate::rules::accounts as rules;
use crate::rules::limits::{self, Costly};
use crate::store::notify::{self, Announcement};
use crate::store::sessions::RefreshOutcome;
use crate::store::tx::transact;
use crate::store::{StoreError, rate_limits, sessions, users};
use crate::time::Timestamp;

fn issue(signer: &Signer, user: User, session: SessionId, refresh_token: String) -> AuthResponse {
    AuthResponse {
        access_token: signer.sign(user.id, session),
        user,
        refresh_token,
        expires_in: ACCESS_TOKEN_TTL.as_secs(),
        session_id: session,
    }
}

/// Creates an account and its first session.
pub async fn register<E: Env>(env: &E, r: Register, client: Option<IpAddr>) -> Result<AuthResponse, ApiError> {
    let signer = signer(env)?;
    let username = rules::username(&r.username)?;
    rules::password(&r.password)?;
    let display_name = rules::display_name(r.display_name, &username)?;
    let device = rules::device_name(r.device_name)?;
    let mut db = env.db().await?;
    // Before the hash: argon2 is what a flood of registrations would cost.
    if let Some(ip) = client {
        super::limits::spend(env, &mut db, Costly::Register, ip).await?;
    }
    let hash = env.hash_password(r.password).await?;
    let (user_id, session, token) = (UserId::new(), SessionId::new(), refresh::generate());
    let user = transact!(db, |tx| {
        let user = users::insert(tx, user_id, &username, &display_name, &hash).await?;
        sessions::create(tx, session, user_id, device.as_deref(), &token).await?;
        Ok(user)
    })
    .map_err(|e| match e {
        StoreError::Unique(_) => ApiError::conflict("username: already taken"),
        e => e.into(),
    })?;
    Ok(issue(signer, user, session, token))
}

/// Starts a session. A wrong username and a wrong password get the same answer, after the same
/// amount of work.
pub async fn login<E: Env>(env: &E, l: Login, client: Option<IpAddr>) -> Result<AuthResponse, ApiError> {
    let signer = signer(env)?;
    let device = rules::device_name(l.device_name)?;
    let mut db = env.db().await?;
    let name = rules::username(&l.username).ok();
    // Every attempt spends from the account's and the address's budgets before the password is
    // checked (a guesser learns nothing from a refused attempt); success forgives the account.
    let keys = limits::login_keys(name.as_deref(), client);
    let now = Timestamp::now();
    let all = keys.all();
    transact!(db, |tx| rate_limits::take(tx, &all, now).await)?.map_err(limits::login_refused)?;
    let found = match &name {
        Some(u) => users::find_credentials(&*db, u).await?,
        None => None,
    };
    let (user, phc) = match found {
        Some((user, phc)) => (Some(user), phc),
        None => (None, passwords::DUMMY_HASH.to_owned()),
    };
    let ok = env.verify_password(l.password, phc).await;
    let user = match user {
        Some(u) if ok => u,
        _ => return Err(ApiError::unauthorized("wrong username or password")),
    };
    let (session, token) = (SessionId::new(), refresh::generate());
    transact!(db, |tx| {
        rate_limits::forgive(tx, &keys.account, &keys.address).await?;
        sessions::create(tx, session, user.id, device.as_deref(), &token).await
    })?;
    Ok(issue(signer, user, session, token))
}

/// Trades a refresh token for a new pair: single use; a reused token revokes its whole session
/// and closes its connections on every node.
pub async fn refresh<E: Env>(env: &E, r: Refresh) -> Result<AuthResponse, ApiError> {
    let signer = signer(env)?;
    let new_token = refresh::generate();
    let mut db = env.db().await?;
    let outcome = transact!(db, |tx| {
        let outcome = sessions::rotate(tx, &r.refresh_token, &new_token).await?;
        if let RefreshOutcome::Reused { session } = outcome {
            notify::send(tx, &Announcement::Revoked { session_id: session }).await?;
        }
        Ok(outcome)
    })?;
    match outcome {
        RefreshOutcome::Rotated { session, user } => {
            let user = users::get(&*db, user).await?.ok_or_else(|| ApiError::unauthorized("invalid refresh token"))?;
            Ok(issue(signer, user, session, new_token))
        }
        RefreshOutcome::Reused { .. } => {
            Err(ApiError::unauthorized("refresh token already used; the session has been revoked"))
        }
        RefreshOutcome::Invalid => Err(ApiError::unauthorized("invalid or expired refresh token")),
    }
}

/// Ends the caller's session: its refresh token dies and every node closes its connections.
pub async fn logout<E: Env>(env: &E, me: &AccessClaims) -> Result<(), ApiError> {
    let mut db = env.db().await?;
    transact!(db, |tx| {
        sessions::revoke(tx, me.session_id).await?;
        // Announce even if already revoked: a retried logout must still close stray sockets.
        notify::send(tx, &Announcement::Revoked { session_id: me.session_id }).await
    })?;
    Ok(())
}

/// The JWKS publishing the signer's public key.
pub fn jwks<E: Env>(env: &E) -> Result<Value, ApiError> {
    Ok(signer(env)?.jwks())
}

/// The caller of a REST request, from its `Authorization: Bearer` header (verified locally).
pub fn authenticate_bearer(verifier: &Verifier, authorization: Option<&str>) -> Result<AccessClaims, ApiError> {
    let token = tokens::bearer(authorization)?;
    Ok(verifier.verify(token)?)
}

/// The user of a realtime connection: the token verified locally, then its session checked by
/// `session_active` (the node's revocation set: a lookup, not a query, while LISTEN keeps it
/// current), so a signed-out session cannot open new connections with a still-valid access
/// token.
pub async fn authenticate_connection<F, Fut>(
    verifier: &Verifier,
    token: &str,
    session_active: F,
) -> Result<AccessClaims, ApiError>
where
    F: FnOnce(crate::ids::SessionId) -> Fut,
    Fut: Future<Output = Result<bool, ApiError>>,
{
    let claims = verifier.verify(token)?;
    if !session_active(claims.session_id).await? {
        return Err(ApiError::unauthorized("this session was signed out"));
    }
    Ok(claims)
}
