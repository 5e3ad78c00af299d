//! Postgres from the worker: one connection per request, opened when a handler first asks for
//! one (so `/healthz` and `/.well-known/jwks.json` never touch the database).
//!
//! Where to connect:
//! - a Hyperdrive binding `DB`, when bound (production: Hyperdrive pools and caches in front of
//!   Postgres, and the worker talks to it in plain text over a local channel);
//! - else the `DATABASE_URL` var or secret (local runs, or a database without Hyperdrive). With
//!   `sslmode=require` the socket is upgraded to TLS by the runtime (StartTLS); any other mode
//!   connects in plain text.
//!
//! The connection is a `worker::Socket` handed to tokio-postgres, whose connection future is
//! driven by `spawn_local`. A Workers socket belongs to the request that opened it: nothing is
//! kept between requests.

use std::ops::{Deref, DerefMut};
use std::pin::pin;
use std::str::FromStr;
use std::time::Duration;

use futures_util::future::{Either, select};
use parley_shared::error::{ApiError, ErrorCode};
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::tls::TlsConnect;
use tokio_postgres::{Client, Config, NoTls};
use worker::postgres_tls::PassthroughTls;
use worker::{Delay, SecureTransport, Socket, console_error};

use crate::env::string_binding;

/// The Hyperdrive binding's name.
pub const HYPERDRIVE_BINDING: &str = "DB";
/// The connection-string var used without Hyperdrive.
pub const URL_VAR: &str = "DATABASE_URL";
/// How long opening a connection (TCP, TLS, startup, authentication) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Shown in `pg_stat_activity`.
const APPLICATION_NAME: &str = "parley-edge";

/// The request's connection, as the shared handlers' `Env::Db`. Dropping it closes the
/// connection.
pub struct EdgeDb {
    client: Client,
}

