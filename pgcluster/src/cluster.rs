//! A private Postgres cluster run from the system's server binaries, for dev mode, the
//! black-box tests and the benchmarks.
//!
//! The API is synchronous (std::process): callers use it before a runtime exists or from
//! test harnesses, and `pg_ctl` blocks anyway.
//!
//! `initdb` refuses to run as root and CI runs as root, so as root every Postgres tool runs
//! as the unprivileged `postgres` user (or `nobody`). That user must be able to reach the
//! cluster directory; when an ancestor such as `/root` (mode 0700) bars the way, the
//! cluster lives under `/var/tmp/parley-pg-<hash>` instead and the requested directory
//! keeps a `CLUSTER_PATH` file pointing there, so later runs find the same cluster.

use std::ffi::CString;
use std::fs;
use std::io::{self, Read, Seek, SeekFrom};
use std::net::TcpListener;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const LOG_FILE: &str = "postgres.log";
const PID_FILE: &str = "postmaster.pid";
const CLUSTER_PATH_FILE: &str = "CLUSTER_PATH";
const REDIRECT_PREFIX: &str = "/var/tmp/parley-pg-";
const LOG_TAIL_LINES: usize = 30;
/// How many free ports to try when the caller let us pick: another process may grab the
/// port between our probe and the postmaster's bind.
const PORT_ATTEMPTS: usize = 5;
/// `sun_path` is 108 bytes including the terminating NUL.
const MAX_SOCKET_PATH: usize = 107;
const PG_CTL_TIMEOUT_SECS: &str = "60";
/// Extra `postgres` options (`-c name=value ...`) appended when a cluster starts.
pub const EXTRA_OPTIONS_ENV: &str = "PARLEY_PG_OPTIONS";

/// A private Postgres cluster started from the system's server binaries.
///
/// Dropping it stops the server (fast shutdown) unless it was already stopped.
#[derive(Debug)]
pub struct PgCluster {
    bins: Binaries,
    data_dir: PathBuf,
    port: u16,
    run_as: Option<RunAs>,
    running: bool,
}

