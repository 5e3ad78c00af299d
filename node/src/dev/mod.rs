//! `parley-node dev`: everything on one machine with no set-up. A private Postgres cluster
//! from the system's binaries under the data dir, migrations, dev keys kept beside it, and one
//! node serving REST and WebSocket, and QUIC with a self-signed certificate, with media in an
//! embedded S3-compatible store ([`object_store`]). Ctrl-C stops the node and then Postgres.

pub mod object_store;

use std::path::Path;

use parley_shared::auth::Signer;
use tokio_postgres::NoTls;

use parley_pg_cluster::{PgCluster, PgClusterError};

use crate::cli::DevArgs;
use crate::serve::{self, ServeConfig, ServeError};

/// Dev-mode failures.
#[derive(Debug, thiserror::Error)]
pub enum DevError {
    /// The private cluster.
    #[error(transparent)]
    Cluster(#[from] PgClusterError),
    /// Creating the database.
    #[error("creating the dev database: {0}")]
    CreateDb(tokio_postgres::Error),
    /// Migrations, pool, serving.
    #[error(transparent)]
    Serve(#[from] ServeError),
    /// Data dir or key file.
    #[error("data dir: {0}")]
    Io(#[from] std::io::Error),
    /// A stored key is corrupt.
    #[error("dev signing key: {0}")]
    Key(#[from] parley_shared::auth::KeyError),
}

const DB_NAME: &str = "parley";

/// Runs dev mode until Ctrl-C.
pub async fn run(args: DevArgs) -> Result<(), DevError> {
    std::fs::create_dir_all(&args.data_dir)?;
    let data_dir = args.data_dir.clone();
    let mut cluster = tokio::task::spawn_blocking(move || PgCluster::start(&data_dir.join("postgres"), None))
        .await
        .expect("cluster start task")?;
    eprintln!("postgres: private cluster in {} on port {}", cluster.data_dir().display(), cluster.port());

    let result = serve_dev(&args, &cluster).await;
    eprintln!("stopping postgres");
    let _ = tokio::task::spawn_blocking(move || cluster.stop()).await;
    result
}

async fn serve_dev(args: &DevArgs, cluster: &PgCluster) -> Result<(), DevError> {
    create_database(&cluster.url("postgres")).await?;
    let url = cluster.url(DB_NAME);
    let applied = crate::db::migrate(&url).await.map_err(ServeError::from)?;
    eprintln!("schema: {applied} migration(s) applied");
    let signer = dev_signer(&args.data_dir)?;
    let objects_dir = args.data_dir.join("objects");
    let store = object_store::start(&objects_dir, args.s3_addr).await?;
    let cfg = ServeConfig {
        database_url: url,
        node_id: "dev".into(),
        http_addr: args.http_addr,
        // Always self-signed in dev mode: clients pin the printed SHA-256.
        quic_addr: args.quic_addr,
        tls_cert: None,
        tls_key: None,
        rest: true,
        verifier: signer.verifier(),
        signer: Some(signer),
        max_batch: 256,
        commit_workers: 1,
        db_pool: 16,
        limits: crate::limits::LimitArgs::default(),
        web_dir: web_dir(args),
        max_group_members: parley_shared::rules::groups::DEFAULT_MAX_MEMBERS,
        messages: crate::cli::MessageArgs::default(),
        media: crate::cli::MediaArgs {
            s3_endpoint: store.config.endpoint.clone(),
            s3_bucket: Some(store.config.bucket.clone()),
            s3_region: Some(store.config.region.clone()),
            s3_access_key_id: Some(store.config.access_key_id.clone()),
            s3_secret_access_key: Some(store.config.secret_access_key.clone()),
            ..Default::default()
        },
    };
    let c = &store.config;
    // Machine-readable for scripts and tests (a dev store's key is no secret).
    println!(
        "{}",
        serde_json::json!({
            "event": "object_store", "endpoint": c.endpoint, "bucket": c.bucket, "region": c.region,
            "access_key_id": c.access_key_id, "secret_access_key": c.secret_access_key,
        })
    );
    serve::run(cfg, serve::signal(), |l| {
        let addr = l.http;
        // The same machine-readable line as `serve`, for scripts.
        println!("{}", l.json_line("dev"));
        eprintln!();
        eprintln!("Parley is running (Ctrl-C to stop):");
        eprintln!("  REST       http://{addr}/v1/...   (try: curl http://{addr}/healthz)");
        eprintln!("  WebSocket  ws://{addr}/v1/ws?token=<access token>");
        eprintln!("  JWKS       http://{addr}/.well-known/jwks.json");
        eprintln!("  metrics    http://{addr}/metrics");
        eprintln!(
            "  media      http://{}/{} (S3-compatible, objects in {})",
            store.addr,
            object_store::BUCKET,
            objects_dir.display()
        );
        eprintln!("  QUIC       {} (UDP, ALPN parley/1, 4-byte length + JSON frames)", l.quic);
        eprintln!("             self-signed certificate SHA-256 {}", l.cert_sha256);
        match web_dir(args) {
            Some(d) => eprintln!("  web app    http://{addr}/   (from {})", d.display()),
            None => eprintln!("  web app    not built (scripts/build-web makes web/dist)"),
        }
    })
    .await?;
    Ok(())
}

/// `--web-dir`, else `web/dist` when it holds a built app.
fn web_dir(args: &DevArgs) -> Option<std::path::PathBuf> {
    args.web_dir.clone().or_else(|| {
        let d = std::path::PathBuf::from("web/dist");
        d.join("index.html").exists().then_some(d)
    })
}

async fn create_database(admin_url: &str) -> Result<(), DevError> {
    let (client, conn) = tokio_postgres::connect(admin_url, NoTls).await.map_err(DevError::CreateDb)?;
    tokio::spawn(conn);
    let exists = client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&DB_NAME])
        .await
        .map_err(DevError::CreateDb)?
        .is_some();
    if !exists {
        client.batch_execute(&format!("CREATE DATABASE {DB_NAME}")).await.map_err(DevError::CreateDb)?;
    }
    Ok(())
}

/// The dev signing key, created once and kept in the data dir so tokens survive restarts.
fn dev_signer(dir: &Path) -> Result<Signer, DevError> {
    let path = dir.join("dev-signing-key");
    match std::fs::read_to_string(&path) {
        Ok(s) => Ok(Signer::from_encoded(&s)?),
        Err(_) => {
            let s = Signer::generate();
            std::fs::write(&path, s.encoded())?;
            Ok(s)
        }
    }
}
