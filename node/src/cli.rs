//! Command line: `dev`, `serve`, `migrate`, `keygen`, `openapi`. Every flag also reads the environment
//! variable named beside it (the contract's "Running" section).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Parley connection node.
#[derive(Debug, Parser)]
#[command(name = "parley-node", version, about)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Everything on one machine: a private Postgres cluster, migrations, dev keys, REST and
    /// WebSocket on one port.
    Dev(DevArgs),
    /// A fleet node.
    Serve(Box<ServeArgs>),
    /// Apply the schema (safe to run again).
    Migrate(MigrateArgs),
    /// Print a new Ed25519 signing key and its JWKS as one JSON object.
    Keygen,
    /// Print the REST API's OpenAPI 3.1 document (JSON; committed as `docs/openapi.json`).
    Openapi,
    /// The sensitive-word list (every node and the edge pick up a change within seconds).
    Words(WordsArgs),
    /// Test-only: the WebSocket transport echoing messages, for the Autobahn conformance run.
    #[command(hide = true)]
    WsEcho(WsEchoArgs),
}

/// `ws-echo` options.
#[derive(Debug, Args)]
pub struct WsEchoArgs {
    /// Address to listen on (port 0: any free port; the chosen one is printed).
    #[arg(long = "http", default_value = "127.0.0.1:9001")]
    pub http_addr: SocketAddr,
}

/// `words` options.
#[derive(Debug, Args)]
pub struct WordsArgs {
    /// Postgres connection string.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: String,
    /// What to do.
    #[command(subcommand)]
    pub action: WordsAction,
}

/// What `words` does.
#[derive(Debug, Subcommand)]
pub enum WordsAction {
    /// Print the list, one `word<TAB>action` per line.
    List,
    /// List a word: texts holding it are masked (`***`), or with `--reject` refused.
    Add {
        /// The word (matched case-insensitively, also inside longer text).
        word: String,
        /// Refuse texts that hold it instead of masking it.
        #[arg(long)]
        reject: bool,
    },
    /// Unlist a word.
    Remove {
        /// The word.
        word: String,
    },
}

/// `dev` options.
#[derive(Debug, Args)]
pub struct DevArgs {
    /// Where the Postgres cluster, keys and logs live.
    #[arg(long, env = "PARLEY_DATA_DIR", default_value = ".parley")]
    pub data_dir: PathBuf,
    /// REST + WebSocket address.
    #[arg(long = "http", env = "PARLEY_HTTP_ADDR", default_value = "127.0.0.1:8080")]
    pub http_addr: SocketAddr,
    /// QUIC address (UDP).
    #[arg(long = "quic", env = "PARLEY_QUIC_ADDR", default_value = "127.0.0.1:4433")]
    pub quic_addr: SocketAddr,
    /// The web app's built files, served at `/` (default: `web/dist` when it exists).
    #[arg(long, env = "PARLEY_WEB_DIR")]
    pub web_dir: Option<PathBuf>,
    /// The embedded S3-compatible store's address (port 0: any free port; printed).
    #[arg(long = "s3", env = "PARLEY_DEV_S3_ADDR", default_value = "127.0.0.1:0")]
    pub s3_addr: SocketAddr,
}

/// `serve` options.
#[derive(Debug, Args, Clone)]
pub struct ServeArgs {
    /// Postgres connection string.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: String,
    /// This node's name (default: the host name).
    #[arg(long, env = "PARLEY_NODE_ID")]
    pub node_id: Option<String>,
    /// REST + WebSocket address (port 0: any free port, printed on stdout).
    #[arg(long = "http", env = "PARLEY_HTTP_ADDR", default_value = "127.0.0.1:8080")]
    pub http_addr: SocketAddr,
    /// QUIC address (UDP).
    #[arg(long = "quic", env = "PARLEY_QUIC_ADDR", default_value = "127.0.0.1:4433")]
    pub quic_addr: SocketAddr,
    /// Also serve the REST routes (needs PARLEY_JWT_SIGNING_KEY).
    #[arg(long, env = "PARLEY_REST")]
    pub rest: bool,
    /// Ed25519 signing key (from `keygen`), for `--rest`.
    #[arg(long, env = "PARLEY_JWT_SIGNING_KEY", hide_env_values = true)]
    pub jwt_signing_key: Option<String>,
    /// Verifying keys: JWKS JSON, or a path to a file holding it.
    #[arg(long, env = "PARLEY_JWKS")]
    pub jwks: Option<String>,
    /// Verifying keys fetched from this URL at start.
    #[arg(long, env = "PARLEY_JWKS_URL")]
    pub jwks_url: Option<String>,
    /// TLS certificate (PEM) for QUIC.
    #[arg(long, env = "PARLEY_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// TLS key (PEM) for QUIC.
    #[arg(long, env = "PARLEY_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Most socket sends committed in one transaction (1 = one transaction per message).
    #[arg(long, env = "PARLEY_MAX_BATCH", default_value_t = 256)]
    pub max_batch: usize,
    /// Transactions committing socket sends at once, each on its own connection and for its own
    /// share of the conversations (a conversation's sends always commit in the order they
    /// arrived). More than one uses more of Postgres's cores when one backend is saturated.
    #[arg(long, env = "PARLEY_COMMIT_WORKERS", default_value_t = 1)]
    pub commit_workers: usize,
    /// Postgres connections in the pool.
    #[arg(long, env = "PARLEY_DB_POOL", default_value_t = 16)]
    pub db_pool: usize,
    /// REST rate limits.
    #[command(flatten)]
    pub limits: crate::limits::LimitArgs,
    /// Apply migrations before serving.
    #[arg(long, env = "PARLEY_MIGRATE")]
    pub migrate: bool,
    /// Serve the web app's built files (a directory holding `index.html`) at `/`.
    #[arg(long, env = "PARLEY_WEB_DIR")]
    pub web_dir: Option<PathBuf>,
    /// Most members a new group may have.
    #[arg(long, env = "PARLEY_MAX_GROUP_MEMBERS", default_value_t = parley_shared::rules::groups::DEFAULT_MAX_MEMBERS,
          value_parser = clap::value_parser!(i64).range(2..=1_000_000))]
    pub max_group_members: i64,
    /// Messages, edits and the like.
    #[command(flatten)]
    pub messages: MessageArgs,
    /// Media storage.
    #[command(flatten)]
    pub media: MediaArgs,
}