/// Why a private cluster could not be created, started or stopped.
#[derive(Debug, thiserror::Error)]
pub enum PgClusterError {
    /// `initdb`, `pg_ctl` or `postgres` is missing.
    #[error(
        "Postgres server binaries (initdb, pg_ctl, postgres) were found neither on PATH nor in \
         /usr/lib/postgresql/*/bin; install them with `{hint}` (scripts/ensure-deps does it)"
    )]
    BinariesNotFound {
        /// The exact command that installs them.
        hint: String,
    },
    /// Running as root, and no unprivileged account exists to run `initdb` as.
    #[error(
        "running as root, but initdb refuses root and neither a `postgres` nor a `nobody` user \
         exists to run it as (`apt-get install -y postgresql` creates `postgres`)"
    )]
    NoUnprivilegedUser,
    /// The cluster directory (or its `CLUSTER_PATH` pointer) could not be prepared.
    #[error("cannot prepare the cluster directory {}: {source}", path.display())]
    Dir {
        /// The directory or file involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// `initdb` failed; carries its output.
    #[error("initdb failed: {0}")]
    Initdb(String),
    /// The server did not start; carries pg_ctl's output and the tail of `postgres.log`.
    #[error("Postgres did not start: {0}")]
    Start(String),
    /// `pg_ctl stop` failed while the server still appears to run.
    #[error("Postgres did not stop: {0}")]
    Stop(String),
    /// Any other I/O failure, such as spawning a binary.
    #[error("I/O error around the private Postgres cluster: {0}")]
    Io(#[from] io::Error),
}

impl PgCluster {
    /// Creates the cluster under `dir` if it has none yet (initdb), then starts it listening on
    /// 127.0.0.1:`port` (None: pick a free port) with its unix socket in the cluster dir.
    ///
    /// A server a previous run left running on the same cluster is reused when its port
    /// matches (any port does when `port` is None), otherwise stopped and restarted. With
    /// `PARLEY_PG_NOSYNC=1` in the environment durability is traded for speed (tests).
    pub fn start(dir: &Path, port: Option<u16>) -> Result<PgCluster, PgClusterError> {
        let bins = find_binaries()?;
        // SAFETY: geteuid has no preconditions and cannot fail.
        let run_as = if unsafe { libc::geteuid() } == 0 { Some(unprivileged_user()?) } else { None };
        let data_dir = resolve_cluster_dir(dir, run_as)?;
        let nosync = std::env::var("PARLEY_PG_NOSYNC").is_ok_and(|v| v == "1");

        let mut cluster = PgCluster { bins, data_dir, port: 0, run_as, running: false };
        if !cluster.data_dir.join("PG_VERSION").exists() {
            cluster.initdb(nosync)?;
        }
        if cluster.adopt_or_clear_previous_server(port)? {
            return Ok(cluster);
        }
        cluster.launch(port, nosync)?;
        Ok(cluster)
    }

    /// `postgres://postgres@127.0.0.1:{port}/{db}`
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// The TCP port the server listens on (127.0.0.1 only).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Directory actually holding the cluster: the requested one, or the one its
    /// `CLUSTER_PATH` file names when running as root forced the cluster elsewhere.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// `pg_ctl stop -m fast`; idempotent.
    pub fn stop(&mut self) -> Result<(), PgClusterError> {
        if !self.running {
            return Ok(());
        }
        let out = self.pg_ctl_stop("fast")?;
        // A server someone else already stopped counts as stopped: the pid file is the
        // postmaster's own record of being alive.
        if out.status.success() || !self.data_dir.join(PID_FILE).exists() {
            self.running = false;
            return Ok(());
        }
        Err(PgClusterError::Stop(describe_output("pg_ctl stop", &out)))
    }

    /// `pg_ctl stop -m immediate`, for test teardown; idempotent.
    pub fn stop_immediate(&mut self) {
        if !self.running {
            return;
        }
        if let Err(e) = self.pg_ctl_stop("immediate") {
            tracing::warn!(dir = %self.data_dir.display(), "pg_ctl stop -m immediate: {e}");
        }
        self.running = false;
    }

    /// `pg_ctl restart -m fast`: every connection is dropped and the server comes back on the
    /// same port with the same options (fault-injection tests).
    pub fn restart_fast(&mut self) -> Result<(), PgClusterError> {
        let out = self
            .command(&self.bins.pg_ctl)
            .arg("restart")
            .arg("-D")
            .arg(&self.data_dir)
            .arg("-l")
            .arg(self.data_dir.join(LOG_FILE))
            .args(["-m", "fast", "-w", "-t", PG_CTL_TIMEOUT_SECS])
            .output()?;
        if !out.status.success() {
            return Err(PgClusterError::Start(describe_output("pg_ctl restart", &out)));
        }
        self.running = true;
        Ok(())
    }

    /// Starts a cluster that [`PgCluster::stop`] stopped again, on the port it had, so that
    /// clients holding its URL reconnect (fault-injection tests: a server refusing connections
    /// for a while).
    pub fn start_again(&mut self) -> Result<(), PgClusterError> {
        if self.running {
            return Ok(());
        }
        let nosync = std::env::var("PARLEY_PG_NOSYNC").is_ok_and(|v| v == "1");
        self.launch(Some(self.port), nosync)
    }

    fn initdb(&self, nosync: bool) -> Result<(), PgClusterError> {
        let mut cmd = self.command(&self.bins.initdb);
        cmd.arg("-D").arg(&self.data_dir).args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C"]);
        if nosync {
            cmd.arg("--no-sync");
        }
        let out = cmd.output()?;
        if !out.status.success() {
            return Err(PgClusterError::Initdb(describe_output("initdb", &out)));
        }
        tracing::info!(dir = %self.data_dir.display(), "initialised a private Postgres cluster");
        Ok(())
    }

    /// Deals with a postmaster a previous run may have left on this cluster. Returns true
    /// when that server is adopted as ours.
    fn adopt_or_clear_previous_server(&mut self, port: Option<u16>) -> Result<bool, PgClusterError> {
        match inspect_postmaster(&self.data_dir) {
            Postmaster::Absent => Ok(false),
            Postmaster::Stale => {
                // Postgres refuses to start when the recorded pid now belongs to an unrelated
                // process (pid reuse after a crash or a container restart), so clear it here.
                remove_stale_lock_files(&self.data_dir)?;
                Ok(false)
            }
            Postmaster::Running(found) => {
                let port_ok = port.is_none_or(|p| p == found.port);
                let reachable = found.listen.split(',').any(|a| matches!(a.trim(), "127.0.0.1" | "*"));
                if port_ok && reachable && found.ready {
                    tracing::info!(port = found.port, "reusing the Postgres server already running on the cluster");
                    self.port = found.port;
                    self.running = true;
                    return Ok(true);
                }
                self.running = true;
                if self.stop().is_err() {
                    self.stop_immediate();
                }
                if inspect_postmaster(&self.data_dir) == Postmaster::Absent {
                    Ok(false)
                } else {
                    Err(PgClusterError::Start(format!(
                        "a previous server (pid {}) still runs on {} and would not stop",
                        found.pid,
                        self.data_dir.display()
                    )))
                }
            }
        }
    }

    fn launch(&mut self, port: Option<u16>, nosync: bool) -> Result<(), PgClusterError> {
        let log = self.data_dir.join(LOG_FILE);
        let socket_dir = socket_dir_option(&self.data_dir);
        for attempt in 1..=PORT_ATTEMPTS {
            let chosen = match port {
                Some(p) => p,
                None => free_port()?,
            };
            let mut opts = format!("-p {chosen} -h 127.0.0.1 -k {socket_dir} -c max_connections=400");
            if nosync {
                opts.push_str(" -c fsync=off -c synchronous_commit=off -c full_page_writes=off");
            }
            // Extra server settings (`-c name=value ...`), e.g. the bench's pg_stat_statements.
            if let Ok(extra) = std::env::var(EXTRA_OPTIONS_ENV)
                && !extra.trim().is_empty()
            {
                opts.push(' ');
                opts.push_str(extra.trim());
            }
            let log_offset = fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
            let out = self
                .command(&self.bins.pg_ctl)
                .arg("start")
                .arg("-D")
                .arg(&self.data_dir)
                .arg("-l")
                .arg(&log)
                .args(["-w", "-t", PG_CTL_TIMEOUT_SECS, "-o", &opts])
                .output()?;
            if out.status.success() {
                self.port = chosen;
                self.running = true;
                return Ok(());
            }
            let new_log = read_from(&log, log_offset);
            // pg_ctl gives up after its timeout while the postmaster may keep starting; do
            // not leave it behind holding the cluster.
            if self.data_dir.join(PID_FILE).exists() {
                self.running = true;
                self.stop_immediate();
            }
            let port_taken = new_log.contains("could not bind") || new_log.contains("Address already in use");
            if port.is_none() && port_taken && attempt < PORT_ATTEMPTS {
                tracing::debug!(port = chosen, "port taken before the postmaster bound it, retrying");
                continue;
            }
            return Err(PgClusterError::Start(format!(
                "{}\n--- last lines of {} ---\n{}",
                describe_output("pg_ctl start", &out),
                log.display(),
                tail_lines(&new_log, LOG_TAIL_LINES)
            )));
        }
        unreachable!("the last attempt always returns")
    }

    fn pg_ctl_stop(&self, mode: &str) -> io::Result<Output> {
        self.command(&self.bins.pg_ctl)
            .arg("stop")
            .arg("-D")
            .arg(&self.data_dir)
            .args(["-m", mode, "-w", "-t", PG_CTL_TIMEOUT_SECS])
            .output()
    }

    fn command(&self, program: &Path) -> Command {
        let mut cmd = Command::new(program);
        // The unprivileged user may not be able to enter the caller's working directory
        // (/root), which makes the Postgres tools complain or fail.
        cmd.current_dir(&self.data_dir).stdin(Stdio::null());
        if let Some(user) = self.run_as {
            cmd.uid(user.uid).gid(user.gid);
        }
        cmd
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if self.running && self.stop().is_err() {
            self.stop_immediate();
        }
    }
}

#[derive(Debug, Clone)]
struct Binaries {
    initdb: PathBuf,
    pg_ctl: PathBuf,
}

#[derive(Debug, Clone, Copy)]
struct RunAs {
    uid: libc::uid_t,
    gid: libc::gid_t,
}

#[derive(Debug, PartialEq)]
enum Postmaster {
    Absent,
    Stale,
    Running(RunningPostmaster),
}

#[derive(Debug, PartialEq)]
struct RunningPostmaster {
    pid: i32,
    port: u16,
    listen: String,
    ready: bool,
}

/// Picks one directory holding all three tools, so that initdb and the server always come
/// from the same Postgres version.
fn find_binaries() -> Result<Binaries, PgClusterError> {
    let path_dirs = std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect::<Vec<_>>()).unwrap_or_default();
    let found = path_dirs
        .into_iter()
        .chain(versioned_lib_dirs())
        .find(|dir| ["initdb", "pg_ctl", "postgres"].iter().all(|b| is_executable(&dir.join(b))));
    match found {
        Some(dir) => Ok(Binaries { initdb: dir.join("initdb"), pg_ctl: dir.join("pg_ctl") }),
        None => Err(PgClusterError::BinariesNotFound { hint: install_hint() }),
    }
}

