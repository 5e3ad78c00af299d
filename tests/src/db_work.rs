//! The database work a run caused, from `pg_stat_statements` (when the server loads it):
//! statements, rows and buffer pages per unit of work, and the statements that ran most.

use anyhow::Result;

use crate::TestEnv;

/// Asks the clusters started after this call to load `pg_stat_statements`, when the server has
/// it; returns whether it does. Call before any cluster or thread starts (it sets the
/// environment).
pub fn enable() -> bool {
    let available = parley_pg_cluster::server_has_library("pg_stat_statements");
    if available {
        // SAFETY: the caller sets it before the cluster starts, before other threads read it.
        unsafe {
            std::env::set_var(
                parley_pg_cluster::EXTRA_OPTIONS_ENV,
                "-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all",
            )
        };
    }
    available
}

/// What the database did per unit of work (a send, a connect), from `pg_stat_statements`.
#[derive(Debug, Clone)]
pub struct DbWork {
    /// Statements executed per unit (every statement of every connection: for a send its
    /// transaction, the nodes' fetches, and whatever else ran meanwhile).
    pub statements: f64,
    /// Rows those statements returned or changed, per unit.
    pub rows: f64,
    /// Shared buffer pages they touched (hit or read), per unit: how much data was read.
    pub blocks: f64,
    /// The statements run most often: (calls per unit, rows per unit, the query's start).
    pub top: Vec<(f64, f64, String)>,
    /// The statements that touched the most pages: (pages per unit, the query's start).
    pub heaviest: Vec<(f64, String)>,
}

/// `pg_stat_statements` in the test's database, when the server loads it.
pub struct StatStatements {
    c: tokio_postgres::Client,
}

impl StatStatements {
    /// Opens it in the test's database; None when the server does not load the extension.
    pub async fn open(env: &TestEnv) -> Option<StatStatements> {
        let c = env.db.client().await.ok()?;
        c.batch_execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements").await.ok()?;
        c.query_one("SELECT count(*) FROM pg_stat_statements", &[]).await.ok()?;
        Some(StatStatements { c })
    }

    /// Forgets what was counted so far.
    pub async fn reset(&self) -> Result<()> {
        self.c.batch_execute("SELECT pg_stat_statements_reset()").await?;
        Ok(())
    }

    /// What ran since the last reset, divided by `units`.
    pub async fn per(&self, units: usize) -> Result<DbWork> {
        let n = units.max(1) as f64;
        let mine = "dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
                    AND query NOT LIKE '%pg_stat_statements%'";
        let total = self
            .c
            .query_one(
                &format!(
                    "SELECT COALESCE(sum(calls), 0)::float8, COALESCE(sum(rows), 0)::float8, \
                            COALESCE(sum(shared_blks_hit + shared_blks_read), 0)::float8 \
                     FROM pg_stat_statements WHERE {mine}"
                ),
                &[],
            )
            .await?;
        let top = self
            .c
            .query(
                &format!(
                    "SELECT calls::float8, rows::float8, left(regexp_replace(query, '\\s+', ' ', 'g'), 90) \
                     FROM pg_stat_statements WHERE {mine} ORDER BY calls DESC LIMIT 8"
                ),
                &[],
            )
            .await?;
        let heaviest = self
            .c
            .query(
                &format!(
                    "SELECT (shared_blks_hit + shared_blks_read)::float8, \
                            left(regexp_replace(query, '\\s+', ' ', 'g'), 90) \
                     FROM pg_stat_statements WHERE {mine} ORDER BY shared_blks_hit + shared_blks_read DESC LIMIT 4"
                ),
                &[],
            )
            .await?;
        Ok(DbWork {
            heaviest: heaviest.iter().map(|r| (r.get::<_, f64>(0) / n, r.get(1))).collect(),
            statements: total.get::<_, f64>(0) / n,
            rows: total.get::<_, f64>(1) / n,
            blocks: total.get::<_, f64>(2) / n,
            top: top.iter().map(|r| (r.get::<_, f64>(0) / n, r.get::<_, f64>(1) / n, r.get(2))).collect(),
        })
    }
}
