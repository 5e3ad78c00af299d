//! The schema: versioned SQL migrations in `shared/migrations`, embedded in the binary and
//! applied by refinery (with its history table), so `parley-node migrate`, dev mode and the
//! store's own tests apply exactly the same steps. Native only: the edge never migrates.

use tokio_postgres::Client;

use super::StoreError;

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// Applies every pending migration on `client`'s database; returns how many ran. Safe to run
/// again.
pub async fn migrate(client: &mut Client) -> Result<usize, StoreError> {
    let report =
        embedded::migrations::runner().run_async(client).await.map_err(|e| StoreError::Migrate(e.to_string()))?;
    Ok(report.applied_migrations().len())
}
