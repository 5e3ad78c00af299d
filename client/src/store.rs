//! The CLI's session file: base URL, endpoints and tokens, in
//! `$XDG_CONFIG_HOME/parley/session.json` (or `~/.config/parley/`), mode 0600.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::auth::{CredentialStore, Credentials};
use crate::error::{Error, Result};

/// What `parley login` keeps.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredSession {
    /// REST base URL.
    pub server: String,
    /// Realtime endpoints given at login (`ws://`, `quic://`); empty = derived from `server`.
    #[serde(default)]
    pub nodes: Vec<String>,
    /// `ws` or `quic`, if chosen at login.
    #[serde(default)]
    pub transport: Option<String>,
    /// Pinned QUIC certificate fingerprint, if given at login.
    #[serde(default)]
    pub quic_cert_sha256: Option<String>,
    /// Tokens and user.
    pub credentials: Credentials,
}

/// The config directory holding `session.json`.
#[derive(Clone, Debug)]
pub struct SessionFile {
    dir: PathBuf,
}

impl SessionFile {
    /// `$XDG_CONFIG_HOME/parley`, else `$HOME/.config/parley`.
    pub fn default_dir() -> Option<PathBuf> {
        if let Some(x) = std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
            return Some(PathBuf::from(x).join("parley"));
        }
        std::env::var_os("HOME").filter(|v| !v.is_empty()).map(|h| PathBuf::from(h).join(".config").join("parley"))
    }

    /// The file in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> SessionFile {
        SessionFile { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `<dir>/session.json`.
    pub fn path(&self) -> PathBuf {
        self.dir.join("session.json")
    }

    /// The stored session, `None` when there is none.
    pub fn load(&self) -> Result<Option<StoredSession>> {
        let text = match fs::read_to_string(self.path()) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::Io(format!("reading {}: {e}", self.path().display()))),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| Error::Io(format!("{} is damaged: {e}", self.path().display())))
    }

    /// Writes atomically (temp file, then rename), readable by the owner only.
    pub fn save(&self, s: &StoredSession) -> Result<()> {
        fs::create_dir_all(&self.dir).map_err(|e| Error::Io(format!("creating {}: {e}", self.dir.display())))?;
        let _ = fs::set_permissions(&self.dir, fs::Permissions::from_mode(0o700));
        let tmp = self.dir.join(format!(".session.json.{}", std::process::id()));
        let json = serde_json::to_vec_pretty(s).map_err(|e| Error::Io(e.to_string()))?;
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| Error::Io(format!("writing {}: {e}", tmp.display())))?;
        f.write_all(&json)?;
        f.sync_all()?;
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o600))?;
        fs::rename(&tmp, self.path()).map_err(|e| Error::Io(format!("replacing {}: {e}", self.path().display())))?;
        Ok(())
    }

    /// Deletes the session (logout).
    pub fn remove(&self) -> Result<()> {
        match fs::remove_file(self.path()) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// An exclusive advisory lock on `<dir>/session.lock`, held until the guard drops.
    pub fn lock(&self) -> Result<FileLock> {
        fs::create_dir_all(&self.dir)?;
        let f = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(self.dir.join("session.lock"))?;
        use std::os::fd::AsRawFd;
        // SAFETY: flock on a descriptor we own; it is released when the file closes.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(std::io::Error::last_os_error().into());
        }
        Ok(FileLock { _file: f })
    }
}

/// A held [`SessionFile::lock`].
pub struct FileLock {
    _file: fs::File,
}

impl CredentialStore for SessionFile {
    fn load(&self) -> Option<Credentials> {
        SessionFile::load(self).ok().flatten().map(|s| s.credentials)
    }

    fn save(&self, creds: &Credentials) -> Result<()> {
        let Some(mut s) = SessionFile::load(self)? else {
            return Err(Error::Io("the session file disappeared (logged out?)".into()));
        };
        s.credentials = creds.clone();
        SessionFile::save(self, &s)
    }

    fn lock(&self) -> Result<Box<dyn Send>> {
        Ok(Box::new(SessionFile::lock(self)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_shared::ids::{SessionId, UserId};
    use parley_shared::model::User;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("parley-client-store-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn round_trip_with_owner_only_permissions() {
        let dir = scratch("rt");
        let file = SessionFile::new(dir.join("parley"));
        assert_eq!(file.load().unwrap(), None);
        let creds = Credentials {
            user: User {
                id: UserId::new(),
                username: "alice".into(),
                display_name: "Alice".into(),
                bio: None,
                created_at: serde_json::from_str("\"2026-11-22T10:00:00.123Z\"").unwrap(),
                deleted: false,
                avatar_media_id: None,
            },
            session_id: SessionId::new(),
            access_token: "a.b.c".into(),
            refresh_token: "r1".into(),
            access_expires_at: 1_900_000_000,
        };
        let s = StoredSession {
            server: "http://127.0.0.1:8080".into(),
            nodes: vec!["quic://127.0.0.1:4433".into()],
            transport: Some("quic".into()),
            quic_cert_sha256: Some("ab".repeat(32)),
            credentials: creds.clone(),
        };
        file.save(&s).unwrap();
        assert_eq!(file.load().unwrap(), Some(s.clone()));
        let mode = fs::metadata(file.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // The credential-store view replaces only the tokens.
        let mut newer = creds.clone();
        newer.refresh_token = "r2".into();
        let _guard = CredentialStore::lock(&file).unwrap();
        CredentialStore::save(&file, &newer).unwrap();
        assert_eq!(CredentialStore::load(&file), Some(newer.clone()));
        assert_eq!(file.load().unwrap().unwrap().nodes, s.nodes);
        file.remove().unwrap();
        file.remove().unwrap();
        assert_eq!(file.load().unwrap(), None);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn default_dir_follows_xdg() {
        // Only checks the shape; the environment is the test process's.
        if let Some(d) = SessionFile::default_dir() {
            assert!(d.ends_with("parley"));
        }
    }
}