/// Whether the server this crate would start can load the shared library `name` (say
/// `pg_stat_statements`): it sits in the `lib` directory beside the binaries' (symlinks followed).
pub fn server_has_library(name: &str) -> bool {
    let Ok(bins) = find_binaries() else { return false };
    let pg_ctl = fs::canonicalize(&bins.pg_ctl).unwrap_or(bins.pg_ctl);
    pg_ctl.parent().and_then(Path::parent).is_some_and(|root| root.join("lib").join(format!("{name}.so")).exists())
}

/// `/usr/lib/postgresql/<version>/bin`, newest version first.
fn versioned_lib_dirs() -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir("/usr/lib/postgresql") else {
        return Vec::new();
    };
    let mut versions: Vec<(Vec<u32>, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let version: Option<Vec<u32>> = name.split('.').map(|p| p.parse().ok()).collect();
            Some((version?, e.path().join("bin")))
        })
        .collect();
    versions.sort_by(|a, b| b.0.cmp(&a.0));
    versions.into_iter().map(|(_, dir)| dir).collect()
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.mode() & 0o111 != 0)
}

fn install_hint() -> String {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        "apt-get install -y postgresql".to_owned()
    } else {
        "sudo apt-get install -y postgresql".to_owned()
    }
}

fn unprivileged_user() -> Result<RunAs, PgClusterError> {
    ["postgres", "nobody"].into_iter().find_map(lookup_user).ok_or(PgClusterError::NoUnprivilegedUser)
}

