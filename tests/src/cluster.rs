//! The Postgres server shared by the whole test process, one fresh database per test, the
//! signing keys, and where the `parley-node` binary and the scratch files live.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
pub use parley_pg_cluster::url_with_db;
use serde::Deserialize;
use tokio_postgres::NoTls;

/// How long a `parley-node migrate` may take.
const MIGRATE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long connecting to Postgres may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

static RUN_DIR: OnceLock<PathBuf> = OnceLock::new();
static KEYS: OnceLock<Result<Keys, String>> = OnceLock::new();

/// The scratch directory of this test process (`$TMPDIR/parley-tests-<pid>`): the private
/// Postgres cluster and the node logs. Removed at exit unless `PARLEY_TEST_KEEP=1`.
pub fn run_dir() -> &'static Path {
    RUN_DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("parley-tests-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("logs")).expect("create the test scratch directory");
        // SAFETY: registering a plain extern "C" function without captured state.
        unsafe {
            libc::atexit(cleanup_at_exit);
        }
        dir
    })
}

/// Runs when libtest ends the process with `std::process::exit`: removes the scratch directory
/// (the cluster in it was stopped first: `process_server` registered its stop later, and exit
/// handlers run in reverse).
extern "C" fn cleanup_at_exit() {
    let keep = std::env::var("PARLEY_TEST_KEEP").is_ok_and(|v| v == "1");
    if let Some(dir) = RUN_DIR.get()
        && !keep
    {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// The workspace root (the parent of this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `$PARLEY_NODE_BIN`, else `<target dir>/debug/parley-node` with the target dir taken from
/// `$CARGO_TARGET_DIR` or `<workspace>/target`, else next to this test executable.
pub fn node_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("PARLEY_NODE_BIN") {
        return PathBuf::from(bin);
    }
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace_root().join("target"));
    let candidate = target.join("debug").join("parley-node");
    if candidate.exists() {
        return candidate;
    }
    // target/debug/deps/<test exe> → target/debug/parley-node
    if let Ok(exe) = std::env::current_exe()
        && let Some(debug) = exe.parent().and_then(Path::parent)
    {
        let beside = debug.join("parley-node");
        if beside.exists() {
            return beside;
        }
    }
    candidate
}

/// URL of the admin database (`postgres`) of the server every test shares: the one named by
/// `PARLEY_TEST_DATABASE_URL`, or a private cluster started on first use.
pub fn server_url() -> Result<String> {
    parley_pg_cluster::process_server(&run_dir().join("pg")).map_err(|e| anyhow!(e))
}

