//! A private Postgres cluster run from the system's server binaries, for dev mode, the black-box
//! tests, the store's tests and the benchmarks; no Postgres fake anywhere.
//!
//! - [`PgCluster`]: create (initdb, as an unprivileged user when running as root), start on a
//!   free port, stop, restart (fault injection).
//! - [`process_server`]: one server shared by a whole test process (a database per test), stopped
//!   when the process exits.
#![warn(missing_docs)]

mod cluster;
mod process;

pub use cluster::{EXTRA_OPTIONS_ENV, PgCluster, PgClusterError, server_has_library};
pub use process::{ServerError, process_server, url_with_db, with_process_cluster};