/// getpwnam_r rather than getpwnam: tests start clusters from several threads at once and
/// getpwnam returns a pointer into shared static storage.
fn lookup_user(name: &str) -> Option<RunAs> {
    let cname = CString::new(name).ok()?;
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: passwd is plain old data; getpwnam_r fills it in on success.
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the duration of the call and buf's length is passed.
    let rc = unsafe { libc::getpwnam_r(cname.as_ptr(), &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result) };
    if rc != 0 || result.is_null() {
        return None;
    }
    Some(RunAs { uid: pwd.pw_uid, gid: pwd.pw_gid })
}

/// Works out (and creates) the directory that holds the cluster, owned by whoever runs the
/// Postgres tools.
fn resolve_cluster_dir(requested: &Path, run_as: Option<RunAs>) -> Result<PathBuf, PgClusterError> {
    let dir_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| PgClusterError::Dir { path, source }
    };
    fs::create_dir_all(requested).map_err(dir_err(requested))?;
    let canonical = fs::canonicalize(requested).map_err(dir_err(requested))?;
    let pointer = canonical.join(CLUSTER_PATH_FILE);

    let cluster_dir = match fs::read_to_string(&pointer) {
        Ok(recorded) if !recorded.trim().is_empty() => PathBuf::from(recorded.trim()),
        Ok(_) => canonical.clone(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => match run_as {
            Some(user) if !ancestors_traversable(&canonical, user).map_err(dir_err(&canonical))? => {
                let redirected = redirect_dir(&canonical);
                fs::write(&pointer, format!("{}\n", redirected.display())).map_err(dir_err(&pointer))?;
                tracing::info!(
                    requested = %canonical.display(),
                    cluster = %redirected.display(),
                    "the postgres user cannot reach the requested directory; the cluster lives elsewhere"
                );
                redirected
            }
            _ => canonical.clone(),
        },
        Err(e) => return Err(dir_err(&pointer)(e)),
    };

    fs::create_dir_all(&cluster_dir).map_err(dir_err(&cluster_dir))?;
    if let Some(user) = run_as {
        let owner = fs::metadata(&cluster_dir).map_err(dir_err(&cluster_dir))?.uid();
        if owner != user.uid {
            chown_tree(&cluster_dir, user).map_err(dir_err(&cluster_dir))?;
        }
    }
    Ok(cluster_dir)
}

