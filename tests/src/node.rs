//! A real `parley-node serve --rest` process.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdout};

use crate::api::Api;
use crate::cluster::{TestDb, keys, node_bin, run_dir};

/// How long a node may take to print its listening line.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// Lines of the node's log printed when the `Node` is dropped (libtest shows them only for
/// failing tests).
const LOG_TAIL_ON_DROP: usize = 60;

/// How to start a node.
#[derive(Debug, Clone)]
pub struct NodeOptions {
    /// The node id (`--node-id`); also names the log file.
    pub node_id: String,
    /// `--max-batch N` (group-commit batch size).
    pub max_batch: Option<u32>,
    /// Extra command-line arguments after `serve --rest ...`.
    pub extra_args: Vec<String>,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
}

impl NodeOptions {
    /// Default options for node `node_id`.
    pub fn new(node_id: &str) -> NodeOptions {
        NodeOptions { node_id: node_id.to_owned(), max_batch: None, extra_args: Vec::new(), env: Vec::new() }
    }

    /// Sets `--max-batch n`.
    pub fn max_batch(mut self, n: u32) -> NodeOptions {
        self.max_batch = Some(n);
        self
    }
}

/// A running (or stopped) node process. Dropping it SIGKILLs the process.
pub struct Node {
    opts: NodeOptions,
    db_name: String,
    db_url: String,
    child: Option<Child>,
    addr: SocketAddr,
    /// QUIC (UDP) address and certificate SHA-256 from the listening line.
    quic_addr: Option<SocketAddr>,
    cert_sha256: Option<String>,
    log_path: PathBuf,
    starts: u32,
}

impl Node {
    /// Starts `parley-node serve --rest` with id `node_id` on `db`.
    pub async fn start(db: &TestDb, node_id: &str) -> Result<Node> {
        Node::start_with(db, NodeOptions::new(node_id)).await
    }

    /// Starts `parley-node serve --rest` on `db` with `opts`.
    pub async fn start_with(db: &TestDb, opts: NodeOptions) -> Result<Node> {
        let log_path = run_dir().join("logs").join(format!("{}-{}.log", db.name, opts.node_id));
        let mut node = Node {
            opts,
            db_name: db.name.clone(),
            db_url: db.url.clone(),
            child: None,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            quic_addr: None,
            cert_sha256: None,
            log_path,
            starts: 0,
        };
        node.spawn().await?;
        Ok(node)
    }

