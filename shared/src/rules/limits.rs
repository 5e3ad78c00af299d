//! Limits kept in the database so they hold across every connection, node and the edge: the
//! per-user send limit, login attempts (per account and address, per account, per address) and
//! the other costly requests (registrations per address; group creations, uploads, friend
//! requests and searches per user). All are GCRA (the generic cell rate algorithm): one
//! timestamp per key, read under a row lock by the transaction that spends it (`send_limits`,
//! `rate_limits`); this module decides.

use std::net::IpAddr;

use chrono::Duration;

use crate::error::{ApiError, ErrorCode};
use crate::time::Timestamp;

/// Sends per second a user may make, sustained, and how many at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserRate {
    /// Sustained sends per second (0: no limit).
    pub per_sec: u32,
    /// Sends allowed at once beyond the sustained rate.
    pub burst: u32,
}

impl Default for UserRate {
    /// 100 per second, bursts of 200.
    fn default() -> Self {
        UserRate { per_sec: 100, burst: 200 }
    }
}

/// Admits one send at `now` given the user's theoretical arrival time `tat`: the new `tat`, or
/// 429 with the seconds to wait.
pub fn admit(tat: Option<Timestamp>, now: Timestamp, rate: UserRate) -> Result<Timestamp, ApiError> {
    if rate.per_sec == 0 {
        return Ok(now);
    }
    let every = Duration::microseconds(1_000_000 / i64::from(rate.per_sec));
    admit_slow(tat, now, Slow { every, burst: rate.burst })
        .map_err(|wait| rate_limited("too many messages: slow down".into(), wait))
}

/// The contract's 429 with `Retry-After`.
fn rate_limited(message: String, wait_secs: u64) -> ApiError {
    let mut e = ApiError::new(ErrorCode::RateLimited, message);
    e.retry_after = Some(wait_secs);
    e
}

/// A slow rate: one attempt per `every` sustained, `burst` at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slow {
    /// Time per attempt, sustained.
    pub every: Duration,
    /// Attempts allowed at once.
    pub burst: u32,
}

/// Login attempts from one address for one account: 5 at once, then one per 30 s. Tight,
/// because it is the guessing that matters and it locks out no one but the guesser.
pub const LOGIN_PER_ACCOUNT_AND_ADDRESS: Slow = Slow { every: Duration::seconds(30), burst: 5 };
/// Login attempts for one account from anywhere: 20 at once, then 10 a minute. Looser, so that
/// guessing from many addresses cannot keep the real user out for more than seconds at a time.
pub const LOGIN_PER_ACCOUNT: Slow = Slow { every: Duration::seconds(6), burst: 20 };
/// Login attempts from one address for any account (spraying usernames): 30 at once, then 30 a
/// minute.
pub const LOGIN_PER_ADDRESS: Slow = Slow { every: Duration::seconds(2), burst: 30 };

/// What a login attempt spends from: the account's keys (forgiven when the login succeeds) and
/// the address's. Keys name their kind, so they cannot collide.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginKeys {
    /// Per account and address, per account.
    pub account: Vec<(String, Slow)>,
    /// Per address.
    pub address: Vec<(String, Slow)>,
}

impl LoginKeys {
    /// Every key.
    pub fn all(&self) -> Vec<(String, Slow)> {
        self.account.iter().chain(&self.address).cloned().collect()
    }
}

/// The keys of a login attempt for `username` (normalised; `None` when it is not a valid one)
/// from `client`, when the host knows the address.
pub fn login_keys(username: Option<&str>, client: Option<IpAddr>) -> LoginKeys {
    let mut account = Vec::with_capacity(2);
    if let Some(u) = username {
        if let Some(ip) = client {
            account.push((format!("login:{u}@{ip}"), LOGIN_PER_ACCOUNT_AND_ADDRESS));
        }
        account.push((format!("login:{u}"), LOGIN_PER_ACCOUNT));
    }
    let address = client.map(|ip| (format!("login@{ip}"), LOGIN_PER_ADDRESS)).into_iter().collect();
    LoginKeys { account, address }
}

/// GCRA: admits one attempt at `now` given the key's theoretical arrival time: the new one, or
/// `Err(seconds to wait)`. Every limit here goes through it.
pub fn admit_slow(tat: Option<Timestamp>, now: Timestamp, rate: Slow) -> Result<Timestamp, u64> {
    let tolerance = rate.every * rate.burst.max(1) as i32;
    let base = tat.map_or(now.0, |t| t.0.max(now.0));
    let next = base + rate.every;
    let ahead = next - now.0;
    if ahead > tolerance {
        let wait = (ahead - tolerance).num_milliseconds().max(1);
        return Err(((wait + 999) / 1000) as u64);
    }
    Ok(Timestamp(next))
}

