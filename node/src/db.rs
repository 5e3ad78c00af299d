//! Postgres: the connection pool, applying the schema, and the pooled connection type the
//! shared use cases take.

use std::ops::{Deref, DerefMut};
use std::str::FromStr;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use parley_shared::ApiError;
use parley_shared::error::ErrorCode;
use parley_shared::store::{StoreError, schema};
use tokio_postgres::{Client, Config, NoTls};

/// Errors setting up the database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The URL does not parse.
    #[error("invalid DATABASE_URL: {0}")]
    Url(tokio_postgres::Error),
    /// Connecting failed.
    #[error("cannot connect to Postgres: {0}")]
    Connect(tokio_postgres::Error),
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] StoreError),
    /// Building the pool failed.
    #[error("pool: {0}")]
    Pool(String),
}

/// Parses a connection string.
pub fn config(url: &str) -> Result<Config, DbError> {
    Config::from_str(url).map_err(DbError::Url)
}

/// Applies every pending migration; returns how many ran.
pub async fn migrate(url: &str) -> Result<usize, DbError> {
    let (mut client, conn) = config(url)?.connect(NoTls).await.map_err(DbError::Connect)?;
    let driver = tokio::spawn(conn);
    let applied = schema::migrate(&mut client).await?;
    drop(client);
    let _ = driver.await;
    Ok(applied)
}

/// A pool of `size` connections named `application_name`.
pub fn pool(url: &str, size: usize, application_name: &str) -> Result<Pool, DbError> {
    let mut cfg = config(url)?;
    cfg.application_name(application_name);
    let mgr = Manager::from_config(cfg, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
    Pool::builder(mgr).max_size(size).build().map_err(|e| DbError::Pool(e.to_string()))
}

/// A pooled connection, as the shared handlers' `Env::Db`.
pub struct PooledClient(deadpool_postgres::Object);

impl Deref for PooledClient {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.0
    }
}

impl DerefMut for PooledClient {
    fn deref_mut(&mut self) -> &mut Client {
        &mut self.0
    }
}

/// Takes a connection from the pool; an unreachable database is a 503.
pub async fn get(pool: &Pool) -> Result<PooledClient, ApiError> {
    pool.get().await.map(PooledClient).map_err(|e| ApiError {
        detail: Some(e.to_string()),
        ..ApiError::new(ErrorCode::Unavailable, "database unavailable")
    })
}
