//! Per-client-address rate limits on the REST routes (GCRA, `governor`), so a flood gets the
//! contract's 429 `rate_limited` with `Retry-After` instead of eating the database and the
//! argon2 budget. Auth routes (register, login, refresh) have their own, tighter limit: each
//! login costs an argon2id hash. Socket frames are limited per connection in the session core.
//! Behind a load balancer the client address comes from `X-Forwarded-For`, as far as the proxies
//! named by `--trusted-proxies` wrote it (`rules::forwarded`).

use std::net::IpAddr;
use std::num::NonZeroU32;

use clap::Args;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use parley_shared::rules::forwarded::{self, TrustedProxies};

/// Rate-limit flags of `serve` (requests per second per client address, and bursts).
#[derive(Debug, Args, Clone)]
pub struct LimitArgs {
    /// Sustained REST requests per second per client address.
    #[arg(long, env = "PARLEY_REST_RATE", default_value_t = 50)]
    pub rest_rate: u32,
    /// REST requests a client address may send at once.
    #[arg(long, env = "PARLEY_REST_BURST", default_value_t = 200)]
    pub rest_burst: u32,
    /// Sustained auth requests (register, login, refresh) per second per client address.
    #[arg(long, env = "PARLEY_AUTH_RATE", default_value_t = 5)]
    pub auth_rate: u32,
    /// Auth requests a client address may send at once.
    #[arg(long, env = "PARLEY_AUTH_BURST", default_value_t = 20)]
    pub auth_burst: u32,
    /// Limit costly requests per user and address (registrations, group creations, uploads,
    /// friend requests, searches; `rules::limits::Costly`). `false` only for load tests whose
    /// clients all share one address.
    #[arg(long, env = "PARLEY_COSTLY_LIMITS", default_value_t = true, action = clap::ArgAction::Set)]
    pub costly_limits: bool,
    /// Proxies (addresses or CIDR networks, comma-separated) whose `X-Forwarded-For` names the
    /// client: the load balancer in front of the nodes. Empty: the peer address is the client's.
    #[arg(long, env = "PARLEY_TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: TrustedProxies,
}

impl Default for LimitArgs {
    fn default() -> Self {
        Self {
            rest_rate: 50,
            rest_burst: 200,
            auth_rate: 5,
            auth_burst: 20,
            costly_limits: true,
            trusted_proxies: TrustedProxies::default(),
        }
    }
}

/// The node's REST limiters, keyed by client address.
pub struct RestLimiter {
    rest: DefaultKeyedRateLimiter<IpAddr>,
    auth: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
    trusted_proxies: TrustedProxies,
}

fn quota(rate: u32, burst: u32) -> Quota {
    let one = NonZeroU32::MIN;
    Quota::per_second(NonZeroU32::new(rate).unwrap_or(one)).allow_burst(NonZeroU32::new(burst).unwrap_or(one))
}

impl RestLimiter {
    /// Limiters with these quotas.
    pub fn new(cfg: &LimitArgs) -> Self {
        Self {
            rest: RateLimiter::keyed(quota(cfg.rest_rate, cfg.rest_burst)),
            auth: RateLimiter::keyed(quota(cfg.auth_rate, cfg.auth_burst)),
            clock: DefaultClock::default(),
            trusted_proxies: cfg.trusted_proxies.clone(),
        }
    }

    /// The client's address: `peer`, or behind trusted proxies the hop their `X-Forwarded-For`
    /// values name.
    pub fn client<'a>(&self, peer: IpAddr, forwarded_for: impl IntoIterator<Item = &'a str>) -> IpAddr {
        if self.trusted_proxies.is_empty() {
            return peer;
        }
        forwarded::client_address(peer, forwarded_for, &self.trusted_proxies)
    }

    /// `Err(seconds to wait)` when `ip` is over its limit for `path`.
    pub fn check(&self, ip: IpAddr, path: &str) -> Result<(), u64> {
        let limiter = if path.starts_with("/v1/auth/") && path != "/v1/auth/logout" { &self.auth } else { &self.rest };
        limiter.check_key(&ip).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }

    /// Forgets addresses that are back to a full burst, so the maps do not grow forever.
    pub fn forget_idle(&self) {
        self.rest.retain_recent();
        self.auth.retain_recent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_routes_have_their_own_tighter_budget() {
        let l = RestLimiter::new(&LimitArgs {
            rest_rate: 1,
            rest_burst: 3,
            auth_rate: 1,
            auth_burst: 1,
            ..LimitArgs::default()
        });
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(l.check(ip, "/v1/auth/login").is_ok());
        let wait = l.check(ip, "/v1/auth/login").unwrap_err();
        assert!((1..=2).contains(&wait), "{wait}");
        // The general budget is separate, and other addresses are unaffected.
        assert!(l.check(ip, "/v1/conversations").is_ok());
        assert!(l.check("192.0.2.2".parse().unwrap(), "/v1/auth/login").is_ok());
    }
}