/// How messages are held and followed up.
#[derive(Debug, Args, Clone, Copy)]
pub struct MessageArgs {
    /// Sends per second a user may make, sustained, across all their connections and REST (0: no
    /// limit).
    #[arg(long, env = "PARLEY_USER_SEND_RATE", default_value_t = 100)]
    pub user_send_rate: u32,
    /// Sends a user may make at once beyond the sustained rate.
    #[arg(long, env = "PARLEY_USER_SEND_BURST", default_value_t = 200)]
    pub user_send_burst: u32,
    /// Seconds after sending during which a sender may recall a message.
    #[arg(long, env = "PARLEY_RECALL_WINDOW", default_value_t = 120)]
    pub recall_window: u64,
    /// Record and announce delivered receipts (`false` turns them off, for comparison).
    #[arg(long, env = "PARLEY_DELIVERY_RECEIPTS", default_value_t = true, action = clap::ArgAction::Set)]
    pub delivery_receipts: bool,
}

impl Default for MessageArgs {
    fn default() -> Self {
        MessageArgs { user_send_rate: 100, user_send_burst: 200, recall_window: 120, delivery_receipts: true }
    }
}

/// Object storage for media (the contract's `S3_*` names); media routes answer 503 without it.
#[derive(Debug, Args, Clone)]
pub struct MediaArgs {
    /// S3-compatible endpoint (path-style addressing); unset: AWS S3 in `--s3-region`.
    #[arg(long, env = "S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    /// Bucket holding media objects.
    #[arg(long, env = "S3_BUCKET")]
    pub s3_bucket: Option<String>,
    /// Region to sign for.
    #[arg(long, env = "S3_REGION")]
    pub s3_region: Option<String>,
    /// Access key id.
    #[arg(long, env = "S3_ACCESS_KEY_ID")]
    pub s3_access_key_id: Option<String>,
    /// Secret access key.
    #[arg(long, env = "S3_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub s3_secret_access_key: Option<String>,
    /// Largest upload, in bytes.
    #[arg(long, env = "PARLEY_MAX_MEDIA_SIZE", default_value_t = parley_shared::rules::media::DEFAULT_MAX_SIZE)]
    pub max_media_size: u64,
    /// Create the bucket at start if it is missing (dev mode and tests).
    #[arg(long, env = "PARLEY_S3_CREATE_BUCKET")]
    pub s3_create_bucket: bool,
    /// Seconds after which an upload never completed is deleted.
    #[arg(long, env = "PARLEY_MEDIA_UNFINISHED_AFTER", default_value_t = 24 * 3600)]
    pub media_unfinished_after: u64,
    /// Seconds a completed medium no message, avatar or group refers to is kept.
    #[arg(long, env = "PARLEY_MEDIA_RETENTION", default_value_t = 30 * 24 * 3600)]
    pub media_retention: u64,
    /// Seconds between cleanup sweeps.
    #[arg(long, env = "PARLEY_MEDIA_SWEEP_EVERY", default_value_t = 600)]
    pub media_sweep_every: u64,
}

impl Default for MediaArgs {
    /// No object storage, and the flags' defaults.
    fn default() -> Self {
        MediaArgs {
            s3_endpoint: None,
            s3_bucket: None,
            s3_region: None,
            s3_access_key_id: None,
            s3_secret_access_key: None,
            max_media_size: parley_shared::rules::media::DEFAULT_MAX_SIZE,
            s3_create_bucket: false,
            media_unfinished_after: 24 * 3600,
            media_retention: 30 * 24 * 3600,
            media_sweep_every: 600,
        }
    }
}

impl MediaArgs {
    /// The cleanup sweeps' settings.
    pub fn sweeps(&self) -> crate::jobs::SweepConfig {
        crate::jobs::SweepConfig {
            unfinished_after: std::time::Duration::from_secs(self.media_unfinished_after),
            retention: std::time::Duration::from_secs(self.media_retention),
            every: std::time::Duration::from_secs(self.media_sweep_every.max(1)),
        }
    }

    /// The settings as the shared configuration; `None` when none is set.
    pub fn config(
        &self,
    ) -> Result<Option<parley_shared::objects::ObjectsConfig>, parley_shared::objects::ObjectsError> {
        parley_shared::objects::ObjectsConfig::from_lookup(|k| match k {
            "S3_ENDPOINT" => self.s3_endpoint.clone(),
            "S3_BUCKET" => self.s3_bucket.clone(),
            "S3_REGION" => self.s3_region.clone(),
            "S3_ACCESS_KEY_ID" => self.s3_access_key_id.clone(),
            "S3_SECRET_ACCESS_KEY" => self.s3_secret_access_key.clone(),
            _ => None,
        })
    }
}

/// `migrate` options.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Postgres connection string.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: String,
}
