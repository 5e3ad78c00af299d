//! Wiring a node together: pool, hub, LISTEN, group commit, lease, HTTP, QUIC; and the shutdown
//! sequence on SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusBuilder;
use parley_shared::ApiError;
use parley_shared::auth::{Signer, Verifier};
use parley_shared::ids::NodeId;
use parley_shared::protocol::ConnectionCode;
use tokio::sync::oneshot;
use tracing::info;

use crate::commit::Committer;
use crate::db;
use crate::fanout::hub::Eviction;
use crate::fanout::{hub, listener};
use crate::presence;
use crate::state::NodeState;
use crate::transport::quic;

/// Node start-up failures.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Database setup.
    #[error(transparent)]
    Db(#[from] db::DbError),
    /// LISTEN never came up.
    #[error("could not LISTEN on Postgres within 30 s")]
    Listen,
    /// The lease could not be taken.
    #[error("taking the node lease: {0:?}")]
    Lease(ApiError),
    /// Binding or serving HTTP.
    #[error("http: {0}")]
    Http(#[from] std::io::Error),
    /// Installing the metrics recorder.
    #[error("metrics: {0}")]
    Metrics(String),
    /// QUIC certificate or endpoint.
    #[error("quic: {0}")]
    Quic(#[from] quic::QuicError),
    /// Object storage settings, or its bucket at start.
    #[error(transparent)]
    Objects(#[from] parley_shared::objects::ObjectsError),
}

/// Everything `serve` needs, resolved from flags (and, in dev mode, generated).
pub struct ServeConfig {
    /// Postgres URL.
    pub database_url: String,
    /// Node name.
    pub node_id: String,
    /// HTTP address.
    pub http_addr: SocketAddr,
    /// QUIC address (UDP; port 0: any free port).
    pub quic_addr: SocketAddr,
    /// QUIC certificate chain (PEM); with `tls_key`. Neither: a self-signed certificate.
    pub tls_cert: Option<PathBuf>,
    /// QUIC private key (PEM).
    pub tls_key: Option<PathBuf>,
    /// Serve REST.
    pub rest: bool,
    /// Verifying keys.
    pub verifier: Verifier,
    /// Signing key, for REST.
    pub signer: Option<Signer>,
    /// Group commit batch size.
    pub max_batch: usize,
    /// Concurrent commit transactions.
    pub commit_workers: usize,
    /// Pool size.
    pub db_pool: usize,
    /// REST rate limits.
    pub limits: crate::limits::LimitArgs,
    /// The web app's files, served at `/`.
    pub web_dir: Option<PathBuf>,
    /// Most members a new group may have.
    pub max_group_members: i64,
    /// Send rate, recall window, receipts.
    pub messages: crate::cli::MessageArgs,
    /// Media storage.
    pub media: crate::cli::MediaArgs,
}

/// Where a started node listens, for its one `listening` line.
#[derive(Debug, Clone)]
pub struct Listening {
    /// Bound HTTP (REST + WebSocket) address.
    pub http: SocketAddr,
    /// Bound QUIC (UDP) address.
    pub quic: SocketAddr,
    /// Lower-case hex SHA-256 of the QUIC certificate's DER, for clients to pin.
    pub cert_sha256: String,
    /// Whether that certificate was generated at start.
    pub self_signed: bool,
}

impl Listening {
    /// The machine-readable line scripts and tests read from stdout.
    pub fn json_line(&self, node_id: &str) -> String {
        serde_json::json!({
            "event": "listening",
            "http": self.http.to_string(),
            "node_id": node_id,
            "quic": self.quic.to_string(),
            "cert_sha256": self.cert_sha256,
        })
        .to_string()
    }
}

/// How long shutdown waits for QUIC connections to close, then for the endpoint to go idle.
const QUIC_DRAIN: Duration = Duration::from_secs(2);

/// The host name, the default node id.
pub fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into the buffer we own.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "parley-node".into();
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// Runs a node until `shutdown` resolves, then drains. `on_listening` gets the bound addresses.
pub async fn run(
    cfg: ServeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
    on_listening: impl FnOnce(&Listening),
) -> Result<(), ServeError> {
    // Certificate problems show before anything else starts.
    let identity = quic::Identity::load_or_generate(cfg.tls_cert.as_deref(), cfg.tls_key.as_deref())
        .map_err(quic::QuicError::from)?;
    let metrics = PrometheusBuilder::new().install_recorder().map_err(|e| ServeError::Metrics(e.to_string()))?;
    let pool = db::pool(&cfg.database_url, cfg.db_pool, &format!("parley-node:{}", cfg.node_id))?;
    let receipts = cfg.messages.delivery_receipts.then(|| crate::receipts::spawn(pool.clone()));
    let hub = hub::spawn(pool.clone(), receipts.clone());

    let (ready_tx, ready_rx) = oneshot::channel();
    let revocations = Arc::new(crate::revocations::Revocations::default());
    let listen_task = tokio::spawn(listener::run(
        cfg.database_url.clone(),
        cfg.node_id.clone(),
        hub.clone(),
        revocations.clone(),
        ready_tx,
    ));
    tokio::time::timeout(Duration::from_secs(30), ready_rx)
        .await
        .map_err(|_| ServeError::Listen)?
        .map_err(|_| ServeError::Listen)?;

    let node_id = NodeId(cfg.node_id.clone());
    presence::start(&pool, &node_id).await.map_err(ServeError::Lease)?;
    let lease_task = tokio::spawn(presence::renew_forever(pool.clone(), node_id.clone()));

    let m = cfg.messages;
    let policy = crate::policy::Policy::new(
        parley_shared::rules::limits::UserRate { per_sec: m.user_send_rate, burst: m.user_send_burst },
        Duration::from_secs(m.recall_window),
    );
    crate::policy::spawn_reloader(policy.clone(), pool.clone()).await;
    hub.on_words_changed(policy.clone());
    let objects = match cfg.media.config()? {
        Some(c) => {
            let o = crate::objects::NodeObjects::new(&c)?;
            if cfg.media.s3_create_bucket {
                o.ensure_bucket().await?;
            }
            Some(o)
        }
        None => None,
    };
    let committer = Committer::spawn(pool.clone(), cfg.max_batch, cfg.commit_workers, policy.clone());
    let presence = presence::spawn(pool.clone(), node_id.clone());
    let state = Arc::new(NodeState {
        node_id: node_id.clone(),
        pool: pool.clone(),
        hub: hub.clone(),
        committer,
        verifier: cfg.verifier,
        signer: cfg.signer,
        rest: cfg.rest,
        limits: crate::limits::RestLimiter::new(&cfg.limits),
        costly_limits: cfg.limits.costly_limits,
        presence,
        draining: AtomicBool::new(false),
        max_group_members: cfg.max_group_members,
        policy,
        receipts,
        starts: crate::starts::Starts::spawn(pool.clone()),
        syncs: crate::syncs::Syncs::spawn(pool.clone()),
        objects,
        max_media_size: cfg.media.max_media_size,
        revocations,
    });

    let job_tasks = crate::jobs::spawn(state.clone(), cfg.media.sweeps());

    let listener = crate::http_server::bind(cfg.http_addr)?;
    let addr = listener.local_addr()?;
    let endpoint = quic::bind(cfg.quic_addr, &identity)?;
    let quic_addr = endpoint.local_addr()?;
    info!(%addr, %quic_addr, node_id = %cfg.node_id, rest = cfg.rest, "listening");
    let quic_task = tokio::spawn(quic::accept_loop(state.clone(), endpoint.clone()));
    on_listening(&Listening {
        http: addr,
        quic: quic_addr,
        cert_sha256: identity.cert_sha256.clone(),
        self_signed: identity.self_signed,
    });

    let app = crate::http::router(state.clone(), metrics, cfg.web_dir.as_deref());
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let drain_state = state.clone();
    tokio::spawn(async move {
        shutdown.await;
        info!("shutting down: refusing new connections and sending going_away");
        drain_state.draining.store(true, Ordering::Release);
        let eviction = Eviction {
            code: ConnectionCode::GoingAway,
            message: "node shutting down; reconnect to another node".into(),
        };
        let n = drain_state.hub.evict_all(eviction).await;
        info!("asked {n} connections to reconnect elsewhere");
        // Give sockets a moment to flush their going_away frames.
        tokio::time::sleep(Duration::from_millis(if n > 0 { 500 } else { 0 })).await;
        let _ = stop_tx.send(());
    });
    let forget_state = state.clone();
    let forget_task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            forget_state.limits.forget_idle();
        }
    });
    // Upgraded WebSockets are not tracked by graceful shutdown; they were told to go already.
    crate::http_server::serve(listener, app, async move {
        let _ = stop_rx.await;
    })
    .await;
    // QUIC connections were told to go with the others; let their closes reach the clients.
    quic::shutdown(&endpoint, QUIC_DRAIN).await;
    quic_task.abort();
    // Background tasks would otherwise outlive the server (and, in dev mode, its Postgres).
    listen_task.abort();
    forget_task.abort();
    job_tasks.iter().for_each(|t| t.abort());
    lease_task.abort();
    presence::stop(&pool, &node_id).await;
    pool.close();
    info!("stopped");
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