/// A costly request other than a login, limited per user (or per address for registration).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Costly {
    /// `POST /v1/auth/register`, per address: 10 at once, then one a minute.
    Register,
    /// `POST /v1/groups`, per user: 10 at once, then one a minute.
    CreateGroup,
    /// `POST /v1/media`, per user: 60 at once, then one per second.
    CreateMedia,
    /// `POST /v1/friends/requests`, per user: 30 at once, then one per 10 s.
    FriendRequest,
    /// `GET /v1/search/messages`, per user: 30 at once, then two per second.
    Search,
}

impl Costly {
    /// Its rate.
    pub fn rate(self) -> Slow {
        match self {
            Costly::Register => Slow { every: Duration::seconds(60), burst: 10 },
            Costly::CreateGroup => Slow { every: Duration::seconds(60), burst: 10 },
            Costly::CreateMedia => Slow { every: Duration::seconds(1), burst: 60 },
            Costly::FriendRequest => Slow { every: Duration::seconds(10), burst: 30 },
            Costly::Search => Slow { every: Duration::milliseconds(500), burst: 30 },
        }
    }

    /// Its key for `who` (a user id, or an address for [`Costly::Register`]).
    pub fn key(self, who: impl std::fmt::Display) -> (String, Slow) {
        let kind = match self {
            Costly::Register => "register",
            Costly::CreateGroup => "groups",
            Costly::CreateMedia => "media",
            Costly::FriendRequest => "friend_requests",
            Costly::Search => "search",
        };
        (format!("{kind}:{who}"), self.rate())
    }

    /// The 429 once over the rate.
    pub fn refused(self, wait_secs: u64) -> ApiError {
        let what = match self {
            Costly::Register => "accounts registered from this address",
            Costly::CreateGroup => "groups created",
            Costly::CreateMedia => "uploads started",
            Costly::FriendRequest => "friend requests sent",
            Costly::Search => "searches",
        };
        rate_limited(format!("too many {what}: try again in {wait_secs} s"), wait_secs)
    }
}

/// The 429 for too many login attempts.
pub fn login_refused(wait_secs: u64) -> ApiError {
    rate_limited(format!("too many login attempts: try again in {wait_secs} s"), wait_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_sustained_rate() {
        let rate = UserRate { per_sec: 10, burst: 5 };
        let now = Timestamp::now();
        let mut tat = None;
        for i in 0..5 {
            tat = Some(admit(tat, now, rate).unwrap_or_else(|e| panic!("send {i}: {e}")));
        }
        let e = admit(tat, now, rate).unwrap_err();
        assert_eq!(e.code, ErrorCode::RateLimited);
        assert_eq!(e.retry_after, Some(1));
        // 100 ms later one more fits: the sustained rate.
        let later = Timestamp(now.0 + Duration::milliseconds(100));
        let t = admit(tat, later, rate).unwrap();
        assert!(admit(Some(t), later, rate).is_err());
        // After a quiet second the whole burst is back.
        let quiet = Timestamp(now.0 + Duration::seconds(2));
        let mut tat = Some(t);
        for _ in 0..5 {
            tat = Some(admit(tat, quiet, rate).unwrap());
        }
        assert!(admit(tat, quiet, UserRate { per_sec: 0, burst: 0 }).is_ok(), "0: unlimited");
    }

    #[test]
    fn logins_slow_a_guesser_without_locking_the_user_out() {
        let now = Timestamp::now();
        let rate = LOGIN_PER_ACCOUNT_AND_ADDRESS;
        let mut tat = None;
        for i in 0..5 {
            tat = Some(admit_slow(tat, now, rate).unwrap_or_else(|w| panic!("attempt {i} refused, wait {w}")));
        }
        assert_eq!(admit_slow(tat, now, rate), Err(30), "the sixth at once waits one interval");
        // Time heals: 30 s later one more, never a permanent lock.
        let later = Timestamp(now.0 + Duration::seconds(30));
        assert!(admit_slow(tat, later, rate).is_ok());
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        let keys: Vec<String> = login_keys(Some("alice"), Some(ip)).all().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["login:alice@203.0.113.9", "login:alice", "login@203.0.113.9"]);
        assert_eq!(login_keys(None, Some(ip)).all().len(), 1, "an invalid username still spends the address");
        assert_eq!(login_keys(Some("alice"), None).all().len(), 1);
    }
}
