//! Credentials and the token source: hands out a valid access token, refreshing it shortly
//! before it expires (access tokens live 15 minutes), one refresh at a time (refresh tokens
//! are single use: presenting a spent one revokes the whole session).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use parley_shared::ids::{SessionId, UserId};
use parley_shared::model::{AuthResponse, User};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::rest::Rest;

/// Refresh an access token when less than this is left of its life.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(90);

/// What a login leaves behind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Credentials {
    /// The account.
    pub user: User,
    /// The auth session the tokens belong to.
    pub session_id: SessionId,
    /// The current access token.
    pub access_token: String,
    /// The current (single use) refresh token.
    pub refresh_token: String,
    /// When `access_token` expires, Unix seconds (local clock at receipt + `expires_in`).
    pub access_expires_at: i64,
}

impl Credentials {
    /// From a register/login/refresh answer received now.
    pub fn from_auth(resp: AuthResponse) -> Credentials {
        Credentials {
            access_expires_at: now_unix() + resp.expires_in as i64,
            user: resp.user,
            session_id: resp.session_id,
            access_token: resp.access_token,
            refresh_token: resp.refresh_token,
        }
    }

    /// Seconds of life left in the access token (negative once expired).
    pub fn access_secs_left(&self) -> i64 {
        self.access_expires_at - now_unix()
    }

    /// Whether the access token should be refreshed before use.
    pub fn needs_refresh(&self) -> bool {
        self.access_secs_left() < REFRESH_MARGIN.as_secs() as i64
    }
}

/// Unix time in seconds.
pub fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Where credentials persist (the CLI's session file); the SDK keeps them in memory otherwise.
pub trait CredentialStore: Send + Sync + 'static {
    /// The newest stored credentials: another process may have refreshed them meanwhile.
    fn load(&self) -> Option<Credentials>;
    /// Keeps refreshed credentials.
    fn save(&self, creds: &Credentials) -> Result<()>;
    /// Held across load → refresh → save, so two processes never spend the same refresh token.
    fn lock(&self) -> Result<Box<dyn Send>> {
        Ok(Box::new(()))
    }
}

/// Hands out access tokens, refreshing them as needed.
pub struct Auth {
    rest: Rest,
    creds: tokio::sync::Mutex<Credentials>,
    store: Option<Arc<dyn CredentialStore>>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth").field("rest", &self.rest).finish_non_exhaustive()
    }
}

impl Auth {
    /// A token source for `creds`, refreshing through `rest`.
    pub fn new(rest: Rest, creds: Credentials) -> Arc<Auth> {
        Arc::new(Auth { rest, creds: tokio::sync::Mutex::new(creds), store: None })
    }

    /// Same, persisting refreshed credentials in `store`.
    pub fn with_store(rest: Rest, creds: Credentials, store: Arc<dyn CredentialStore>) -> Arc<Auth> {
        Arc::new(Auth { rest, creds: tokio::sync::Mutex::new(creds), store: Some(store) })
    }

    /// Registers and returns a token source for the new account.
    pub async fn register(rest: Rest, username: &str, password: &str, display_name: Option<&str>) -> Result<Arc<Auth>> {
        let resp = rest.register(username, password, display_name).await?;
        Ok(Auth::new(rest, Credentials::from_auth(resp)))
    }

    /// Logs in and returns a token source.
    pub async fn login(rest: Rest, username: &str, password: &str) -> Result<Arc<Auth>> {
        let resp = rest.login(username, password, Some("parley-client")).await?;
        Ok(Auth::new(rest, Credentials::from_auth(resp)))
    }

    /// The REST client.
    pub fn rest(&self) -> &Rest {
        &self.rest
    }

    /// A copy of the current credentials.
    pub async fn credentials(&self) -> Credentials {
        self.creds.lock().await.clone()
    }

    /// The account's id.
    pub async fn user_id(&self) -> UserId {
        self.creds.lock().await.user.id
    }

    /// A valid access token, refreshed first if it is about to expire.
    pub async fn access_token(&self) -> Result<String> {
        let mut creds = self.creds.lock().await;
        if creds.needs_refresh() {
            self.refresh_locked(&mut creds).await?;
        }
        Ok(creds.access_token.clone())
    }

    /// Refreshes now, unless the token was already replaced since `stale` (what the caller saw
    /// rejected). Returns the new access token.
    pub async fn refresh(&self, stale: Option<&str>) -> Result<String> {
        let mut creds = self.creds.lock().await;
        if stale.is_none_or(|s| s == creds.access_token) {
            self.refresh_locked(&mut creds).await?;
        }
        Ok(creds.access_token.clone())
    }

    async fn refresh_locked(&self, creds: &mut Credentials) -> Result<()> {
        let _guard = match &self.store {
            Some(s) => Some(s.lock()?),
            None => None,
        };
        // Another process sharing the store may have refreshed already: its tokens are ours.
        if let Some(stored) = self.store.as_ref().and_then(|s| s.load())
            && stored.session_id == creds.session_id
            && stored.refresh_token != creds.refresh_token
        {
            *creds = stored;
            if !creds.needs_refresh() {
                return Ok(());
            }
        }
        let resp = self.rest.refresh(&creds.refresh_token).await.map_err(|e| match e {
            Error::Unauthorized(m) => Error::Unauthorized(format!("refresh refused, log in again: {m}")),
            other => other,
        })?;
        *creds = Credentials::from_auth(resp);
        if let Some(s) = &self.store {
            s.save(creds)?;
        }
        tracing::debug!(expires_in = creds.access_secs_left(), "refreshed the access token");
        Ok(())
    }

    /// Runs an authenticated call with a valid token; on 401 refreshes once and tries again.
    pub async fn with_token<T, F, Fut>(&self, f: F) -> Result<T>
    where
        F: Fn(String) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let token = self.access_token().await?;
        match f(token.clone()).await {
            Err(Error::Unauthorized(_)) => {
                let fresh = self.refresh(Some(&token)).await?;
                f(fresh).await
            }
            other => other,
        }
    }

    /// Logs out (the session's refresh token dies and its sockets close).
    pub async fn logout(&self) -> Result<()> {
        let token = self.access_token().await?;
        self.rest.logout(&token).await
    }
}