impl Deref for EdgeDb {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

impl DerefMut for EdgeDb {
    fn deref_mut(&mut self) -> &mut Client {
        &mut self.client
    }
}

/// Where and how to connect.
#[derive(Debug)]
struct Target {
    config: Config,
    host: String,
    port: u16,
    tls: bool,
    /// For the log: which setting this came from.
    source: &'static str,
}

/// A 503 for a database that is configured but cannot be reached, as on the node.
fn unavailable(detail: String) -> ApiError {
    ApiError { detail: Some(detail), ..ApiError::new(ErrorCode::Unavailable, "database unavailable") }
}

/// The Hyperdrive binding's coordinates, if bound.
fn hyperdrive(env: &worker::Env) -> Option<Target> {
    let hd = env.hyperdrive(HYPERDRIVE_BINDING).ok()?;
    // Reading the host registers the runtime's route from that (random) host name to
    // Hyperdrive, so it is read once and used for the socket itself.
    let host = hd.host();
    let port = hd.port();
    let mut config = Config::new();
    config
        .host(&host)
        .port(port)
        .user(hd.user())
        .password(hd.password())
        .dbname(hd.database())
        .application_name(APPLICATION_NAME)
        // As in the binding's own connection string: the hop to Hyperdrive is local.
        .ssl_mode(SslMode::Disable);
    Some(Target { config, host, port, tls: false, source: "the Hyperdrive binding DB" })
}

/// A TCP host's name: a Unix-socket directory (native builds only) cannot be reached from a worker.
fn tcp_host(h: &Host) -> Option<&str> {
    match h {
        Host::Tcp(name) => Some(name),
        #[cfg(unix)]
        Host::Unix(_) => None,
    }
}

/// Why the database could not be reached. Messages never echo the URL, which may hold a password.
#[derive(Debug, thiserror::Error)]
enum DbError {
    /// `DATABASE_URL` is not a connection string.
    #[error("{URL_VAR} does not parse: {0}")]
    BadUrl(tokio_postgres::Error),
    /// `DATABASE_URL` names only Unix sockets, which a worker cannot open.
    #[error("{URL_VAR} names no TCP host")]
    NoTcpHost,
    /// Opening the TCP socket.
    #[error("socket: {0}")]
    Socket(worker::Error),
    /// The Postgres startup handshake.
    #[error("{0}")]
    Handshake(tokio_postgres::Error),
}

/// The coordinates in a `DATABASE_URL` (URL or key=value form).
fn from_url(url: &str) -> Result<Target, DbError> {
    let mut config = Config::from_str(url).map_err(DbError::BadUrl)?;
    let host = config.get_hosts().iter().find_map(tcp_host).map(str::to_owned).ok_or(DbError::NoTcpHost)?;
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let tls = config.get_ssl_mode() == SslMode::Require;
    if config.get_application_name().is_none() {
        config.application_name(APPLICATION_NAME);
    }
    Ok(Target { config, host, port, tls, source: URL_VAR })
}

fn target(env: &worker::Env) -> Result<Target, ApiError> {
    if let Some(t) = hyperdrive(env) {
        return Ok(t);
    }
    let url = string_binding(env, URL_VAR).ok_or_else(|| {
        ApiError::internal(format!("no database configured: bind Hyperdrive as {HYPERDRIVE_BINDING} or set {URL_VAR}"))
    })?;
    from_url(&url).map_err(|e| ApiError::internal(e.to_string()))
}

/// Runs the startup handshake over `socket` and drives the connection in the background.
async fn handshake<T>(config: &Config, socket: Socket, tls: T) -> Result<Client, tokio_postgres::Error>
where
    T: TlsConnect<Socket> + 'static,
    T::Stream: 'static,
{
    let (client, connection) = config.connect_raw(socket, tls).await?;
    wasm_bindgen_futures::spawn_local(async move {
        // Ends when the client is dropped; an error here is the server or network going away.
        if let Err(e) = connection.await {
            console_error!("postgres connection: {e}");
        }
    });
    Ok(client)
}

async fn open(t: &Target) -> Result<Client, DbError> {
    let builder = Socket::builder();
    let builder = if t.tls { builder.secure_transport(SecureTransport::StartTls) } else { builder };
    let socket = builder.connect(t.host.clone(), t.port).map_err(DbError::Socket)?;
    let result = if t.tls {
        handshake(&t.config, socket, PassthroughTls).await
    } else {
        handshake(&t.config, socket, NoTls).await
    };
    result.map_err(DbError::Handshake)
}

/// Opens this request's connection: a 500 when none is configured, a 503 when it cannot be had.
pub async fn connect(env: &worker::Env) -> Result<EdgeDb, ApiError> {
    let t = target(env)?;
    let opening = pin!(open(&t));
    let timeout = pin!(Delay::from(CONNECT_TIMEOUT));
    match select(opening, timeout).await {
        Either::Left((Ok(client), _)) => Ok(EdgeDb { client }),
        Either::Left((Err(e), _)) => Err(unavailable(format!("postgres via {}: {e}", t.source))),
        Either::Right(_) => {
            Err(unavailable(format!("postgres via {}: no connection within {CONNECT_TIMEOUT:?}", t.source)))
        }
    }
}

#[cfg(test)]
#[allow(clippy::panic)]
mod tests {
    use super::from_url;

    #[test]
    fn database_urls() {
        let t = from_url("postgres://parley:secret@db.internal:6543/parley").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((t.host.as_str(), t.port, t.tls), ("db.internal", 6543, false));
        assert_eq!(t.config.get_application_name(), Some("parley-edge"));

        let t = from_url("postgresql://u@localhost/parley?sslmode=require&application_name=x")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((t.host.as_str(), t.port, t.tls), ("localhost", 5432, true));
        assert_eq!(t.config.get_application_name(), Some("x"));

        let t = from_url("host=127.0.0.1 port=5433 user=postgres sslmode=prefer").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((t.host.as_str(), t.port, t.tls), ("127.0.0.1", 5433, false));

        let err = from_url("postgres://u:hunter2@h:notaport/db").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.starts_with("DATABASE_URL does not parse"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        assert!(from_url("user=postgres dbname=parley").is_err());
    }
}
