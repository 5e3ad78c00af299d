//! [`EdgeEnv`]: what the shared handlers need from the worker: signing keys from the
//! `PARLEY_JWT_SIGNING_KEY` secret, argon2id run inline, and a database connection on demand.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use parley_shared::auth::{PasswordParams, Signer, Verifier, passwords};
use parley_shared::error::ApiError;
use parley_shared::ids::SessionId;
use parley_shared::rules::words::WordFilter;
use parley_shared::service::{Env, moderation};
use parley_shared::store::sessions;
use parley_shared::time::Timestamp;

use crate::db::{self, EdgeDb};

/// The secret holding the Ed25519 signing key (the `signing_key` of `parley-node keygen`).
pub const SIGNING_KEY: &str = "PARLEY_JWT_SIGNING_KEY";
/// The var naming the connection nodes' WebSocket URLs (comma-separated), for `/v1/config`.
pub const WS_URLS: &str = "PARLEY_WS_URLS";
/// The upload size cap in bytes (the node's `--max-media-size`).
pub const MAX_MEDIA_SIZE: &str = "PARLEY_MAX_MEDIA_SIZE";
/// Most members a new group may have (the node's `--max-group-members`).
pub const MAX_GROUP_MEMBERS: &str = "PARLEY_MAX_GROUP_MEMBERS";
/// `"false"` turns off the limits of costly requests (load tests); anything else keeps them.
pub const COSTLY_LIMITS: &str = "PARLEY_COSTLY_LIMITS";

/// A string binding: a secret (`wrangler secret put`) or, for local runs, a `[vars]` entry or
/// `.dev.vars` line. Unset and blank are the same: `None`.
pub fn string_binding(env: &worker::Env, name: &str) -> Option<String> {
    env.secret(name).or_else(|_| env.var(name)).ok().map(|v| v.to_string()).filter(|v| !v.trim().is_empty())
}

/// The keys derived from one signing secret.
struct Keys {
    /// The secret they came from, to notice a rotation.
    secret: String,
    signer: Signer,
    verifier: Verifier,
}

thread_local! {
    /// Keys survive between requests in the same isolate (they hold no I/O object, unlike the
    /// database connection), so a key is decoded once per isolate, not once per request.
    static KEYS: RefCell<Option<Rc<Keys>>> = const { RefCell::new(None) };
}

thread_local! {
    /// A hash made with the edge's parameters, verified against for unknown usernames instead of
    /// the shared `DUMMY_HASH` (which has the node's), so that an unknown username costs what a
    /// known one registered here does. Made once per isolate.
    static EDGE_DUMMY_HASH: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// The edge's dummy hash; `None` only if hashing itself fails (then the shared one is used).
fn edge_dummy_hash() -> Option<String> {
    EDGE_DUMMY_HASH.with(|cell| {
        if let Some(h) = cell.borrow().as_ref() {
            return Some(h.clone());
        }
        // Never matched: it only stands in when there is no user to log in.
        let h = passwords::hash("parley-edge-dummy-password", PasswordParams::EDGE).ok()?;
        *cell.borrow_mut() = Some(h.clone());
        Some(h)
    })
}

fn keys(secret: String) -> Result<Rc<Keys>, ApiError> {
    KEYS.with(|cell| {
        if let Some(k) = cell.borrow().as_ref().filter(|k| k.secret == secret) {
            return Ok(Rc::clone(k));
        }
        // The error names what is wrong with the key, never the key itself.
        let signer = Signer::from_encoded(&secret).map_err(|e| ApiError::internal(e.to_string()))?;
        let k = Rc::new(Keys { verifier: signer.verifier(), signer, secret });
        *cell.borrow_mut() = Some(Rc::clone(&k));
        Ok(k)
    })
}

/// The shared handlers' view of one request's worker environment.
pub struct EdgeEnv<'a> {
    env: &'a worker::Env,
    keys: Rc<Keys>,
    objects: Option<crate::objects::EdgeObjects>,
}

impl<'a> EdgeEnv<'a> {
    /// Loads the signing key; a missing or malformed key is a 500 whose cause is logged.
    pub fn new(env: &'a worker::Env) -> Result<Self, ApiError> {
        let secret = string_binding(env, SIGNING_KEY).ok_or_else(|| {
            ApiError::internal(format!(
                "{SIGNING_KEY} is not set: `wrangler secret put {SIGNING_KEY}` with the signing_key of `parley-node keygen`"
            ))
        })?;
        Ok(Self { env, keys: keys(secret)?, objects: crate::objects::EdgeObjects::from_bindings(env) })
    }
}

