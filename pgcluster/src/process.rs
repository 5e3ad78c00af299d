//! One Postgres server per test process: every test creates a database of its own on it, so
//! tests stay independent without paying a cluster start each.

use std::path::Path;
use std::sync::{Mutex, OnceLock};

use crate::PgCluster;

static SERVER: OnceLock<Result<String, String>> = OnceLock::new();
static CLUSTER: Mutex<Option<PgCluster>> = Mutex::new(None);

/// The process's server could not be started (kept as text: every later caller gets the same
/// answer as the first).
#[derive(Clone, Debug, thiserror::Error)]
#[error("{0}")]
pub struct ServerError(String);

/// The URL of the `postgres` database of the process's server: the one `PARLEY_TEST_DATABASE_URL`
/// names, or a private cluster under `dir` started on the first call (with durability traded for
/// speed: `PARLEY_PG_NOSYNC=1`) and stopped when the process exits.
pub fn process_server(dir: &Path) -> Result<String, ServerError> {
    SERVER
        .get_or_init(|| {
            if let Ok(url) = std::env::var("PARLEY_TEST_DATABASE_URL")
                && !url.trim().is_empty()
            {
                return Ok(url.trim().to_owned());
            }
            if std::env::var_os("PARLEY_PG_NOSYNC").is_none() {
                // SAFETY: set once, while every other thread that needs Postgres waits on this
                // OnceLock; std serialises its own environment accesses.
                unsafe { std::env::set_var("PARLEY_PG_NOSYNC", "1") };
            }
            let cluster = PgCluster::start(dir, None)
                .map_err(|e| format!("starting the private Postgres cluster in {}: {e}", dir.display()))?;
            let url = cluster.url("postgres");
            *CLUSTER.lock().map_err(|_| "cluster mutex poisoned".to_owned())? = Some(cluster);
            // SAFETY: registering a plain extern "C" function without captured state.
            unsafe {
                libc::atexit(stop_at_exit);
            }
            Ok(url)
        })
        .clone()
        .map_err(ServerError)
}

/// Runs `f` on the process's private cluster (started by [`process_server`]); `None` when the
/// process uses `PARLEY_TEST_DATABASE_URL` or has started no cluster. Fault-injection tests use it
/// to restart or stop the server under every test of the process, so such tests get a test
/// binary of their own.
pub fn with_process_cluster<R>(f: impl FnOnce(&mut PgCluster) -> R) -> Option<R> {
    let mut guard = CLUSTER.lock().ok()?;
    guard.as_mut().map(f)
}

/// Runs when libtest ends the process with `std::process::exit`, which skips destructors.
extern "C" fn stop_at_exit() {
    if let Ok(mut guard) = CLUSTER.lock()
        && let Some(mut cluster) = guard.take()
    {
        cluster.stop_immediate();
    }
}

/// Replaces the database name (path) of a `postgres://` URL, keeping any query string.
pub fn url_with_db(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_start = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

#[cfg(test)]
mod tests {
    use super::url_with_db;

    #[test]
    fn replaces_the_database() {
        assert_eq!(
            url_with_db("postgres://postgres@127.0.0.1:5433/postgres", "t_1"),
            "postgres://postgres@127.0.0.1:5433/t_1"
        );
        assert_eq!(url_with_db("postgres://u:p@h:1", "x"), "postgres://u:p@h:1/x");
        assert_eq!(url_with_db("postgres://h/postgres?sslmode=disable", "x"), "postgres://h/x?sslmode=disable");
    }
}
