//! Background work on media that every node runs and any node may finish: thumbnail jobs taken
//! from the `media_jobs` table (woken by NOTIFY, polled as a fallback), and the periodic sweeps
//! that delete uploads never completed and media nothing refers to any more.

pub mod thumbnail;

use std::sync::Arc;
use std::time::Duration;

use parley_shared::ids::MediaId;
use parley_shared::objects::ObjectIo;
use parley_shared::rules::media::{THUMB_ATTEMPTS, THUMB_TIMEOUT_SECS};
use parley_shared::service::media as service;
use parley_shared::store::media_jobs::{self, Job, Sweep};
use parley_shared::time::Timestamp;
use tokio::sync::Notify;
use tracing::{info, warn};

use crate::state::NodeState;

/// How long a taken thumbnail job is this node's: past it, another node takes it again.
const LEASE: Duration = Duration::from_secs(60);
/// How often an idle node looks for jobs a NOTIFY did not announce (a retry falling due).
const POLL: Duration = Duration::from_secs(5);
/// Media deleted per sweep transaction.
const SWEEP_BATCH: i64 = 100;

/// When the sweeps run and what they delete.
#[derive(Clone, Copy, Debug)]
pub struct SweepConfig {
    /// Uploads not completed this long after `POST /v1/media` are deleted.
    pub unfinished_after: Duration,
    /// Completed media that no message, avatar or group refers to are deleted this long after
    /// completion.
    pub retention: Duration,
    /// Time between sweeps.
    pub every: Duration,
}

/// Starts the thumbnail worker and the sweeps (nothing without object storage).
pub fn spawn(state: Arc<NodeState>, sweeps: SweepConfig) -> Vec<tokio::task::JoinHandle<()>> {
    if state.objects.is_none() {
        return Vec::new();
    }
    let wake = Arc::new(Notify::new());
    state.hub.on_media_jobs(wake.clone());
    vec![tokio::spawn(thumbnails(state.clone(), wake)), tokio::spawn(sweep_forever(state, sweeps))]
}

async fn thumbnails(state: Arc<NodeState>, wake: Arc<Notify>) {
    loop {
        match next_thumbnail(&state).await {
            Ok(true) => continue,
            Ok(false) => {}
            Err(e) => warn!("thumbnail job: {e}"),
        }
        let _ = tokio::time::timeout(POLL, wake.notified()).await;
    }
}

/// Takes one due job and does it; `false` when there was none.
async fn next_thumbnail(state: &NodeState) -> anyhow::Result<bool> {
    let objects = state.objects.as_ref().expect("jobs run with object storage");
    let Some(Job { media, attempts }) = media_jobs::take(&*crate::db::get(&state.pool).await?, LEASE).await? else {
        return Ok(false);
    };
    let id = media.media.id;
    let outcome = async {
        let bytes = objects.first_bytes(&media.object_key, media.media.size as usize).await?;
        let ty = media.media.content_type.clone();
        let work = tokio::task::spawn_blocking(move || thumbnail::make(&bytes, &ty));
        match tokio::time::timeout(Duration::from_secs(THUMB_TIMEOUT_SECS), work).await {
            Err(_) => Ok(Err(format!("took longer than {THUMB_TIMEOUT_SECS} s"))),
            Ok(Err(panicked)) => Ok(Err(panicked.to_string())),
            Ok(Ok(made)) => Ok(made.map_err(|e| e.to_string())),
        }
    }
    .await;
    let db = crate::db::get(&state.pool).await?;
    match outcome {
        Ok(Ok(thumb)) => {
            // Beside, not under, the original: a filesystem-backed store cannot hold both
            // `media/x` and `media/x/thumb`.
            let key = format!("thumbs/{id}");
            objects.put(&key, thumb.content_type, thumb.bytes).await?;
            if !media_jobs::thumbnail_done(&*db, id, &key, thumb.content_type).await? {
                // Deleted while we worked: do not leave its thumbnail behind.
                objects.delete(&key).await?;
            }
            info!(media = %id, width = thumb.width, height = thumb.height, "thumbnail made");
        }
        Ok(Err(why)) => {
            warn!(media = %id, "no thumbnail: {why}");
            media_jobs::thumbnail_failed(&*db, id, &why, None).await?;
        }
        Err(e) => retry_later(&db, id, attempts, e).await?,
    }
    Ok(true)
}

/// Object storage failed: try again later, with backoff, a few times.
async fn retry_later(
    db: &tokio_postgres::Client,
    id: MediaId,
    attempts: i32,
    e: parley_shared::objects::ObjectsError,
) -> anyhow::Result<()> {
    let why = e.to_string();
    warn!(media = %id, attempt = attempts + 1, "thumbnail: {why}");
    let retry = (attempts + 1 < THUMB_ATTEMPTS).then(|| Duration::from_secs(5 << attempts.clamp(0, 6)));
    media_jobs::thumbnail_failed(db, id, &why, retry).await?;
    Ok(())
}

async fn sweep_forever(state: Arc<NodeState>, cfg: SweepConfig) {
    let mut tick = tokio::time::interval(cfg.every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = sweep_once(&state, cfg).await {
            warn!("media sweep: {e}");
        }
    }
}

/// Both sweeps, until each finds nothing more.
pub async fn sweep_once(state: &NodeState, cfg: SweepConfig) -> anyhow::Result<usize> {
    let objects = state.objects.as_ref().expect("sweeps run with object storage");
    let now = Timestamp::now();
    let before =
        |d: Duration| Timestamp(now.0 - chrono::Duration::from_std(d).unwrap_or(chrono::Duration::days(365 * 100)));
    let mut total = 0;
    for which in [Sweep::Unfinished(before(cfg.unfinished_after)), Sweep::Unreferenced(before(cfg.retention))] {
        loop {
            let mut db = crate::db::get(&state.pool).await?;
            let n = service::sweep(&mut db, objects, which, SWEEP_BATCH).await?;
            total += n;
            if n < SWEEP_BATCH as usize {
                break;
            }
        }
    }
    if total > 0 {
        info!(deleted = total, "media swept");
    }
    Ok(total)
}
