//! Who is asking: a request's client address, behind reverse proxies that are trusted by
//! configuration only, and the key that client is counted under.

use std::net::IpAddr;

/// A network: an address and a prefix length (`10.0.0.0/8` is `(10.0.0.0, 8)`).
pub type Net = (IpAddr, u8);

/// Is `ip` inside `net/bits`? An IPv4-mapped IPv6 address counts as its IPv4 address.
pub fn in_cidr(ip: IpAddr, (net, bits): Net) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX
                .checked_shl(32 - u32::from(bits.min(32)))
                .unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(bits.min(128)))
                .unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V4(_)) => a
            .to_ipv4_mapped()
            .is_some_and(|v4| in_cidr(IpAddr::V4(v4), (net, bits))),
        _ => false,
    }
}

/// The client of a request that came from `peer` carrying these `X-Forwarded-For`
/// values (every such header, in order). The header is read only when `peer` is one of
/// `proxies`; then from the right: each hop a trusted proxy added is skipped and the
/// right-most address no trusted proxy vouches for is the client. Whatever the client
/// wrote itself (the left part) is never believed. An entry that is not an address ends
/// the walk at the last trusted hop.
pub fn client_address(peer: IpAddr, forwarded_for: &[&str], proxies: &[Net]) -> IpAddr {
    let trusted = |ip: IpAddr| proxies.iter().any(|n| in_cidr(ip, *n));
    let mut client = peer;
    if !trusted(peer) {
        return client;
    }
    let hops = forwarded_for
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .collect::<Vec<_>>();
    for hop in hops.into_iter().rev() {
        let Some(ip) = parse_hop(hop) else {
            return client;
        };
        client = ip;
        if !trusted(ip) {
            break;
        }
    }
    client
}

/// `192.0.2.1`, `192.0.2.1:443`, `2001:db8::1` or `[2001:db8::1]:443`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse() {
        return Some(ip);
    }
    if let Some(rest) = hop.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    let (ip, _port) = hop.rsplit_once(':')?;
    ip.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

/// The key a client is counted under: the address for IPv4, the /64 for IPv6 (one host
/// holds a whole /64, so counting per address would let it fill any table).
pub fn client_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn networks() {
        let net = (ip("10.1.0.0"), 16);
        assert!(in_cidr(ip("10.1.2.3"), net));
        assert!(!in_cidr(ip("10.2.0.1"), net));
        assert!(in_cidr(ip("::ffff:10.1.0.9"), net));
        assert!(in_cidr(ip("8.8.8.8"), (ip("0.0.0.0"), 0)));
        assert!(in_cidr(ip("2001:db8::5"), (ip("2001:db8::"), 32)));
        assert!(!in_cidr(ip("2001:db9::5"), (ip("2001:db8::"), 32)));
        assert!(!in_cidr(ip("10.1.2.3"), (ip("2001:db8::"), 0)));
    }

    #[test]
    fn the_client_behind_trusted_proxies_only() {
        let local: &[Net] = &[(ip("127.0.0.1"), 32), (ip("::1"), 128)];
        let two: &[Net] = &[(ip("127.0.0.1"), 32), (ip("10.0.0.0"), 8)];
        let table: &[(&str, &[&str], &[Net], &str)] = &[
            // Not behind a proxy: the header is whatever the client wrote.
            ("203.0.113.5", &["1.2.3.4"], local, "203.0.113.5"),
            ("203.0.113.5", &[], local, "203.0.113.5"),
            // Behind the local proxy: the hop it added.
            ("127.0.0.1", &["198.51.100.7"], local, "198.51.100.7"),
            // The client forged entries on the left: the proxy's own hop wins.
            (
                "127.0.0.1",
                &["1.2.3.4, 5.6.7.8, 198.51.100.7"],
                local,
                "198.51.100.7",
            ),
            (
                "127.0.0.1",
                &["1.2.3.4", "198.51.100.7"],
                local,
                "198.51.100.7",
            ),
            // Two proxies: skip the inner one's hop.
            (
                "127.0.0.1",
                &["9.9.9.9, 198.51.100.7, 10.0.0.2"],
                two,
                "198.51.100.7",
            ),
            // A forged "trusted" address left of the real client does not help.
            (
                "127.0.0.1",
                &["10.0.0.9, 198.51.100.7"],
                two,
                "198.51.100.7",
            ),
            // Everything trusted: the left-most hop.
            ("127.0.0.1", &["10.0.0.3, 10.0.0.2"], two, "10.0.0.3"),
            // Junk ends the walk at the last trusted hop.
            ("127.0.0.1", &["198.51.100.7, nonsense"], local, "127.0.0.1"),
            ("127.0.0.1", &["[2001:db8::7]:4711"], local, "2001:db8::7"),
            ("127.0.0.1", &["198.51.100.7:4711"], local, "198.51.100.7"),
            ("::1", &["2001:db8::7"], local, "2001:db8::7"),
            // No proxies configured: never read.
            ("127.0.0.1", &["198.51.100.7"], &[], "127.0.0.1"),
        ];
        for (peer, xff, proxies, want) in table {
            assert_eq!(
                client_address(ip(peer), xff, proxies),
                ip(want),
                "{peer} {xff:?}"
            );
        }
    }

    #[test]
    fn keys() {
        assert_eq!(client_key(ip("192.0.2.1")), "192.0.2.1");
        assert_eq!(client_key(ip("::ffff:192.0.2.1")), "192.0.2.1");
        assert_eq!(
            client_key(ip("2001:db8:1:2:3:4:5:6")),
            client_key(ip("2001:db8:1:2::9"))
        );
        assert_ne!(
            client_key(ip("2001:db8:1:2::1")),
            client_key(ip("2001:db8:1:3::1"))
        );
    }
}
