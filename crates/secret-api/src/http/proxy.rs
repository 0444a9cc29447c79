//! The client address recorded in audit records behind a load balancer: `X-Forwarded-For`
//! counts only when the peer is a configured trusted proxy, and then only as far as the
//! chain of trusted proxies goes (each appends the address it was reached from, so the
//! rightmost address not of a trusted proxy is the client; what lies left of it was written
//! by the client and proves nothing).

use std::net::IpAddr;
use std::str::FromStr;

use actix_web::http::header::HeaderMap;

/// An address block, `10.0.0.0/8` or `2001:db8::/32` (a bare address is its own block).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (s, None),
        };
        let network: IpAddr = addr
            .parse()
            .map_err(|_| format!("'{s}' is not an IP address or CIDR block"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("'{s}': the prefix length must be 0 to {max}"))?,
        };
        Ok(Cidr { network, prefix })
    }
}

impl Cidr {
    /// Whether `ip` lies in this block.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                prefix_eq(&net.octets(), &ip.octets(), self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_eq(&net.octets(), &ip.octets(), self.prefix)
            }
            _ => false,
        }
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn prefix_eq(a: &[u8], b: &[u8], prefix: u8) -> bool {
    let full = usize::from(prefix / 8);
    if a[..full] != b[..full] {
        return false;
    }
    let rest = prefix % 8;
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    (a[full] & mask) == (b[full] & mask)
}

/// Parses a comma-separated list of blocks (the `--trusted-proxies` setting).
pub fn parse_cidrs(list: &str) -> Result<Vec<Cidr>, String> {
    list.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(Cidr::from_str)
        .collect()
}

/// The client's address: the peer's, unless the peer is a trusted proxy, in which case the
/// rightmost `X-Forwarded-For` address that is not a trusted proxy (or the leftmost one,
/// when all are). A malformed entry stops the walk at the last address known good.
pub(crate) fn client_ip(
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    trusted: &[Cidr],
) -> Option<IpAddr> {
    let peer = peer.map(canonical)?;
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(peer) {
        return Some(peer);
    }
    let mut client = peer;
    let hops = headers
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect::<Vec<_>>();
    for hop in hops.iter().rev() {
        let Ok(ip) = hop.trim().parse::<IpAddr>() else {
            break;
        };
        client = canonical(ip);
        if !is_trusted(client) {
            break;
        }
    }
    Some(client)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append(
                HeaderName::from_static("x-forwarded-for"),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn blocks_parse_and_match_by_prefix() {
        let c: Cidr = "10.1.0.0/16".parse().unwrap();
        assert!(c.contains(ip("10.1.200.3")));
        assert!(!c.contains(ip("10.2.0.1")));
        assert!(c.contains(ip("::ffff:10.1.0.9")));
        let odd: Cidr = "192.168.4.0/22".parse().unwrap();
        assert!(odd.contains(ip("192.168.7.255")));
        assert!(!odd.contains(ip("192.168.8.0")));
        let v6: Cidr = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains(ip("2001:db8:1::1")));
        assert!(!v6.contains(ip("10.1.0.1")));
        let one: Cidr = "127.0.0.1".parse().unwrap();
        assert!(one.contains(ip("127.0.0.1")) && !one.contains(ip("127.0.0.2")));
        assert!("0.0.0.0/0".parse::<Cidr>().unwrap().contains(ip("8.8.8.8")));
    }

    #[test]
    fn malformed_blocks_are_refused_with_the_reason() {
        assert!(
            "10.0.0.0/33"
                .parse::<Cidr>()
                .unwrap_err()
                .contains("0 to 32")
        );
        assert!("nope".parse::<Cidr>().unwrap_err().contains("not an IP"));
        assert!(parse_cidrs("10.0.0.0/8, fe80::/10").unwrap().len() == 2);
        assert!(parse_cidrs("10.0.0.0/8,bad").is_err());
    }

    #[test]
    fn forwarded_for_counts_only_from_a_trusted_peer() {
        let trusted = parse_cidrs("10.0.0.0/8").unwrap();
        let h = headers(&["203.0.113.7"]);
        // An untrusted peer's header is ignored.
        assert_eq!(
            client_ip(Some(ip("198.51.100.1")), &h, &trusted),
            Some(ip("198.51.100.1"))
        );
        // A trusted proxy's is believed.
        assert_eq!(
            client_ip(Some(ip("10.0.0.5")), &h, &trusted),
            Some(ip("203.0.113.7"))
        );
        // Without any trusted proxy, never.
        assert_eq!(
            client_ip(Some(ip("10.0.0.5")), &h, &[]),
            Some(ip("10.0.0.5"))
        );
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client_whatever_the_client_wrote() {
        let trusted = parse_cidrs("10.0.0.0/8").unwrap();
        // The client forged 1.1.1.1; the edge proxy appended the real address, then an
        // inner proxy appended the edge's.
        let h = headers(&["1.1.1.1, 203.0.113.7", "10.0.0.9"]);
        assert_eq!(
            client_ip(Some(ip("10.0.0.5")), &h, &trusted),
            Some(ip("203.0.113.7"))
        );
        // Garbage stops the walk at the last good hop.
        let h = headers(&["203.0.113.7, garbage, 10.0.0.9"]);
        assert_eq!(
            client_ip(Some(ip("10.0.0.5")), &h, &trusted),
            Some(ip("10.0.0.9"))
        );
        // All hops trusted: the leftmost.
        let h = headers(&["10.0.0.1, 10.0.0.2"]);
        assert_eq!(
            client_ip(Some(ip("10.0.0.5")), &h, &trusted),
            Some(ip("10.0.0.1"))
        );
    }
}