/// Whether `user` can walk down to `dir` (the directory itself is handed to the user
/// separately). Only the primary group counts: std drops supplementary groups when it
/// switches uid.
fn ancestors_traversable(dir: &Path, user: RunAs) -> io::Result<bool> {
    for ancestor in dir.ancestors().skip(1) {
        let meta = fs::metadata(ancestor)?;
        let bit = if meta.uid() == user.uid {
            0o100
        } else if meta.gid() == user.gid {
            0o010
        } else {
            0o001
        };
        if meta.mode() & bit == 0 {
            return Ok(false);
        }
    }
    Ok(true)
}

fn redirect_dir(canonical: &Path) -> PathBuf {
    PathBuf::from(format!("{REDIRECT_PREFIX}{:016x}", fnv1a64(canonical.as_os_str().as_bytes())))
}

/// FNV-1a: stable across Rust releases (unlike std's DefaultHasher), so the redirect path
/// stays the same even if `CLUSTER_PATH` is lost.
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

fn chown_tree(path: &Path, user: RunAs) -> io::Result<()> {
    let cpath = CString::new(path.as_os_str().as_bytes())?;
    // SAFETY: cpath is a valid NUL-terminated string for the duration of the call.
    if unsafe { libc::lchown(cpath.as_ptr(), user.uid, user.gid) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if fs::symlink_metadata(path)?.is_dir() {
        for entry in fs::read_dir(path)? {
            chown_tree(&entry?.path(), user)?;
        }
    }
    Ok(())
}

/// Reads `postmaster.pid`: line 1 pid, 4 port, 6 listen addresses, 8 status.
fn inspect_postmaster(dir: &Path) -> Postmaster {
    let Ok(contents) = fs::read_to_string(dir.join(PID_FILE)) else {
        return Postmaster::Absent;
    };
    let lines: Vec<&str> = contents.lines().map(str::trim).collect();
    let Some(pid) = lines.first().and_then(|l| l.parse::<i32>().ok()) else {
        return Postmaster::Stale;
    };
    if !postgres_alive(pid) {
        return Postmaster::Stale;
    }
    Postmaster::Running(RunningPostmaster {
        pid,
        port: lines.get(3).and_then(|l| l.parse().ok()).unwrap_or(0),
        listen: lines.get(5).map(|l| (*l).to_owned()).unwrap_or_default(),
        ready: lines.get(7).is_some_and(|l| *l == "ready"),
    })
}

/// True when `pid` exists and is a postgres process, not an unrelated one that inherited
/// the pid of a postmaster that died uncleanly.
fn postgres_alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 performs only the existence and permission checks.
    let exists = unsafe { libc::kill(pid, 0) } == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    if !exists {
        return false;
    }
    // A postmaster that died but was not yet reaped (containers whose init does not reap)
    // still answers kill(0): /proc/<pid>/stat says Z for it.
    let zombie = fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| stat.rsplit_once(')').map(|(_, rest)| rest.trim_start().starts_with('Z')))
        .unwrap_or(false);
    match fs::read(format!("/proc/{pid}/comm")) {
        Ok(comm) => !zombie && String::from_utf8_lossy(&comm).contains("postgres"),
        // Without procfs, existence is the best evidence there is.
        Err(_) => true,
    }
}