impl Env for EdgeEnv<'_> {
    type Db = EdgeDb;
    type Objects = crate::objects::EdgeObjects;

    fn objects(&self) -> Option<(&parley_shared::objects::Presigner, &crate::objects::EdgeObjects)> {
        self.objects.as_ref().map(|o| (o.presigner(), o))
    }

    fn max_media_size(&self) -> u64 {
        string_binding(self.env, MAX_MEDIA_SIZE)
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(parley_shared::rules::media::DEFAULT_MAX_SIZE)
    }

    async fn db(&self) -> Result<EdgeDb, ApiError> {
        db::connect(self.env).await
    }

    async fn hash_password(&self, password: String) -> Result<String, ApiError> {
        // A worker has one thread per isolate: argon2 runs inline, inside the request's CPU budget,
        // with the edge's parameters (see `PasswordParams::EDGE` and the README's Edge section).
        passwords::hash(&password, PasswordParams::EDGE).map_err(|e| ApiError::internal(e.to_string()))
    }

    async fn verify_password(&self, password: String, phc: String) -> bool {
        // Verification uses the hash's own parameters, so node-made hashes verify here and
        // edge-made ones on the nodes.
        let phc = if phc == passwords::DUMMY_HASH { edge_dummy_hash().unwrap_or(phc) } else { phc };
        passwords::verify(&password, &phc)
    }

    fn signer(&self) -> Option<&Signer> {
        Some(&self.keys.signer)
    }

    fn verifier(&self) -> &Verifier {
        &self.keys.verifier
    }

    fn websocket_urls(&self) -> Vec<String> {
        string_binding(self.env, WS_URLS)
            .map(|v| v.split(',').map(str::trim).filter(|u| !u.is_empty()).map(str::to_owned).collect())
            .unwrap_or_default()
    }

    fn max_group_members(&self) -> i64 {
        string_binding(self.env, MAX_GROUP_MEMBERS)
            .and_then(|v| v.trim().parse::<i64>().ok())
            .filter(|n| (2..=1_000_000).contains(n))
            .unwrap_or(parley_shared::rules::groups::DEFAULT_MAX_MEMBERS)
    }

    async fn words(&self) -> Result<Arc<WordFilter>, ApiError> {
        let now = Timestamp::now();
        let cached = WORDS.with(|w| w.borrow().clone());
        if let Some((at, words)) = cached
            && (now.0 - at.0).num_seconds() < WORDS_TTL_SECS
        {
            return Ok(words);
        }
        let db = self.db().await?;
        let words = Arc::new(moderation::load_words(&*db).await?);
        WORDS.with(|w| *w.borrow_mut() = Some((now, words.clone())));
        Ok(words)
    }

    fn costly_limits(&self) -> bool {
        string_binding(self.env, COSTLY_LIMITS).is_none_or(|v| v.trim() != "false")
    }

    async fn session_active(&self, session: SessionId) -> Result<bool, ApiError> {
        // No LISTEN here: a revocation is known for good once seen, and "still signed in" is
        // believed for a few seconds, so a logged-out token stops working within them.
        let now = Timestamp::now();
        let known = SESSIONS.with(|m| m.borrow().get(&session).copied());
        match known {
            Some(Seen::Revoked) => return Ok(false),
            Some(Seen::Active(at)) if (now.0 - at.0).num_seconds() < SESSION_TTL_SECS => return Ok(true),
            _ => {}
        }
        let active = sessions::is_active(&*self.db().await?, session).await?;
        SESSIONS.with(|m| {
            let mut m = m.borrow_mut();
            if m.len() >= SESSIONS_MAX {
                // An isolate lives minutes; forgetting is only a cache miss.
                m.clear();
            }
            m.insert(session, if active { Seen::Active(now) } else { Seen::Revoked });
        });
        Ok(active)
    }
}

/// What this isolate last learned of a session.
#[derive(Clone, Copy)]
enum Seen {
    Active(Timestamp),
    Revoked,
}

thread_local! {
    /// Sessions this isolate checked lately.
    static SESSIONS: RefCell<HashMap<SessionId, Seen>> = RefCell::new(HashMap::new());
}

/// How long an isolate believes a session is still signed in: a logout reaches the edge within it.
const SESSION_TTL_SECS: i64 = 2;
/// Sessions an isolate remembers at most.
const SESSIONS_MAX: usize = 10_000;

thread_local! {
    /// The sensitive-word list as this isolate last loaded it, and when.
    static WORDS: RefCell<Option<(Timestamp, Arc<WordFilter>)>> = const { RefCell::new(None) };
}

/// How long an isolate keeps the word list before reading it again: an operator's change
/// reaches the edge within this.
const WORDS_TTL_SECS: i64 = 30;