    async fn spawn(&mut self) -> Result<()> {
        let keys = keys()?;
        self.starts += 1;
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .with_context(|| format!("opening {}", self.log_path.display()))?;
        writeln!(log, "===== start #{} of node {} on {} =====", self.starts, self.opts.node_id, self.db_name)?;
        let stderr = log.try_clone()?;

        let bin = node_bin();
        let mut cmd = tokio::process::Command::new(&bin);
        cmd.args([
            "serve",
            "--rest",
            "--database-url",
            &self.db_url,
            "--node-id",
            &self.opts.node_id,
            "--http",
            "127.0.0.1:0",
            "--quic",
            "127.0.0.1:0",
        ]);
        if let Some(n) = self.opts.max_batch {
            cmd.args(["--max-batch", &n.to_string()]);
        }
        cmd.args(&self.opts.extra_args)
            .env("PARLEY_JWT_SIGNING_KEY", &keys.signing_key)
            .env("PARLEY_JWKS", keys.jwks_text())
            .env_remove("DATABASE_URL")
            .env_remove("PARLEY_NODE_ID")
            .env_remove("PARLEY_HTTP_ADDR")
            .env_remove("PARLEY_QUIC_ADDR")
            .env_remove("PARLEY_TLS_CERT")
            .env_remove("PARLEY_TLS_KEY")
            .env_remove("PARLEY_JWKS_URL");
        if std::env::var_os("RUST_LOG").is_none() {
            cmd.env("RUST_LOG", "info");
        }
        // Every test client comes from 127.0.0.1: lift the per-address REST limits out of the
        // way (the flood test sets its own through `opts.env`).
        for (k, v) in [
            ("PARLEY_REST_RATE", "100000"),
            ("PARLEY_REST_BURST", "100000"),
            ("PARLEY_AUTH_RATE", "100000"),
            ("PARLEY_AUTH_BURST", "100000"),
            // Each suite registers and searches far faster than a person (the abuse test turns
            // these back on).
            ("PARLEY_COSTLY_LIMITS", "false"),
        ] {
            cmd.env(k, v);
        }
        for (k, v) in &self.opts.env {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::from(stderr)).kill_on_drop(true);
        #[cfg(target_os = "linux")]
        // SAFETY: prctl is async-signal-safe; the closure touches no shared state.
        unsafe {
            cmd.pre_exec(|| {
                // Do not outlive a test process that is killed outright.
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let mut child = cmd.spawn().with_context(|| format!("spawning `{} serve` (is it built?)", bin.display()))?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout pipe"))?;
        self.child = Some(child);

        match tokio::time::timeout(START_TIMEOUT, wait_listening(stdout, log)).await {
            Ok(Ok(l)) => {
                self.addr = l.http;
                self.quic_addr = l.quic;
                self.cert_sha256 = l.cert_sha256;
                Ok(())
            }
            Ok(Err(e)) => {
                self.kill_now().await;
                Err(e.context(format!(
                    "node {} did not start; log {}:\n{}",
                    self.opts.node_id,
                    self.log_path.display(),
                    self.log_tail(40)
                )))
            }
            Err(_) => {
                self.kill_now().await;
                bail!(
                    "node {} printed no listening line within {START_TIMEOUT:?}; log {}:\n{}",
                    self.opts.node_id,
                    self.log_path.display(),
                    self.log_tail(40)
                )
            }
        }
    }

    /// The node id.
    pub fn id(&self) -> &str {
        &self.opts.node_id
    }

    /// The HTTP address from the listening line.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`
    pub fn http_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The QUIC (UDP) address from the listening line.
    pub fn quic_addr(&self) -> SocketAddr {
        self.quic_addr.expect("the node printed no `quic` address")
    }

    /// The hex SHA-256 of the node's QUIC certificate, from the listening line.
    pub fn cert_sha256(&self) -> &str {
        self.cert_sha256.as_deref().expect("the node printed no `cert_sha256`")
    }

    /// `ws://127.0.0.1:PORT/v1/ws`
    pub fn ws_url(&self) -> String {
        format!("ws://{}/v1/ws", self.addr)
    }

    /// A REST client for this node.
    pub fn api(&self) -> Api {
        Api::new(&self.http_url())
    }

    /// The process id, while the process is running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }

    /// The node's log file (stderr and stray stdout).
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The last `n` lines of the node's log (stderr and stray stdout).
    pub fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Sends `signal` to the process.
    pub fn signal(&self, signal: libc::c_int) -> Result<()> {
        let pid = self.pid().ok_or_else(|| anyhow!("node {} is not running", self.opts.node_id))?;
        // SAFETY: kill(2) on our own child's pid.
        if unsafe { libc::kill(pid as libc::pid_t, signal) } != 0 {
            return Err(std::io::Error::last_os_error()).context(format!("kill({pid}, {signal})"));
        }
        Ok(())
    }

    /// Sends SIGKILL.
    pub fn sigkill(&self) -> Result<()> {
        self.signal(libc::SIGKILL)
    }

    /// Sends SIGTERM.
    pub fn sigterm(&self) -> Result<()> {
        self.signal(libc::SIGTERM)
    }

    /// Waits for the process to exit.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Result<ExitStatus> {
        let child = self.child.as_mut().ok_or_else(|| anyhow!("node {} is not running", self.opts.node_id))?;
        let status = tokio::time::timeout(timeout, child.wait())
            .await
            .with_context(|| format!("node {} did not exit within {timeout:?}", self.opts.node_id))??;
        self.child = None;
        Ok(status)
    }

    /// SIGKILL and reap.
    pub async fn kill(&mut self) -> Result<ExitStatus> {
        self.sigkill()?;
        self.wait_exit(Duration::from_secs(10)).await
    }

    async fn kill_now(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.start_kill();
            let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
        }
    }

    /// Kills the process if it still runs and starts it again (same id and database, a new
    /// port: ask `http_url`/`ws_url` again).
    pub async fn restart(&mut self) -> Result<()> {
        self.kill_now().await;
        self.spawn().await
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
        // Captured by libtest: only shown when the test fails. Programs that are not tests
        // (the bench) set PARLEY_QUIET_NODE_LOGS=1.
        if std::env::var_os("PARLEY_QUIET_NODE_LOGS").is_some() {
            return;
        }
        eprintln!(
            "----- node {} log {} (last {LOG_TAIL_ON_DROP} lines) -----\n{}\n----- end of node {} log -----",
            self.opts.node_id,
            self.log_path.display(),
            self.log_tail(LOG_TAIL_ON_DROP),
            self.opts.node_id
        );
    }
}

#[derive(serde::Deserialize)]
struct Listening {
    event: String,
    http: String,
    #[serde(default)]
    quic: Option<String>,
    #[serde(default)]
    cert_sha256: Option<String>,
}

/// What the listening line says.
struct Listen {
    http: SocketAddr,
    quic: Option<SocketAddr>,
    cert_sha256: Option<String>,
}

/// Reads stdout until the `{"event":"listening",...}` line; everything else goes to the log.
/// After that a background task keeps draining stdout into the log.
async fn wait_listening(stdout: ChildStdout, mut log: File) -> Result<Listen> {
    let mut lines = BufReader::new(stdout).lines();
    loop {
        let Some(line) = lines.next_line().await.context("reading the node's stdout")? else {
            bail!("the node exited (stdout closed) before printing its listening line");
        };
        let _ = writeln!(log, "[stdout] {line}");
        if let Ok(l) = serde_json::from_str::<Listening>(line.trim())
            && l.event == "listening"
        {
            let addr: SocketAddr =
                l.http.parse().with_context(|| format!("listening line has a bad http address: {line}"))?;
            let quic = match &l.quic {
                Some(q) => Some(q.parse().with_context(|| format!("listening line has a bad quic address: {line}"))?),
                None => None,
            };
            tokio::spawn(async move {
                while let Ok(Some(line)) = lines.next_line().await {
                    let _ = writeln!(log, "[stdout] {line}");
                }
            });
            return Ok(Listen { http: addr, quic, cert_sha256: l.cert_sha256 });
        }
    }
}
