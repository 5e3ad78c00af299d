//! The edge worker under `wrangler dev` (workerd), and REST suites that run the same test body
//! against the node's native REST and against the edge.
//!
//! `Edge::start` writes a wrangler config of its own into a scratch directory — `main` =
//! `edge/entry.mjs`, no `[build]` (so wrangler never runs worker-build: `scripts/build-edge` must
//! have built `edge/build/` already), `CORS_ORIGINS` and `PARLEY_EDGE_TEST_HOOKS=1` as vars, the
//! repository's `[assets]` (the web app from `web/dist`: `scripts/build-web` must have built it) —
//! and a `.dev.vars` with `DATABASE_URL` (the test database) and `PARLEY_JWT_SIGNING_KEY` (the
//! harness's key, the one the nodes verify). It runs the cached wrangler
//! (`${PARLEY_TOOLS_DIR:-~/.cache/parley-tools}`, see `scripts/ensure-deps --edge`) in a session
//! of its own (`setsid`), offline (no metrics, no error reports, no `cf` fetch, no update check,
//! a private `XDG_CONFIG_HOME`), and waits for `GET /healthz`. Dropping it kills the process group.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

use crate::api::{Api, Session};
use crate::cluster::{TestDb, keys, run_dir, workspace_root};
use crate::{NodeOptions, TestEnv};

/// How long wrangler may take to answer `/healthz` (it is ~2–4 s here).
/// How many times a start is tried when a port was taken in the meantime.
const PORT_ATTEMPTS: usize = 3;
const START_TIMEOUT: Duration = Duration::from_secs(90);
/// Lines of wrangler's output printed when the `Edge` is dropped.
const LOG_TAIL_ON_DROP: usize = 40;
/// The origin the test configuration allows (`CORS_ORIGINS`).
pub const TEST_ORIGIN: &str = "https://app.parley.test";

/// `${PARLEY_TOOLS_DIR:-$HOME/.cache/parley-tools}`: where `scripts/ensure-deps --edge` installs.
pub fn tools_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PARLEY_TOOLS_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/root"));
    home.join(".cache").join("parley-tools")
}

/// The cached wrangler's entry script (run with `node`).
pub fn wrangler_js() -> PathBuf {
    tools_dir().join("npm/node_modules/wrangler/bin/wrangler.js")
}

/// The compatibility date of the repository's wrangler.toml, so the tests run what deploys.
fn compatibility_date() -> Result<String> {
    let path = workspace_root().join("wrangler.toml");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .find_map(|l| {
            let (k, v) = l.split_once('=')?;
            (k.trim() == "compatibility_date").then(|| v.trim().trim_matches('"').to_owned())
        })
        .ok_or_else(|| anyhow!("no compatibility_date in {}", path.display()))
}

/// The paths of the test-only hooks (`PARLEY_EDGE_TEST_HOOKS`), which the worker must see before
/// the web app's assets do (deployed, without the hooks, they are the app's like any other page).
const TEST_HOOK_PATHS: &str = "/__test/*";

/// The `[assets]` section of the repository's wrangler.toml, so the tests serve the web app as a
/// deployment does: `directory` made absolute (the test config lives in a scratch directory) and
/// [`TEST_HOOK_PATHS`] added to `run_worker_first`. Fails, saying to run `scripts/build-web`, when
/// the directory holds no built app (wrangler would refuse to start, or serve nothing).
fn assets_config() -> Result<String> {
    let path = workspace_root().join("wrangler.toml");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let config: toml::Table = text.parse().with_context(|| format!("parsing {}", path.display()))?;
    let mut assets = config
        .get("assets")
        .and_then(toml::Value::as_table)
        .cloned()
        .ok_or_else(|| anyhow!("no [assets] in {}", path.display()))?;
    let dir = assets
        .get("directory")
        .and_then(toml::Value::as_str)
        .ok_or_else(|| anyhow!("no assets.directory in {}", path.display()))?;
    let dir = workspace_root().join(dir);
    if !dir.join("index.html").is_file() {
        bail!(
            "{} is missing: run scripts/build-web (the edge serves the web app from {})",
            dir.join("index.html").display(),
            dir.display()
        );
    }
    let dir = dir.canonicalize().with_context(|| format!("resolving {}", dir.display()))?;
    assets.insert("directory".into(), toml::Value::String(dir.to_string_lossy().into_owned()));
    match assets.get_mut("run_worker_first") {
        Some(toml::Value::Array(paths)) => paths.push(TEST_HOOK_PATHS.into()),
        Some(toml::Value::Boolean(true)) => {}
        _ => {
            assets.insert("run_worker_first".into(), toml::Value::Array(vec![TEST_HOOK_PATHS.into()]));
        }
    }
    let mut section = toml::Table::new();
    section.insert("assets".into(), toml::Value::Table(assets));
    Ok(toml::to_string(&section)?)
}

