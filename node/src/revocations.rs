//! Sessions revoked lately, so that REST refuses a signed-out session's access token at once
//! (it would otherwise verify until it expires, up to 15 minutes) without a database query per
//! request. The LISTEN task keeps it current: it loads the revocations of the last token
//! lifetime each time LISTEN is (re)established, and adds every `Revoked` notice. While LISTEN is
//! down notices may be lost, so the set is not trusted and each check asks the database.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use parley_shared::ApiError;
use parley_shared::auth::tokens::ACCESS_TOKEN_TTL;
use parley_shared::ids::SessionId;

/// A revocation is kept this long: past it, every access token of the session has expired.
/// The margin covers clock skew between the issuer and this node.
const KEEP_FOR: Duration = Duration::from_secs(ACCESS_TOKEN_TTL.as_secs() + 120);

#[derive(Default)]
struct Inner {
    /// Loaded since LISTEN last came up, and not lost since.
    trusted: bool,
    revoked: HashMap<SessionId, Instant>,
}

/// What REST asks before serving an access token (see the module docs).
#[derive(Default)]
pub struct Revocations {
    inner: RwLock<Inner>,
}

/// The answer of [`Revocations::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Known {
    /// Revoked: refuse.
    Revoked,
    /// Not revoked, as far as the trusted set knows.
    Active,
    /// The set is not trusted now: ask the database.
    Unknown,
}

impl Revocations {
    /// What the set knows of `session`.
    pub fn check(&self, session: SessionId) -> Known {
        let inner = self.inner.read().expect("revocations lock");
        if inner.revoked.contains_key(&session) {
            Known::Revoked
        } else if inner.trusted {
            Known::Active
        } else {
            Known::Unknown
        }
    }

    /// A `Revoked` notice (or a revocation found some other way).
    pub fn revoked(&self, session: SessionId) {
        let mut inner = self.inner.write().expect("revocations lock");
        let now = Instant::now();
        inner.revoked.insert(session, now);
        // Prune as we go: the set holds one token lifetime of revocations.
        if inner.revoked.len().is_multiple_of(256) {
            inner.revoked.retain(|_, at| now.duration_since(*at) < KEEP_FOR);
        }
    }

    /// LISTEN is up again and `loaded` are the sessions revoked within [`KEEP_FOR`]: trusted
    /// from now on. (Call after `LISTEN`, so nothing revoked in between is missed.)
    pub fn loaded(&self, loaded: impl IntoIterator<Item = SessionId>) {
        let mut inner = self.inner.write().expect("revocations lock");
        let now = Instant::now();
        inner.revoked.retain(|_, at| now.duration_since(*at) < KEEP_FOR);
        for s in loaded {
            inner.revoked.entry(s).or_insert(now);
        }
        inner.trusted = true;
    }

    /// LISTEN was lost: notices may be missed until it is back.
    pub fn lost(&self) {
        self.inner.write().expect("revocations lock").trusted = false;
    }

    /// How far back [`Revocations::loaded`] wants revocations.
    pub fn window() -> Duration {
        KEEP_FOR
    }
}

/// Whether `session` may be served: the revocation set when it is trusted, else the database
/// (and a revocation found there is remembered).
pub async fn session_active(node: &crate::state::NodeState, session: SessionId) -> Result<bool, ApiError> {
    match node.revocations.check(session) {
        Known::Revoked => Ok(false),
        Known::Active => Ok(true),
        // LISTEN is down: a revocation may have gone unheard, so ask.
        Known::Unknown => {
            let active =
                parley_shared::service::realtime::session_active(&*crate::db::get(&node.pool).await?, session).await?;
            if !active {
                node.revocations.revoked(session);
            }
            Ok(active)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untrusted_until_loaded_and_after_a_loss() {
        let r = Revocations::default();
        let (a, b) = (SessionId(uuid::Uuid::new_v4()), SessionId(uuid::Uuid::new_v4()));
        assert_eq!(r.check(a), Known::Unknown);
        r.loaded([a]);
        assert_eq!(r.check(a), Known::Revoked);
        assert_eq!(r.check(b), Known::Active);
        r.lost();
        assert_eq!(r.check(b), Known::Unknown, "notices may be lost while LISTEN is down");
        // Known revocations stay known.
        assert_eq!(r.check(a), Known::Revoked);
        r.revoked(b);
        r.loaded([]);
        assert_eq!(r.check(b), Known::Revoked);
    }
}
