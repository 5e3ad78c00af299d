//! Which address a request comes from when it passed through proxies: `X-Forwarded-For` is
//! believed only as far as it was written by proxies the operator named, so a client cannot
//! escape its per-address limits (or pin them on someone else) by sending the header itself.

use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;

/// The proxies whose `X-Forwarded-For` entries are believed: addresses and networks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

/// A `--trusted-proxies` entry that is neither an address nor a network.
#[derive(Debug, thiserror::Error)]
#[error("not an IP address or network (CIDR): {0:?}")]
pub struct BadProxy(String);

impl FromStr for TrustedProxies {
    type Err = BadProxy;

    /// Comma-separated addresses (`10.0.0.7`, `::1`) and networks (`10.0.0.0/8`); empty: none.
    fn from_str(s: &str) -> Result<Self, BadProxy> {
        let mut nets = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let net = match part.parse::<IpNet>() {
                Ok(net) => net,
                Err(_) => IpNet::from(part.parse::<IpAddr>().map_err(|_| BadProxy(part.to_owned()))?),
            };
            nets.push(net);
        }
        Ok(TrustedProxies(nets))
    }
}

impl TrustedProxies {
    /// Whether `ip` is one of them.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|n| n.contains(&ip))
    }

    /// Whether none is configured (the header is then never read).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The client's address: the peer itself unless it is a trusted proxy; then, walking the
/// `X-Forwarded-For` values (`forwarded`, in header order) from the right, the first hop that is
/// not trusted. An entry that does not parse ends the walk at the last hop known good, so a
/// garbled header never yields an address a client chose.
pub fn client_address<'a>(
    peer: IpAddr,
    forwarded: impl IntoIterator<Item = &'a str>,
    trusted: &TrustedProxies,
) -> IpAddr {
    if !trusted.trusts(peer) {
        return peer;
    }
    let hops: Vec<&str> = forwarded.into_iter().flat_map(|v| v.split(',')).map(str::trim).collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Some(ip) = parse_hop(hop) else { return client };
        client = ip;
        if !trusted.trusts(ip) {
            return ip;
        }
    }
    client
}

/// `203.0.113.7`, `2001:db8::1`, `203.0.113.7:4711` or `[2001:db8::1]:4711`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>().ok().or_else(|| hop.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_header_counts_only_behind_trusted_proxies() {
        let lb: TrustedProxies = "10.0.0.0/8, 127.0.0.1".parse().unwrap();
        // Straight from a client: whatever it claims is ignored.
        assert_eq!(client_address(ip("198.51.100.9"), ["203.0.113.1"], &lb), ip("198.51.100.9"));
        // Through the load balancer: the hop it saw.
        assert_eq!(client_address(ip("10.1.2.3"), ["203.0.113.1"], &lb), ip("203.0.113.1"));
        // A client's own entry before the proxy's is not believed.
        assert_eq!(client_address(ip("10.1.2.3"), ["6.6.6.6, 203.0.113.1"], &lb), ip("203.0.113.1"));
        // Two trusted proxies in a row, over two header lines.
        assert_eq!(client_address(ip("127.0.0.1"), ["203.0.113.1", "10.9.9.9"], &lb), ip("203.0.113.1"));
        // Ports and brackets are fine; garbage stops at the last good hop.
        assert_eq!(client_address(ip("10.1.2.3"), ["[2001:db8::1]:4711"], &lb), ip("2001:db8::1"));
        assert_eq!(client_address(ip("10.1.2.3"), ["203.0.113.1, garbage"], &lb), ip("10.1.2.3"));
        // No header, or nothing configured.
        assert_eq!(client_address(ip("10.1.2.3"), [], &lb), ip("10.1.2.3"));
        let none = TrustedProxies::default();
        assert!(none.is_empty());
        assert_eq!(client_address(ip("10.1.2.3"), ["203.0.113.1"], &none), ip("10.1.2.3"));
        // Every hop trusted: the leftmost.
        assert_eq!(client_address(ip("10.0.0.1"), ["10.0.0.3, 10.0.0.2"], &lb), ip("10.0.0.3"));
    }

    #[test]
    fn proxies_parse_as_addresses_or_networks() {
        let t: TrustedProxies = " ::1 , 192.168.0.0/16,".parse().unwrap();
        assert!(t.trusts(ip("::1")) && t.trusts(ip("192.168.4.5")) && !t.trusts(ip("10.0.0.1")));
        assert!("10.0.0.0/33".parse::<TrustedProxies>().is_err());
        assert!("proxy.local".parse::<TrustedProxies>().is_err());
        assert!("".parse::<TrustedProxies>().unwrap().is_empty());
    }
}
