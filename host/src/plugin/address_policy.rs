//! Which IP addresses a plugin's requests may reach.
//!
//! Only public unicast addresses. Everything else belongs to the machine the
//! host runs on or to the network around it (the host's own API on
//! loopback, a cloud metadata service on 169.254.169.254, a database on
//! 10.0.0.5), and a plugin written by someone else must not reach it just
//! because its manifest or a DNS answer says so. The operator may grant such
//! a host to one connection explicitly (a self-hosted ATS, a test mock).
//!
//! IPv6 forms that carry an IPv4 address (mapped `::ffff:a.b.c.d`,
//! compatible `::a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) are judged
//! by the IPv4 address inside them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why `ip` may not be reached by a plugin, or `None` when it is public.
pub fn non_public_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_reason(v4),
        IpAddr::V6(v6) => v6_reason(v6),
    }
}

/// True when a plugin may reach `ip` without an operator grant.
pub fn is_public(ip: IpAddr) -> bool {
    non_public_reason(ip).is_none()
}

fn v4_reason(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    let reason = match (a, b, c) {
        _ if ip.is_unspecified() => "the unspecified address",
        _ if ip.is_broadcast() => "the broadcast address",
        (0, _, _) => "in 0.0.0.0/8 (this network)",
        (127, _, _) => "a loopback address",
        (10, _, _) => "a private address (RFC 1918)",
        (172, 16..=31, _) => "a private address (RFC 1918)",
        (192, 168, _) => "a private address (RFC 1918)",
        (169, 254, _) => "a link-local address",
        (100, 64..=127, _) => "a shared (CGNAT) address (RFC 6598)",
        (192, 0, 0) => "an IETF protocol address (192.0.0.0/24)",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "a documentation address",
        (198, 18..=19, _) => "a benchmarking address (198.18.0.0/15)",
        (224..=239, _, _) => "a multicast address",
        (240..=255, _, _) => "a reserved address (240.0.0.0/4)",
        _ => return None,
    };
    Some(reason)
}

fn v6_reason(ip: Ipv6Addr) -> Option<&'static str> {
    let segments = ip.segments();
    if ip.is_unspecified() {
        return Some("the unspecified address");
    }
    if ip.is_loopback() {
        return Some("a loopback address");
    }
    if let Some(v4) = embedded_v4(ip) {
        return v4_reason(v4).map(|_| "an IPv6 form of a non-public IPv4 address");
    }
    let reason = match segments[0] {
        s if s & 0xfe00 == 0xfc00 => "a unique-local address (fc00::/7)",
        s if s & 0xffc0 == 0xfe80 => "a link-local address (fe80::/10)",
        s if s & 0xffc0 == 0xfec0 => "a site-local address (fec0::/10)",
        s if s & 0xff00 == 0xff00 => "a multicast address",
        0x2001 if segments[1] == 0x0db8 => "a documentation address (2001:db8::/32)",
        // Teredo tunnels an IPv4 address in obfuscated form: refuse it whole.
        0x2001 if segments[1] == 0 => "a Teredo address (2001::/32)",
        0x0100 if segments[1..4] == [0, 0, 0] => "a discard address (100::/64)",
        // Anything else outside 2000::/3 is not global unicast today.
        s if s & 0xe000 != 0x2000 => "not a global unicast address",
        _ => return None,
    };
    Some(reason)
}

/// The IPv4 address an IPv6 address stands for, where it carries one.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let low = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (compatible, deprecated).
        [0, 0, 0, 0, 0, 0xffff, _, _] | [0, 0, 0, 0, 0, 0, _, _] => Some(low),
        // ::ffff:0:a.b.c.d (SIIT translated).
        [0, 0, 0, 0, 0xffff, 0, _, _] => Some(low),
        // 64:ff9b::a.b.c.d and 64:ff9b:1::/48 (NAT64).
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] | [0x64, 0xff9b, 1, ..] => Some(low),
        // 2002:AABB:CCDD::/48 (6to4).
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8)),
        _ => None,
    }
}

/// Whether a host name is one of the names for the local machine that a
/// resolver answers without asking DNS (`localhost`, `*.localhost`, RFC 6761).
pub fn is_local_name(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost" || host.ends_with(".localhost")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(s: &str) -> bool {
        is_public(s.parse().unwrap())
    }

    #[test]
    fn refuses_every_non_public_v4_range() {
        for ip in [
            "0.0.0.0",
            "0.1.2.3",
            "127.0.0.1",
            "127.255.0.9",
            "10.0.0.5",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.254",
            "224.0.0.1",
            "239.1.2.3",
            "255.255.255.255",
            "240.0.0.1",
            "192.0.2.1",
            "198.18.0.1",
        ] {
            assert!(!public(ip), "{ip} should be refused");
        }
    }

    #[test]
    fn allows_public_v4_next_to_the_ranges() {
        for ip in
            ["8.8.8.8", "1.1.1.1", "172.15.255.255", "172.32.0.1", "100.63.255.255", "100.128.0.1", "93.184.216.34"]
        {
            assert!(public(ip), "{ip} should be allowed");
        }
    }

    #[test]
    fn refuses_non_public_v6_and_v4_in_v6() {
        for ip in [
            "::",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "::ffff:0:192.168.0.1",
            "64:ff9b::7f00:1",
            "2002:7f00:1::",
            "2002:a9fe:a9fe::1",
            "2001:db8::1",
            "2001:0:4136:e378::1",
        ] {
            assert!(!public(ip), "{ip} should be refused");
        }
    }

    #[test]
    fn allows_public_v6_and_public_v4_in_v6() {
        for ip in ["2606:4700:4700::1111", "2a00:1450:4001::200e", "::ffff:8.8.8.8", "64:ff9b::808:808"] {
            assert!(public(ip), "{ip} should be allowed");
        }
    }

    #[test]
    fn local_names() {
        assert!(is_local_name("localhost"));
        assert!(is_local_name("LocalHost."));
        assert!(is_local_name("api.localhost"));
        assert!(!is_local_name("localhost.example.com"));
    }
}
