//! What this node holds every send and edit to: the sensitive-word list (cached, reloaded when
//! an operator changes it, with a periodic reload as a safety net), the per-user send rate and
//! the recall window.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use deadpool_postgres::Pool;
use parley_shared::rules::limits::UserRate;
use parley_shared::rules::words::WordFilter;
use parley_shared::service::messages::SendPolicy;
use parley_shared::service::moderation;
use tokio::sync::Notify;
use tracing::{info, warn};

use crate::db;

/// Reload the word list at least this often, in case a change notice was lost.
const RELOAD_EVERY: Duration = Duration::from_secs(60);

/// The node's policy.
pub struct Policy {
    words: RwLock<Arc<WordFilter>>,
    /// Sends per second per user.
    pub per_user: UserRate,
    /// How long senders may recall.
    pub recall_window: Duration,
    /// Woken when the word list changed (the hub's `words` notice).
    pub words_changed: Notify,
}

impl Policy {
    /// A policy with an empty word list (loaded by [`spawn_reloader`]).
    pub fn new(per_user: UserRate, recall_window: Duration) -> Arc<Policy> {
        Arc::new(Policy { words: RwLock::default(), per_user, recall_window, words_changed: Notify::new() })
    }

    /// The current word list.
    pub fn words(&self) -> Arc<WordFilter> {
        self.words.read().expect("words lock").clone()
    }

    /// What a send is held to now.
    pub fn send_policy(&self) -> SendPolicy {
        SendPolicy { words: self.words(), per_user: self.per_user }
    }

    async fn reload(&self, pool: &Pool) {
        let loaded = match db::get(pool).await {
            Ok(c) => moderation::load_words(&*c).await,
            Err(e) => Err(e),
        };
        match loaded {
            Ok(w) => {
                let n = w.len();
                *self.words.write().expect("words lock") = Arc::new(w);
                info!(words = n, "sensitive-word list loaded");
            }
            Err(e) => warn!("loading the sensitive-word list failed (keeping the old one): {e:?}"),
        }
    }
}

/// Loads the word list now, then again on every change notice and every [`RELOAD_EVERY`].
pub async fn spawn_reloader(policy: Arc<Policy>, pool: Pool) {
    policy.reload(&pool).await;
    tokio::spawn(async move {
        loop {
            let _ = tokio::time::timeout(RELOAD_EVERY, policy.words_changed.notified()).await;
            policy.reload(&pool).await;
        }
    });
}