/// Connects to `url` and drives the connection in the background.
pub async fn connect(url: &str) -> Result<tokio_postgres::Client> {
    let (client, connection) = tokio::time::timeout(CONNECT_TIMEOUT, tokio_postgres::connect(url, NoTls))
        .await
        .with_context(|| format!("timed out connecting to {url}"))?
        .with_context(|| format!("connecting to {url}"))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// A fresh, migrated database of its own for one test.
#[derive(Debug, Clone)]
pub struct TestDb {
    /// `t_<uuid>`.
    pub name: String,
    /// URL of this database.
    pub url: String,
    /// URL of the server's `postgres` database.
    pub admin_url: String,
}

impl TestDb {
    /// `CREATE DATABASE t_<uuid>` on the shared server, then `parley-node migrate` on it.
    pub async fn create() -> Result<TestDb> {
        crate::install_crypto_provider();
        let admin_url = tokio::task::spawn_blocking(server_url).await.context("server start task")??;
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let admin = connect(&admin_url).await.context("connecting to the test Postgres server")?;
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .with_context(|| format!("CREATE DATABASE {name}"))?;
        let db = TestDb { url: url_with_db(&admin_url, &name), name, admin_url };
        db.migrate().await?;
        Ok(db)
    }

    /// `parley-node migrate --database-url <url>`.
    pub async fn migrate(&self) -> Result<()> {
        let bin = node_bin();
        let mut cmd = tokio::process::Command::new(&bin);
        cmd.args(["migrate", "--database-url", &self.url]).stdin(Stdio::null()).kill_on_drop(true);
        let out = tokio::time::timeout(MIGRATE_TIMEOUT, cmd.output())
            .await
            .with_context(|| format!("`{} migrate` timed out", bin.display()))?
            .with_context(|| format!("running `{} migrate` (is it built?)", bin.display()))?;
        if !out.status.success() {
            bail!(
                "`parley-node migrate` on {} failed with {}:\n{}{}",
                self.name,
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }

    /// Inserts `n` accounts named `<prefix>0`, `<prefix>1`, ... straight into the database (no
    /// password hashing: they cannot log in), for tests that need many users; returns their ids.
    pub async fn insert_users(&self, prefix: &str, n: usize) -> Result<Vec<String>> {
        let c = self.client().await?;
        let rows = c
            .query(
                "INSERT INTO users (id, username, display_name, password_hash) \
                 SELECT gen_random_uuid(), $1 || g, $1 || g, '' FROM generate_series(0, $2 - 1) AS g \
                 RETURNING id::text",
                &[&prefix, &(n as i32)],
            )
            .await
            .context("inserting users")?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// A connection to this test's database.
    pub async fn client(&self) -> Result<tokio_postgres::Client> {
        connect(&self.url).await
    }

    /// A connection to the server's `postgres` database.
    pub async fn admin_client(&self) -> Result<tokio_postgres::Client> {
        connect(&self.admin_url).await
    }

    /// Terminates the LISTEN connection of `node_id` (application_name
    /// `parley-listen:<node_id>`) on this database; returns how many backends were hit.
    pub async fn terminate_listen_connection(&self, node_id: &str) -> Result<usize> {
        let admin = self.admin_client().await?;
        let rows = admin
            .query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE application_name = $1 AND datname = $2",
                &[&format!("parley-listen:{node_id}"), &self.name],
            )
            .await
            .context("pg_terminate_backend on the LISTEN connection")?;
        Ok(rows.iter().filter(|r| r.get::<_, Option<bool>>(0) == Some(true)).count())
    }

    /// How many LISTEN connections `node_id` holds on this database right now.
    pub async fn listen_connections(&self, node_id: &str) -> Result<i64> {
        let admin = self.admin_client().await?;
        let row = admin
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND datname = $2",
                &[&format!("parley-listen:{node_id}"), &self.name],
            )
            .await
            .context("counting LISTEN connections")?;
        Ok(row.get(0))
    }

    /// Waits until `node_id` holds at least one LISTEN connection on this database.
    pub async fn wait_listen_connection(&self, node_id: &str, timeout: Duration) -> Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.listen_connections(node_id).await? > 0 {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                bail!(
                    "node {node_id} has no LISTEN connection (application_name parley-listen:{node_id}) after {timeout:?}"
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Output of `parley-node keygen`.
#[derive(Debug, Clone, Deserialize)]
pub struct Keys {
    /// The key id (`kid`) of the signing key.
    pub kid: String,
    /// The private signing key, the value for `PARLEY_JWT_SIGNING_KEY`.
    pub signing_key: String,
    /// The public JWKS object `{"keys":[...]}`.
    pub jwks: serde_json::Value,
}

impl Keys {
    /// The JWKS as JSON text, the value for `PARLEY_JWKS`.
    pub fn jwks_text(&self) -> String {
        self.jwks.to_string()
    }
}

/// One `parley-node keygen` for the whole test process.
pub fn keys() -> Result<&'static Keys> {
    KEYS.get_or_init(|| {
        let bin = node_bin();
        let out = std::process::Command::new(&bin)
            .arg("keygen")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("running `{} keygen` (is it built?): {e}", bin.display()))?;
        if !out.status.success() {
            return Err(format!(
                "`parley-node keygen` failed with {}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line = stdout
            .lines()
            .find(|l| l.trim_start().starts_with('{'))
            .ok_or_else(|| format!("`parley-node keygen` printed no JSON line: {stdout:?}"))?;
        let mut keys: Keys =
            serde_json::from_str(line).map_err(|e| format!("`parley-node keygen` output {line:?}: {e}"))?;
        // Tolerate the JWKS given as JSON text rather than an object.
        if let serde_json::Value::String(text) = &keys.jwks {
            keys.jwks = serde_json::from_str(text).map_err(|e| format!("keygen jwks is not JSON: {e}"))?;
        }
        Ok(keys)
    })
    .as_ref()
    .map_err(|e| anyhow!(e.clone()))
}
