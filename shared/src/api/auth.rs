//! `/v1/auth/*` and the JWKS.

use serde::Deserialize;

use super::{Env, Request, Response, authenticate, body, signer, transact};
use crate::auth::refresh;
use crate::auth::tokens::ACCESS_TOKEN_TTL;
use crate::error::ApiError;
use crate::ids::{SessionId, UserId};
use crate::model::{AuthResponse, User};
use crate::rules;
use crate::store::notify::{self, Notice};
use crate::store::sessions::RefreshOutcome;
use crate::store::{StoreError, sessions, users};

#[derive(Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct RegisterBody {
    #[cfg_attr(feature = "openapi", schema(min_length = 3, max_length = 32))]
    username: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 8, max_length = 256))]
    password: String,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 64))]
    display_name: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 64))]
    device_name: Option<String>,
}

#[derive(Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginBody {
    username: String,
    password: String,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 64))]
    device_name: Option<String>,
}

#[derive(Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct RefreshBody {
    refresh_token: String,
}

fn issue(env_signer: &crate::auth::Signer, user: User, session: SessionId, refresh_token: String) -> AuthResponse {
    AuthResponse {
        access_token: env_signer.sign(user.id, session),
        user,
        refresh_token,
        expires_in: ACCESS_TOKEN_TTL.as_secs(),
        session_id: session,
    }
}

/// `POST /v1/auth/register`.
pub async fn register<E: Env>(env: &E, req: &Request<'_>) -> Result<Response, ApiError> {
    let signer = signer(env)?;
    let b: RegisterBody = body(req)?;
    let username = rules::username(&b.username)?;
    rules::password(&b.password)?;
    let display_name = rules::optional_text("display_name", b.display_name, rules::MAX_DISPLAY_NAME_CHARS)?
        .unwrap_or_else(|| username.clone());
    let device = rules::optional_text("device_name", b.device_name, rules::MAX_DEVICE_NAME_CHARS)?;
    let hash = env.hash_password(b.password).await?;
    let (user_id, session, token) = (UserId::new(), SessionId::new(), refresh::generate());
    let mut db = env.db().await?;
    let user = transact!(db, |tx| {
        let user = users::insert(tx, user_id, &username, &display_name, &hash).await?;
        sessions::create(tx, session, user_id, device.as_deref(), &token).await?;
        Ok(user)
    })
    .map_err(|e| match e {
        StoreError::Unique(_) => ApiError::conflict("username: already taken"),
        e => e.into(),
    })?;
    Ok(Response::json(201, &issue(signer, user, session, token)))
}

/// `POST /v1/auth/login`. A wrong username and a wrong password get the same answer, after the
/// same amount of work.
pub async fn login<E: Env>(env: &E, req: &Request<'_>) -> Result<Response, ApiError> {
    let signer = signer(env)?;
    let b: LoginBody = body(req)?;
    let device = rules::optional_text("device_name", b.device_name, rules::MAX_DEVICE_NAME_CHARS)?;
    let wrong = || ApiError::unauthorized("wrong username or password");
    let mut db = env.db().await?;
    let found = match rules::username(&b.username) {
        Ok(u) => users::find_credentials(&*db, &u).await?,
        Err(_) => None,
    };
    let (user, phc) = match found {
        Some((user, phc)) => (Some(user), phc),
        None => (None, crate::auth::passwords::DUMMY_HASH.to_owned()),
    };
    let ok = env.verify_password(b.password, phc).await;
    let user = match user {
        Some(u) if ok => u,
        _ => return Err(wrong()),
    };
    let (session, token) = (SessionId::new(), refresh::generate());
    transact!(db, |tx| sessions::create(tx, session, user.id, device.as_deref(), &token).await)?;
    Ok(Response::json(200, &issue(signer, user, session, token)))
}

/// `POST /v1/auth/refresh`: single use; a reused token revokes its whole session.
pub async fn refresh<E: Env>(env: &E, req: &Request<'_>) -> Result<Response, ApiError> {
    let signer = signer(env)?;
    let b: RefreshBody = body(req)?;
    let new_token = refresh::generate();
    let mut db = env.db().await?;
    let outcome = transact!(db, |tx| {
        let outcome = sessions::rotate(tx, &b.refresh_token, &new_token).await?;
        if let RefreshOutcome::Reused { session } = outcome {
            notify::send(tx, &Notice::Revoked { session_id: session }).await?;
        }
        Ok(outcome)
    })?;
    match outcome {
        RefreshOutcome::Rotated { session, user } => {
            let user = users::get(&*db, user).await?.ok_or_else(|| ApiError::unauthorized("invalid refresh token"))?;
            Ok(Response::json(200, &issue(signer, user, session, new_token)))
        }
        RefreshOutcome::Reused { .. } => {
            Err(ApiError::unauthorized("refresh token already used; the session has been revoked"))
        }
        RefreshOutcome::Invalid => Err(ApiError::unauthorized("invalid or expired refresh token")),
    }
}

/// `POST /v1/auth/logout`: the session's refresh token dies and every node closes its sockets.
pub async fn logout<E: Env>(env: &E, req: &Request<'_>) -> Result<Response, ApiError> {
    let me = authenticate(env, req)?;
    let mut db = env.db().await?;
    transact!(db, |tx| {
        sessions::revoke(tx, me.session_id).await?;
        // Announce even if already revoked: a retried logout must still close stray sockets.
        notify::send(tx, &Notice::Revoked { session_id: me.session_id }).await
    })?;
    Ok(Response::empty(204))
}

/// `GET /.well-known/jwks.json`.
pub fn jwks<E: Env>(env: &E) -> Result<Response, ApiError> {
    Ok(Response::json(200, &signer(env)?.jwks()))
}