fn remove_stale_lock_files(dir: &Path) -> Result<(), PgClusterError> {
    let remove = |path: PathBuf| match fs::remove_file(&path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(PgClusterError::Dir { path, source: e }),
        _ => Ok(()),
    };
    remove(dir.join(PID_FILE))?;
    // The socket and its lock file carry the dead postmaster's pid too.
    for entry in fs::read_dir(dir)?.filter_map(Result::ok) {
        if entry.file_name().to_string_lossy().starts_with(".s.PGSQL.") {
            remove(entry.path())?;
        }
    }
    Ok(())
}

/// The `-k` value, shell-quoted because pg_ctl hands `-o` to /bin/sh. A cluster path too long
/// for a unix socket gets no socket at all: everything connects over TCP anyway.
fn socket_dir_option(dir: &Path) -> String {
    let longest_socket = dir.as_os_str().len() + "/.s.PGSQL.65535".len();
    if longest_socket > MAX_SOCKET_PATH { "''".to_owned() } else { shell_quote(&dir.to_string_lossy()) }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}

fn read_from(path: &Path, offset: u64) -> String {
    let mut text = Vec::new();
    if let Ok(mut file) = fs::File::open(path) {
        // A log shorter than the offset was replaced; then all of it is new.
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        let _ = file.seek(SeekFrom::Start(if len < offset { 0 } else { offset }));
        let _ = file.read_to_end(&mut text);
    }
    String::from_utf8_lossy(&text).into_owned()
}

fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    if lines.is_empty() {
        return "(nothing new in the log)".to_owned();
    }
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn describe_output(what: &str, out: &Output) -> String {
    format!(
        "{what} exited with {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
    .trim_end()
    .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// A scratch directory removed at the end of the test, whatever its outcome.
    struct Scratch(Vec<PathBuf>);

    impl Scratch {
        fn new(name: &str) -> (Scratch, PathBuf) {
            static COUNTER: AtomicU32 = AtomicU32::new(0);
            let dir = std::env::temp_dir().join(format!(
                "parley-pg-test-{name}-{}-{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = fs::remove_dir_all(&dir);
            (Scratch(vec![dir.clone()]), dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            for dir in &self.0 {
                let _ = fs::remove_dir_all(dir);
            }
        }
    }

    fn query_i64(url: &str, sql: &str) -> i64 {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                .await
                .unwrap_or_else(|e| panic!("connect {url}: {e}"));
            tokio::spawn(connection);
            client.query_one(sql, &[]).await.unwrap().get(0)
        })
    }

    fn execute(url: &str, sql: &str) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
            tokio::spawn(connection);
            client.batch_execute(sql).await.unwrap();
        })
    }

    #[test]
    fn starts_serves_stops_and_restarts_on_the_same_cluster() {
        let (_scratch, dir) = Scratch::new("restart");
        let mut pg = PgCluster::start(&dir, None).unwrap();
        assert_eq!(pg.url("postgres"), format!("postgres://postgres@127.0.0.1:{}/postgres", pg.port()));
        assert_eq!(query_i64(&pg.url("postgres"), "SELECT 1::int8"), 1);
        execute(&pg.url("postgres"), "CREATE TABLE kept (v int8); INSERT INTO kept VALUES (42);");
        pg.stop().unwrap();
        pg.stop().unwrap();
        assert!(!pg.data_dir().join(PID_FILE).exists());

        let port = free_port().unwrap();
        let mut pg = PgCluster::start(&dir, Some(port)).unwrap();
        assert_eq!(pg.port(), port);
        assert_eq!(query_i64(&pg.url("postgres"), "SELECT v FROM kept"), 42);
        pg.stop().unwrap();
        pg.stop_immediate();
    }

    #[test]
    fn adopts_or_replaces_a_server_left_running() {
        let (_scratch, dir) = Scratch::new("leftover");
        let mut first = PgCluster::start(&dir, None).unwrap();

        let pid_of = |pg: &PgCluster| match inspect_postmaster(pg.data_dir()) {
            Postmaster::Running(found) => found.pid,
            other => panic!("no running postmaster: {other:?}"),
        };
        let first_pid = pid_of(&first);

        let mut same_port = PgCluster::start(&dir, Some(first.port())).unwrap();
        assert_eq!(same_port.port(), first.port());
        assert_eq!(pid_of(&same_port), first_pid, "the running server is adopted, not restarted");
        assert_eq!(query_i64(&same_port.url("postgres"), "SELECT 2::int8"), 2);

        let other = free_port().unwrap();
        let mut moved = PgCluster::start(&dir, Some(other)).unwrap();
        assert_eq!(moved.port(), other);
        assert_ne!(pid_of(&moved), first_pid, "a server on the wrong port is replaced");
        assert_eq!(query_i64(&moved.url("postgres"), "SELECT 3::int8"), 3);

        moved.stop().unwrap();
        // The others' server is already gone: stopping them again is not an error.
        same_port.stop().unwrap();
        first.stop().unwrap();
    }

    #[test]
    fn clears_a_stale_pid_file() {
        let (_scratch, dir) = Scratch::new("stale");
        let mut pg = PgCluster::start(&dir, None).unwrap();
        let pid_file = pg.data_dir().join(PID_FILE);
        let contents = fs::read_to_string(&pid_file).unwrap();
        pg.stop_immediate();
        // Our own pid stands for a dead postmaster's pid reused by an unrelated process.
        let mut lines: Vec<String> = contents.lines().map(str::to_owned).collect();
        lines[0] = std::process::id().to_string();
        fs::write(&pid_file, lines.join("\n") + "\n").unwrap();
        assert_eq!(inspect_postmaster(pg.data_dir()), Postmaster::Stale);

        let mut pg = PgCluster::start(&dir, None).unwrap();
        assert_eq!(query_i64(&pg.url("postgres"), "SELECT 4::int8"), 4);
        pg.stop().unwrap();
    }

    #[test]
    fn as_root_moves_a_cluster_the_postgres_user_cannot_reach() {
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            return;
        }
        let (mut scratch, base) = Scratch::new("private");
        fs::create_dir_all(&base).unwrap();
        fs::set_permissions(&base, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
        let requested = base.join("pg");
        let expected = redirect_dir(&fs::canonicalize(&base).unwrap().join("pg"));
        scratch.0.push(expected.clone());
        let _ = fs::remove_dir_all(&expected);

        let mut pg = PgCluster::start(&requested, None).unwrap();
        assert_eq!(pg.data_dir(), expected);
        assert_eq!(fs::read_to_string(requested.join(CLUSTER_PATH_FILE)).unwrap().trim(), expected.to_string_lossy());
        execute(&pg.url("postgres"), "CREATE TABLE kept (v int8); INSERT INTO kept VALUES (7);");
        pg.stop().unwrap();

        let mut pg = PgCluster::start(&requested, None).unwrap();
        assert_eq!(pg.data_dir(), expected);
        assert_eq!(query_i64(&pg.url("postgres"), "SELECT v FROM kept"), 7);
        pg.stop().unwrap();
    }

    #[test]
    fn start_failure_reports_the_log_tail() {
        let (_scratch, dir) = Scratch::new("taken");
        let taken = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = taken.local_addr().unwrap().port();
        let err = PgCluster::start(&dir, Some(port)).unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, PgClusterError::Start(_)), "{message}");
        assert!(message.contains("could not bind"), "{message}");
        assert_eq!(inspect_postmaster(&dir), Postmaster::Absent);
    }

    #[test]
    fn missing_binaries_error_names_the_install_command() {
        let e = PgClusterError::BinariesNotFound { hint: install_hint() };
        assert!(e.to_string().contains("apt-get install -y postgresql"), "{e}");
    }

    #[test]
    fn helpers() {
        assert_eq!(shell_quote("/a b/it's"), r"'/a b/it'\''s'");
        assert_eq!(socket_dir_option(Path::new(&"/x".repeat(60))), "''");
        assert_eq!(tail_lines("1\n2\n3\n", 2), "2\n3");
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(redirect_dir(Path::new("/root/p")).to_string_lossy().len(), REDIRECT_PREFIX.len() + 16);
    }
}
