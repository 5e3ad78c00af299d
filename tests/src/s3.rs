//! A real S3-compatible server for the media tests: moto's (`moto_server`, PyPI), installed by
//! `scripts/ensure-deps --python` into the tools venv, on a free loopback port. Dropping it kills
//! the server.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::cluster::run_dir;
use crate::edge::{free_port, tools_dir};

/// A running `moto_server`.
pub struct S3Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
}

fn moto_server() -> PathBuf {
    tools_dir().join("venv/bin/moto_server")
}

impl S3Server {
    /// Starts it and waits until it accepts connections.
    pub async fn start() -> Result<S3Server> {
        let bin = moto_server();
        if !bin.exists() {
            bail!("{} is missing: run scripts/ensure-deps --python", bin.display());
        }
        let port = free_port()?;
        let log = run_dir().join("logs").join(format!("moto-{port}.log"));
        let out = std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let server = S3Server { child, endpoint: format!("http://127.0.0.1:{port}") };
        let started = Instant::now();
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return Ok(server);
            }
            if started.elapsed() > Duration::from_secs(30) {
                bail!("moto_server did not listen on {port} within 30 s (log: {})", log.display());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The contract's `S3_*` settings for bucket `bucket`, and the node's flag that creates it.
    pub fn vars(&self, bucket: &str) -> Vec<(String, String)> {
        [
            ("S3_ENDPOINT", self.endpoint.as_str()),
            ("S3_BUCKET", bucket),
            ("S3_REGION", "us-east-1"),
            ("S3_ACCESS_KEY_ID", "parley-test"),
            ("S3_SECRET_ACCESS_KEY", "parley-test-secret"),
            ("PARLEY_S3_CREATE_BUCKET", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }
}

impl S3Server {
    /// A presigner for `bucket` with the settings of [`S3Server::vars`].
    pub fn presigner(&self, bucket: &str) -> parley_shared::objects::Presigner {
        let config = parley_shared::objects::ObjectsConfig {
            endpoint: Some(self.endpoint.clone()),
            bucket: bucket.into(),
            region: "us-east-1".into(),
            access_key_id: "parley-test".into(),
            secret_access_key: "parley-test-secret".into(),
        };
        parley_shared::objects::Presigner::new(&config).expect("a valid test configuration")
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