/// A free TCP port on 127.0.0.1 (free when asked; wrangler binds it right after).
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// TOML basic string.
fn toml_str(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// How to start the edge.
#[derive(Debug, Clone)]
pub struct EdgeOptions {
    /// `DATABASE_URL`.
    pub database_url: String,
    /// `PARLEY_JWT_SIGNING_KEY`; the harness's key by default.
    pub signing_key: Option<String>,
    /// `CORS_ORIGINS`; [`TEST_ORIGIN`] by default.
    pub cors_origins: String,
    /// `PARLEY_EDGE_TEST_HOOKS=1` (the test-only panic and argon2 routes).
    pub test_hooks: bool,
    /// A name for the scratch directory and log.
    pub name: String,
    /// More `.dev.vars` entries (the `S3_*` settings, say).
    pub vars: Vec<(String, String)>,
}

impl EdgeOptions {
    /// The test configuration on `db`: the harness's key, [`TEST_ORIGIN`], test hooks on.
    pub fn new(db: &TestDb) -> EdgeOptions {
        EdgeOptions {
            database_url: db.url.clone(),
            signing_key: None,
            cors_origins: TEST_ORIGIN.to_owned(),
            test_hooks: true,
            name: format!("{}-edge", db.name),
            vars: Vec::new(),
        }
    }
}

/// A running `wrangler dev` serving the edge worker. Dropping it kills wrangler's process group
/// (wrangler and its workerd).
pub struct Edge {
    pid: Option<i32>,
    child: Option<std::process::Child>,
    port: u16,
    dir: PathBuf,
    /// Whether dropping this removes `dir` (not after a failed attempt: the next one runs there).
    remove_dir: bool,
    log_path: PathBuf,
    /// From spawn to the first `/healthz` 200.
    pub cold_start: Duration,
}

impl Edge {
    /// The edge on `db` with the test configuration.
    pub async fn start(db: &TestDb) -> Result<Edge> {
        Edge::start_with(EdgeOptions::new(db)).await
    }

    /// Starts `wrangler dev` with `opts` and waits for the first `/healthz` 200.
    pub async fn start_with(opts: EdgeOptions) -> Result<Edge> {
        let wrangler = wrangler_js();
        if !wrangler.exists() {
            bail!("{} is missing: run scripts/ensure-deps --edge", wrangler.display());
        }
        let shim = workspace_root().join("edge/build/index.js");
        if !shim.exists() {
            bail!("{} is missing: run scripts/build-edge", shim.display());
        }
        let dir = run_dir().join(&opts.name);
        std::fs::create_dir_all(dir.join("xdg")).with_context(|| format!("creating {}", dir.display()))?;
        let entry = workspace_root().join("edge/entry.mjs").canonicalize().context("edge/entry.mjs")?;
        let mut config = format!(
            "name = \"parley-edge-test\"\nmain = {}\ncompatibility_date = {}\n\n[vars]\nCORS_ORIGINS = {}\n",
            toml_str(&entry.to_string_lossy()),
            toml_str(&compatibility_date()?),
            toml_str(&opts.cors_origins),
        );
        if opts.test_hooks {
            config.push_str("PARLEY_EDGE_TEST_HOOKS = \"1\"\n");
        }
        config.push('\n');
        config.push_str(&assets_config()?);
        std::fs::write(dir.join("wrangler.toml"), config)?;
        let signing_key = match opts.signing_key {
            Some(k) => k,
            None => keys()?.signing_key.clone(),
        };
        let mut vars = format!(
            "DATABASE_URL={}\nPARLEY_JWT_SIGNING_KEY={}\n",
            toml_str(&opts.database_url),
            toml_str(&signing_key)
        );
        // As for the nodes (tests/src/node.rs): the suites' clients share one address.
        if !opts.vars.iter().any(|(k, _)| k == "PARLEY_COSTLY_LIMITS") {
            vars.push_str("PARLEY_COSTLY_LIMITS=false\n");
        }
        for (k, v) in &opts.vars {
            vars.push_str(&format!("{k}={}\n", toml_str(v)));
        }
        std::fs::write(dir.join(".dev.vars"), vars)?;

        let log_path = run_dir().join("logs").join(format!("{}.log", opts.name));
        let tmp = dir.join("tmp");
        std::fs::create_dir_all(&tmp)?;
        // A free port can be taken by another process between picking it and wrangler binding
        // it (tests start nodes and edges in parallel): try again with new ports.
        for attempt in 1..=PORT_ATTEMPTS {
            let log = File::create(&log_path).with_context(|| format!("creating {}", log_path.display()))?;
            let port = free_port()?;
            let inspector = free_port()?;
            let mut cmd = std::process::Command::new("node");
            cmd.arg(&wrangler)
                .args(["dev", "--config"])
                .arg(dir.join("wrangler.toml"))
                .args(["--ip", "127.0.0.1", "--port", &port.to_string()])
                .args(["--inspector-port", &inspector.to_string()])
                .args(["--local", "--persist-to"])
                .arg(dir.join("state"))
                .args(["--show-interactive-dev-session=false", "--log-level", "info"])
                .current_dir(&dir)
                .env("WRANGLER_SEND_METRICS", "false")
                .env("WRANGLER_SEND_ERROR_REPORTS", "false")
                .env("CLOUDFLARE_CF_FETCH_ENABLED", "false")
                // The banner is where wrangler asks the npm registry for a newer version.
                .env("WRANGLER_HIDE_BANNER", "true")
                .env("XDG_CONFIG_HOME", dir.join("xdg"))
                // wrangler/miniflare leave a scratch dir per run in TMPDIR: keep them in ours, which
                // is removed when the test process exits.
                .env("TMPDIR", &tmp)
                .env("NO_COLOR", "1")
                .env("CI", "1")
                .env_remove("CLOUDFLARE_API_TOKEN")
                .stdin(Stdio::null())
                .stdout(Stdio::from(log.try_clone()?))
                .stderr(Stdio::from(log));
            // SAFETY: setsid and prctl are async-signal-safe; the closure touches no shared state.
            unsafe {
                use std::os::unix::process::CommandExt;
                cmd.pre_exec(|| {
                    // A session (and process group) of its own, so Drop can kill wrangler and workerd.
                    if libc::setsid() < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    #[cfg(target_os = "linux")]
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    Ok(())
                });
            }
            let spawned = Instant::now();
            let child = cmd.spawn().context("spawning `node wrangler.js dev` (is node installed?)")?;
            let mut edge = Edge {
                pid: Some(child.id() as i32),
                child: Some(child),
                port,
                dir: dir.clone(),
                remove_dir: true,
                log_path: log_path.clone(),
                cold_start: Duration::ZERO,
            };
            match edge.wait_healthy(spawned).await {
                Ok(()) => {
                    edge.cold_start = spawned.elapsed();
                    return Ok(edge);
                }
                Err(e) if attempt < PORT_ATTEMPTS && edge.log_tail(60).contains("Address already in use") => {
                    eprintln!("edge: a port was taken before wrangler bound it (attempt {attempt}): {e:#}");
                    // Stop it but keep its directory: the next attempt runs in it.
                    edge.remove_dir = false;
                    drop(edge);
                }
                Err(e) => return Err(e),
            }
        }
        unreachable!("the last attempt returns")
    }

    async fn wait_healthy(&mut self, spawned: Instant) -> Result<()> {
        crate::install_crypto_provider();
        let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build()?;
        let url = format!("{}/healthz", self.url());
        loop {
            if let Ok(r) = http.get(&url).send().await
                && r.status().as_u16() == 200
            {
                return Ok(());
            }
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                bail!(
                    "wrangler exited with {status} before serving; log {}:\n{}",
                    self.log_path.display(),
                    self.log_tail(60)
                );
            }
            if spawned.elapsed() > START_TIMEOUT {
                bail!(
                    "the edge did not answer GET /healthz with 200 within {START_TIMEOUT:?}; log {}:\n{}",
                    self.log_path.display(),
                    self.log_tail(60)
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A REST client for the edge.
    pub fn api(&self) -> Api {
        Api::new(&self.url())
    }

    /// The file wrangler's output is written to.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The last `n` lines of wrangler's output.
    pub fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Kills wrangler's process group and reaps wrangler.
    pub fn stop(&mut self) {
        if let Some(pid) = self.pid.take() {
            // SAFETY: kill(2) on the process group our own child leads (setsid above).
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.wait();
        }
    }
}

impl Drop for Edge {
    fn drop(&mut self) {
        self.stop();
        let keep = std::env::var("PARLEY_TEST_KEEP").is_ok_and(|v| v == "1");
        if !keep && self.remove_dir {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
        // Captured by libtest: only shown when the test fails. The bench sets
        // PARLEY_QUIET_NODE_LOGS=1, as for nodes.
        if std::env::var_os("PARLEY_QUIET_NODE_LOGS").is_some() {
            return;
        }
        eprintln!(
            "----- edge log {} (last {LOG_TAIL_ON_DROP} lines) -----\n{}\n----- end of edge log -----",
            self.log_path.display(),
            self.log_tail(LOG_TAIL_ON_DROP)
        );
    }
}

/// Where a REST suite's requests go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The node's native REST routes.
    Node,
    /// The edge worker under wrangler, on the same database as the nodes.
    Edge,
}

/// A test database, its nodes, and, for [`Target::Edge`], the edge on the same database.
pub struct RestEnv {
    /// Where the requests go.
    pub target: Target,
    /// The database and its nodes.
    pub env: TestEnv,
    /// The edge, for [`Target::Edge`] only.
    pub edge: Option<Edge>,
}

impl RestEnv {
    /// A fresh database, `nodes` nodes (at least one) and, for the edge target, the edge.
    pub async fn start(target: Target, nodes: usize) -> Result<RestEnv> {
        RestEnv::start_with_vars(target, nodes, &[]).await
    }

    /// [`RestEnv::start`] with `vars` in every node's environment and the edge's `.dev.vars`.
    pub async fn start_with_vars(target: Target, nodes: usize, vars: &[(String, String)]) -> Result<RestEnv> {
        let opts = (1..=nodes.max(1))
            .map(|i| NodeOptions { env: vars.to_vec(), ..NodeOptions::new(&format!("node{i}")) })
            .collect();
        let env = TestEnv::start_with(opts).await?;
        let edge = match target {
            Target::Node => None,
            Target::Edge => Some(
                Edge::start_with(EdgeOptions { vars: vars.to_vec(), ..EdgeOptions::new(&env.db) })
                    .await
                    .context("starting the edge under wrangler")?,
            ),
        };
        Ok(RestEnv { target, env, edge })
    }

    /// The REST endpoint `i` (0-based). On the node target, node `i`. On the edge target, 0 is the
    /// edge and `i ≥ 1` is node `i - 1`'s native REST, so two-endpoint tests cross edge and node.
    pub fn api(&self, i: usize) -> Api {
        match (&self.edge, i) {
            (Some(edge), 0) => edge.api(),
            (Some(_), i) => self.env.api(i - 1),
            (None, i) => self.env.api(i),
        }
    }

    /// The WebSocket URL of node `i`.
    pub fn ws_url(&self, i: usize) -> String {
        self.env.ws_url(i)
    }

    /// Registers two users through endpoint 0 and opens their direct conversation.
    pub async fn pair(&self, a: &str, b: &str) -> Result<(Session, Session, String)> {
        let api = self.api(0);
        let sa = api.signup(a).await?;
        let sb = api.signup(b).await?;
        let conv = api.direct_id(&sa, &sb).await?;
        Ok((sa, sb, conv))
    }
}

/// Instantiates the REST test body `async fn $name(t: Target) -> Result<()>` twice, as
/// `$name::node` and `$name::edge`, each under [`crate::run`] with `$limit` seconds (the edge
/// gets 30 more for wrangler's start).
#[macro_export]
macro_rules! node_and_edge {
    ($name:ident, $limit:expr) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn node() -> ::anyhow::Result<()> {
                $crate::run($limit, super::$name($crate::Target::Node)).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn edge() -> ::anyhow::Result<()> {
                $crate::run($limit + 30, super::$name($crate::Target::Edge)).await
            }
        }
    };
}
