//! The node's single LISTEN connection. Notifications become hub notices; when the connection
//! is lost (server restart, `pg_terminate_backend`, network), it reconnects with backoff and asks
//! the hub to catch up from the database, because notices sent meanwhile are gone. It also keeps
//! the node's [`Revocations`] current (loaded at each LISTEN, distrusted while it is down).

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures_util::{StreamExt, stream};
use parley_shared::store::notify::{Announcement, CHANNEL};
use parley_shared::store::sessions;
use parley_shared::time::Timestamp;
use tokio::sync::oneshot;
use tokio_postgres::{AsyncMessage, NoTls};
use tracing::{info, warn};

use super::hub::HubHandle;
use crate::db;
use crate::revocations::Revocations;

/// How often the idle LISTEN connection is probed, so a silently dead TCP connection is noticed.
const PROBE_EVERY: Duration = Duration::from_secs(5);

/// Runs forever. `ready` fires once the first LISTEN is in place (the node accepts sockets only
/// after that, so no connection can miss a notice sent before the node was listening).
pub async fn run(
    url: String,
    node_id: String,
    hub: HubHandle,
    revocations: Arc<Revocations>,
    ready: oneshot::Sender<()>,
) {
    let mut ready = Some(ready);
    let mut backoff = Duration::from_millis(50);
    let mut first = true;
    loop {
        match listen_once(&url, &node_id, &hub, &revocations, &mut ready, first).await {
            Ok(()) => backoff = Duration::from_millis(50),
            Err(e) => warn!("LISTEN connection: {e}; reconnecting in {backoff:?}"),
        }
        revocations.lost();
        first = false;
        metrics::counter!("parley_listen_reconnects_total").increment(1);
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

/// Why the LISTEN connection ended (it is then re-established).
#[derive(Debug, thiserror::Error)]
enum ListenError {
    /// The URL does not parse.
    #[error(transparent)]
    Config(#[from] db::DbError),
    /// Connecting, `LISTEN`, or a probe failed.
    #[error("postgres: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// Loading the recent revocations failed.
    #[error("loading revoked sessions: {0}")]
    Store(parley_shared::store::StoreError),
    /// A probe got no answer in time.
    #[error("probe timed out")]
    ProbeTimeout,
    /// The connection ended (server restart, `pg_terminate_backend`, network).
    #[error("connection lost: {0}")]
    Lost(String),
}

async fn listen_once(
    url: &str,
    node_id: &str,
    hub: &HubHandle,
    revocations: &Arc<Revocations>,
    ready: &mut Option<oneshot::Sender<()>>,
    first: bool,
) -> Result<(), ListenError> {
    let mut cfg = db::config(url)?;
    cfg.application_name(format!("parley-listen:{node_id}"));
    cfg.keepalives(true).keepalives_idle(Duration::from_secs(10)).connect_timeout(Duration::from_secs(5));
    let (client, mut conn) = cfg.connect(NoTls).await?;

    // The connection object yields notifications; drive it in its own task and forward them.
    let (lost_tx, mut lost_rx) = oneshot::channel::<String>();
    let hub_fwd = hub.clone();
    let revoked_fwd = revocations.clone();
    tokio::spawn(async move {
        let mut messages = stream::poll_fn(move |cx| conn.poll_message(cx));
        let reason = loop {
            match messages.next().await {
                Some(Ok(AsyncMessage::Notification(n))) => {
                    let mut batch = Vec::new();
                    match Announcement::parse(n.payload()) {
                        Some(notice) => {
                            if let Announcement::Revoked { session_id } = &notice {
                                revoked_fwd.revoked(*session_id);
                            }
                            batch.push(notice)
                        }
                        None => warn!("ignoring unknown notice: {}", n.payload()),
                    }
                    hub_fwd.notices(batch);
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => break e.to_string(),
                None => break "connection closed".to_owned(),
            }
        };
        let _ = lost_tx.send(reason);
    });

    client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
    // After LISTEN, so a revocation is either loaded here or heard as a notice.
    let since = Timestamp(Utc::now() - chrono::Duration::from_std(Revocations::window()).expect("a short window"));
    revocations.loaded(sessions::revoked_since(&client, since).await.map_err(ListenError::Store)?);
    if !first {
        info!("LISTEN re-established; catching up from the database");
    }
    // Catch up even on the first connection: harmless with no sessions, and it covers a
    // listener that died before any connection noticed.
    hub.resync();
    if let Some(r) = ready.take() {
        let _ = r.send(());
    }
    let mut probe = tokio::time::interval(PROBE_EVERY);
    probe.tick().await;
    loop {
        tokio::select! {
            reason = &mut lost_rx => {
                return Err(ListenError::Lost(reason.unwrap_or_else(|_| "connection task ended".into())));
            }
            _ = probe.tick() => {
                tokio::time::timeout(PROBE_EVERY, client.simple_query("SELECT 1"))
                    .await
                    .map_err(|_| ListenError::ProbeTimeout)??;
            }
        }
    }
}
